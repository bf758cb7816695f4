"""The default recipe end to end on real, synthetic and broken files: nothing crashes the run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import stagekit
from vidcurate.core.recipe import load_recipe
from vidcurate.engines.local import LocalEngine
from vidcurate.io.runfolder import RunSummary
from vidcurate.testing import synth

REPO = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent


def default_run(inp: Path, out: Path, workers: int) -> RunSummary:
    return LocalEngine(load_recipe(REPO / "recipes" / "default.yaml"), out, workers=workers, progress=False).run(inp)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("corpus") / "videos"
    good = synth.scenes(root / "good" / "scenes.mp4", cuts=(24,), num_frames=48)
    synth.static(root / "good" / "vidéo d'été 日本.mp4", num_frames=30)
    synth.moving_box(root / "good" / "box.mkv", num_frames=30)
    bad = root / "bad"
    bad.mkdir()
    (bad / "zero.mp4").write_bytes(b"")
    (bad / "text.mp4").write_text("hello, I am not a video\n")
    data = good.path.read_bytes()
    (bad / "truncated.mp4").write_bytes(data[: len(data) // 3])
    (bad / "folder.mp4").mkdir()
    (bad / "locked.mp4").write_bytes(data)
    return root


def test_default_recipe_on_bad_inputs(corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_access = os.access
    # Tests run as root, where chmod 000 does not stop reading: make access() say no for one file.
    monkeypatch.setattr(os, "access", lambda p, m, **k: not str(p).endswith("locked.mp4") and real_access(p, m, **k))
    summary = default_run(corpus, tmp_path / "run", workers=1)
    kept = {Path(r["source_path"]).name: r for r in pq.read_table(summary.manifest).to_pylist()}  # path: the clip
    rejected = {Path(r["path"]).name: r for r in pq.read_table(summary.rejected).to_pylist()}
    assert set(kept) == {"scenes.mp4", "vidéo d'été 日本.mp4", "box.mkv"}
    assert kept["vidéo d'été 日本.mp4"]["num_frames"] == 30 and kept["scenes.mp4"]["width"] == 320
    kinds = {name: r["error_kind"] for name, r in rejected.items()}
    assert kinds == {
        "zero.mp4": "probe:empty",
        "text.mp4": "probe:invalid_data",
        "truncated.mp4": "probe:truncated",
        "folder.mp4": "ingest:is_directory",
        "locked.mp4": "ingest:permission",
    }
    for r in rejected.values():
        assert r["reject_reason"].startswith("error: ") and r["error"] and "\n" not in r["error"]
    assert rejected["zero.mp4"]["error"].startswith("probe: ")


def test_shared_videos_probe_without_crash(shared_videos: Path, tmp_path: Path) -> None:
    summary = default_run(shared_videos, tmp_path / "run", workers=2)
    rows = pq.read_table(summary.manifest).to_pylist() + pq.read_table(summary.rejected).to_pylist()
    by = {Path(r.get("source_path") or r["path"]).name: r for r in rows}  # clips name their video in source_path
    assert len(by) == len([p for p in shared_videos.iterdir() if p.suffix != ".md"])
    assert all(r["error"] is None for r in by.values()), [r["error"] for r in by.values() if r["error"]]
    assert by["16_dec_video_90.mov"]["reject_reason"] == "duration_s >= 1.0 (dmin)"
    probed = {
        Path(r["path"]).name: r
        for p in sorted((tmp_path / "run" / "01-probe").glob("part-*.parquet"))
        for r in pq.read_table(p).to_pylist()
    }  # what probe saw, before split and cut
    assert probed["17_dec_corrupted.mp4"]["num_frames"] == 50
    fire = probed["10_mpy_fire2.mp4"]
    assert (fire["rotation"], fire["vfr"]) in {(180, True), (-180, True)}


def test_kill_9_with_real_probe(corpus: Path, tmp_path: Path) -> None:
    """SIGKILL mid-run, rerun: the manifest equals an uninterrupted run's, value for value."""
    inp = tmp_path / "in"
    shutil.copytree(corpus / "good", inp)
    for i in range(5):
        synth.static(inp / f"more_{i}.mp4", num_frames=12 + i, size=(160 + 16 * i, 96))
    shutil.copy(corpus / "bad" / "text.mp4", inp / "text.mp4")
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        "stages:\n  - probe: {decode_check: full}\n  - test.digest: {sleep_s: 0.2}\n  - filter: {drop_errors: true}\n"
    )
    env = {
        **os.environ,
        "VIDCURATE_STAGES": stagekit.STAGES,
        "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
    }
    cmd = [
        sys.executable,
        "-m",
        "vidcurate.cli",
        "run",
        str(recipe),
        "--input",
        str(inp),
        "--workers",
        "2",
        "--shard-size",
        "1",
        "--no-progress",
    ]
    clean = subprocess.run([*cmd, "--out", str(tmp_path / "clean")], env=env, capture_output=True, text=True)
    assert clean.returncode == 0, clean.stderr
    out = tmp_path / "killed"
    assert 3 <= stagekit.kill_mid_stage([*cmd, "--out", str(out)], env, out / "02-test.digest", 3) < 9
    again = subprocess.run([*cmd, "--out", str(out)], env=env, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    a = pq.read_table(out / "manifest.parquet")
    b = pq.read_table(tmp_path / "clean" / "manifest.parquet")
    assert a.num_rows == 8 and a.equals(b)
    assert pq.read_table(out / "rejected.parquet").equals(pq.read_table(tmp_path / "clean" / "rejected.parquet"))
