"""Folder ingest: extensions, sniffing, stable ids, and problems as rows."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from vidcurate.core.errors import ConfigError
from vidcurate.io.ingest import ingest_table, sniff


def make_tree(root: Path) -> None:
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "clip.mp4").write_bytes(b"\x00\x00\x00\x18ftypisom" + b"\x00" * 40)
    (root / "a" / "b" / "photo.JPG").write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 20)
    (root / "noext").write_bytes(b"\x1a\x45\xdf\xa3" + b"\x00" * 40)  # Matroska magic
    (root / "notes.txt").write_text("not media")
    (root / "blob").write_bytes(b"random bytes here")
    (root / "dir.mp4").mkdir()
    (root / "dir.mp4" / "inner.webm").write_bytes(b"\x1a\x45\xdf\xa3")


def test_scan_finds_media_by_ext_and_sniff(tmp_path: Path) -> None:
    root = tmp_path / "videos"
    make_tree(root)
    t = ingest_table(root)
    by_rel = {os.path.relpath(p, root): r for p, r in zip(t.column("path").to_pylist(), t.to_pylist(), strict=True)}
    assert set(by_rel) == {"a/clip.mp4", "a/b/photo.JPG", "noext", "dir.mp4", "dir.mp4/inner.webm"}
    assert by_rel["a/b/photo.JPG"]["media"] == "image"
    assert by_rel["noext"]["media"] == "video"
    assert by_rel["dir.mp4"]["error_kind"] == "ingest:is_directory"
    assert by_rel["a/clip.mp4"]["error"] is None


def test_ids_stable_and_relative(tmp_path: Path) -> None:
    make_tree(tmp_path / "v1")
    ids1 = ingest_table(tmp_path / "v1").column("id").to_pylist()
    shutil.copytree(tmp_path / "v1", tmp_path / "elsewhere" / "v2")
    ids2 = ingest_table(tmp_path / "elsewhere" / "v2").column("id").to_pylist()
    assert ids1 == ids2 and len(set(ids1)) == len(ids1)


def test_symlink_loop_and_broken_link_reported(tmp_path: Path) -> None:
    root = tmp_path / "v"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "x.mp4").write_bytes(b"\x00\x00\x00\x18ftypisom")
    os.symlink(root, root / "sub" / "loop")
    os.symlink(root / "gone.mp4", root / "dangling.mp4")
    t = ingest_table(root)
    kinds = t.column("error_kind").to_pylist()
    assert "ingest:symlink_loop" in kinds
    assert "ingest:broken_link" in kinds
    assert sum(1 for p in t.column("path").to_pylist() if p.endswith("x.mp4")) == 1


def test_unreadable_dir_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "v"
    (root / "locked").mkdir(parents=True)
    (root / "ok.mp4").write_bytes(b"\x00\x00\x00\x18ftypisom")
    real = os.scandir

    def fake_scandir(p):  # tests run as root, where chmod cannot deny access
        if str(p).endswith("locked"):
            raise PermissionError(13, "Permission denied")
        return real(p)

    monkeypatch.setattr(os, "scandir", fake_scandir)
    t = ingest_table(root)
    errs = {k: e for k, e in zip(t.column("error_kind").to_pylist(), t.column("error").to_pylist(), strict=True) if k}
    assert errs == {"ingest:unreadable_dir": "ingest: cannot list directory locked: Permission denied"}


def test_missing_root(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        ingest_table(tmp_path / "nope")


def test_sniff() -> None:
    assert sniff(b"\x00\x00\x00\x20ftypmp42") == "video"
    assert sniff(b"\x00\x00\x00\x20ftypavif") == "image"
    assert sniff(b"RIFF\x00\x00\x00\x00AVI LIST") == "video"
    assert sniff(b"\x89PNG\r\n\x1a\n....") == "image"
    assert sniff(b"hello world") is None
