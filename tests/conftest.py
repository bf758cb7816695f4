"""Shared fixtures: the real test videos in ../shared/data and a per-test work dir.

`../shared` is read-only for the suite: caches go to a temp folder (Hugging Face's included), and
a session that leaves anything new or changed in `../shared` fails, naming what it wrote.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
SHARED_VIDEOS = SHARED / "videos"
SHARED_ANNOTATIONS = SHARED / "annotations"


def shared_video(name: str) -> Path:
    """Path of a real test video; skips (with the reason) when the shared folder is absent."""
    p = SHARED_VIDEOS / name
    if not p.exists():
        pytest.skip(f"shared test video {p} not present (expected ../shared/data/videos beside the repo)")
    return p


@pytest.fixture
def shared_videos() -> Path:
    if not SHARED_VIDEOS.is_dir():
        pytest.skip(f"shared test videos not present at {SHARED_VIDEOS}")
    return SHARED_VIDEOS


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    if not root.is_dir():
        return {}
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            try:
                st = os.lstat(p)
            except OSError:
                continue
            out[p] = (st.st_size, st.st_mtime_ns)
    return out


_SHARED_BEFORE: dict[str, tuple[int, int]] = {}


def pytest_sessionstart(session: pytest.Session) -> None:
    cache = tempfile.mkdtemp(prefix="vidcurate-test-cache-")
    for var in ("HF_HOME", "HF_DATASETS_CACHE", "XDG_CACHE_HOME"):
        os.environ[var] = os.path.join(cache, var.lower())
    os.environ["VIDCURATE_CACHE"] = os.path.join(cache, "llm")
    os.environ["HF_HUB_OFFLINE"] = "1"  # no test downloads; models come from tiny local checkpoints
    _SHARED_BEFORE.update(_snapshot(SHARED.parent))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    after = _snapshot(SHARED.parent)
    changed = sorted(p for p in after.keys() | _SHARED_BEFORE.keys() if after.get(p) != _SHARED_BEFORE.get(p))
    if changed:
        shown = "\n  ".join(changed[:20])
        print(f"\nthe test session wrote into ../shared (it must stay read-only):\n  {shown}")
        session.exitstatus = 1


def cli_inprocess(*args: str) -> subprocess.CompletedProcess[str]:
    """`vidcurate ARGS` in this process (the real entry point, minus the interpreter start-up)."""
    from vidcurate.cli import main

    out, err, argv = io.StringIO(), io.StringIO(), sys.argv
    sys.argv = ["vidcurate", *args]
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            main()
    except SystemExit as e:
        code = int(e.code or 0)
    finally:
        sys.argv = argv
    return subprocess.CompletedProcess(list(args), code, out.getvalue(), err.getvalue())
