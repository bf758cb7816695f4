"""Folder ingest: find video and image files under a root, by extension and by sniffing.

Ids derive from the path relative to the root, so ingesting the same folder again gives the
same ids. Nothing found here is fatal: an unreadable directory, a symlink loop or a directory
named like a video becomes a row with `error` set, so it shows up in the run's error table.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa

from vidcurate.core import schema
from vidcurate.core.errors import ConfigError, mark_error
from vidcurate.io.images import IMAGE_EXTS

VIDEO_EXTS = frozenset(
    [
        ".mp4",
        ".m4v",
        ".mov",
        ".mkv",
        ".webm",
        ".avi",
        ".flv",
        ".wmv",
        ".mpg",
        ".mpeg",
        ".m2v",
        ".ts",
        ".m2ts",
        ".mts",
        ".3gp",
        ".3g2",
        ".ogv",
        ".mxf",
        ".vob",
        ".asf",
        ".y4m",
        ".divx",
        ".f4v",
        ".qt",
        ".rm",
        ".rmvb",
        ".dv",
        ".gif",
    ]
)
SNIFF_BYTES = 64


def sniff(head: bytes) -> str | None:
    """Guess 'video' or 'image' from a file's first bytes (for files with no known extension)."""
    if len(head) >= 12 and head[4:8] == b"ftyp":
        brand = head[8:12]
        return "image" if brand in (b"avif", b"heic", b"heix", b"mif1") else "video"
    if head.startswith(b"\x1a\x45\xdf\xa3"):  # EBML: Matroska / WebM
        return "video"
    if head.startswith(b"RIFF") and head[8:12] in (b"AVI ", b"AVIX"):
        return "video"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "image"
    if head.startswith((b"FLV", b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3", b"OggS", b"YUV4MPEG2")):
        return "video"  # Ogg may be audio-only; probe will say so
    if head.startswith((b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"BM")):
        return "image"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "video"
    return None


def _media_for(path: str, name: str) -> str | None:
    ext = os.path.splitext(name)[1].lower()
    if ext in VIDEO_EXTS:
        return "video"
    if ext in IMAGE_EXTS:
        return "image"
    if ext and len(ext) <= 5 and ext[1:].isalpha() and ext not in (".bin", ".dat", ".raw"):
        return None  # a known non-media extension (.txt, .json, .srt...): don't read it
    try:
        with open(path, "rb") as f:
            return sniff(f.read(SNIFF_BYTES))
    except OSError:
        return None


def scan(root: str | Path, *, follow_symlinks: bool = True) -> Iterator[dict[str, Any]]:
    """Yield one manifest row per media file (or per problem) under `root`, in sorted order."""
    root_path = Path(root).resolve()
    source = root_path.name
    visited: set[tuple[int, int]] = set()

    def row(rel: str, full: str, media: str | None, **extra: Any) -> dict[str, Any]:
        return {"id": schema.stable_id(rel), "path": full, "media": media, "source": source, **extra}

    def walk(dir_path: str, rel_dir: str) -> Iterator[dict[str, Any]]:
        try:
            st = os.stat(dir_path)
        except OSError as e:
            yield row(rel_dir or ".", dir_path, None, **mark_error("ingest", "unreadable_dir", f"{e.strerror}"))
            return
        key = (st.st_dev, st.st_ino)
        if key in visited:
            yield row(
                rel_dir,
                dir_path,
                None,
                **mark_error("ingest", "symlink_loop", f"directory {rel_dir} is a symlink loop; not followed"),
            )
            return
        visited.add(key)
        try:
            with os.scandir(dir_path) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as e:
            yield row(
                rel_dir or ".",
                dir_path,
                None,
                **mark_error("ingest", "unreadable_dir", f"cannot list directory {rel_dir or '.'}: {e.strerror}"),
            )
            return
        for entry in entries:
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            try:
                is_link = entry.is_symlink()
                is_dir = entry.is_dir(follow_symlinks=follow_symlinks)
                is_file = entry.is_file(follow_symlinks=follow_symlinks)
            except OSError as e:
                yield row(rel, entry.path, None, **mark_error("ingest", "unreadable", f"{rel}: {e.strerror}"))
                continue
            if is_dir:
                if os.path.splitext(entry.name)[1].lower() in VIDEO_EXTS:
                    yield row(
                        rel,
                        entry.path,
                        "video",
                        **mark_error("ingest", "is_directory", f"{rel} is a directory, not a video file"),
                    )
                if is_link and not follow_symlinks:
                    continue
                yield from walk(entry.path, rel)
            elif is_file:
                media = _media_for(entry.path, entry.name)
                if media is None:
                    continue
                if not os.access(entry.path, os.R_OK):
                    yield row(rel, entry.path, media, **mark_error("ingest", "permission", f"{rel}: not readable"))
                    continue
                yield row(rel, entry.path, media)
            elif is_link:
                yield row(rel, entry.path, None, **mark_error("ingest", "broken_link", f"{rel}: broken symlink"))

    if not root_path.is_dir():
        raise ConfigError(f"input folder {root} does not exist or is not a directory")
    yield from walk(str(root_path), "")


def ingest_table(root: str | Path) -> pa.Table:
    """All rows of `scan` as a table (ingest of one folder fits in memory: paths only)."""
    rows = list(scan(root))
    if not rows:
        return pa.table({"id": pa.array([], pa.string()), "path": pa.array([], pa.string())})
    return schema.from_rows(rows)
