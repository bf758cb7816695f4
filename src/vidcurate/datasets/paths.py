"""Media paths from annotation files: joined under a root, never escaping it; media written once.

An annotation is untrusted input. A relative path in it may contain ``..``, be absolute, or lead
through a symlink to somewhere else; each of these is a row error, never a file we point at.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from urllib.parse import parse_qs, urlparse

from vidcurate.core.errors import RowError


class PathEscape(RowError):
    """A media path in an annotation leaves the dataset's root."""

    def __init__(self, message: str) -> None:
        super().__init__("unsafe_path", message)


class SafeRoot:
    """Joins annotation paths under one root, rejecting ``..``, absolute paths and symlink escapes.

    Resolved parent folders are cached, so a dataset of millions of rows costs one ``lstat`` per
    row instead of a full ``realpath``.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = os.path.abspath(os.fspath(root))
        self.real = os.path.realpath(self.root)
        self._dirs: dict[str, tuple[bool, bool]] = {}
        self._done: dict[str, str] = {}  # QA datasets name one video in many rows
        self._listed: dict[str, dict[str, dict[str, str]]] = {}  # folder -> stem -> ext (lower) -> ext

    def join_any(self, stem: str, exts: Sequence[str]) -> str:
        """`stem` with the first of `exts` whose file exists (the folder is listed once), else the first.

        Datasets are downloaded by tools that keep whatever container the source had (ActivityNet:
        .mp4, .mkv and .webm side by side), so an annotation's video id alone names the file.
        """
        first = self.join(f"{stem}.{exts[0]}")
        folder, name = os.path.split(first)
        name = name[: -len(exts[0]) - 1]
        found = self._listing(folder).get(name)
        if found:
            for e in exts:
                if e.lower() in found:
                    return self.join(f"{stem}.{found[e.lower()]}")
        return first

    def _listing(self, folder: str) -> dict[str, dict[str, str]]:
        hit = self._listed.get(folder)
        if hit is not None:
            return hit
        out: dict[str, dict[str, str]] = {}
        try:
            with os.scandir(folder) as it:
                for entry in it:
                    stem, dot, ext = entry.name.rpartition(".")
                    if dot and stem:
                        out.setdefault(stem, {})[ext.lower()] = ext
        except OSError:
            pass
        if len(self._listed) > 10_000:
            self._listed.clear()
        self._listed[folder] = out
        return out

    def join(self, rel: str) -> str:
        """The absolute path of `rel` under the root (the file need not exist)."""
        hit = self._done.get(rel) if isinstance(rel, str) else None
        if hit is not None:
            return hit
        full = self._join(rel)
        if len(self._done) > 100_000:
            self._done.clear()
        self._done[rel] = full
        return full

    def _join(self, rel: str) -> str:
        if not isinstance(rel, str) or not rel.strip():
            raise PathEscape(f"empty media path {rel!r}")
        if "\x00" in rel:
            raise PathEscape(f"media path {rel!r} contains a NUL byte")
        parts = rel.replace("\\", "/").split("/")
        if rel[0] in "/\\" or (len(rel) > 1 and rel[1] == ":" and rel[0].isalpha()):
            raise PathEscape(f"media path {rel!r} is absolute; annotation paths must be relative to the root")
        if ".." in parts:
            raise PathEscape(f"media path {rel!r} leaves the root {self.root} ('..')")
        clean = [p for p in parts if p not in ("", ".")]
        if not clean:
            raise PathEscape(f"media path {rel!r} names no file")
        base = self.root.rstrip(os.sep)
        parent = os.sep.join([base, *clean[:-1]])
        full = f"{parent}{os.sep}{clean[-1]}"
        state = self._dirs.get(parent)
        if state is None:  # (inside the root once resolved, exists)
            state = (_inside(os.path.realpath(parent), self.real), os.path.isdir(parent))
            if len(self._dirs) > 200_000:
                self._dirs.clear()
            self._dirs[parent] = state
        if not state[0]:
            raise PathEscape(f"media path {rel!r} leads out of the root {self.root} through a symlink")
        if state[1] and os.path.islink(full) and not _inside(os.path.realpath(full), self.real):
            raise PathEscape(f"media path {rel!r} is a symlink to {os.path.realpath(full)}, outside {self.root}")
        return full


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def safe_name(name: str) -> str:
    """A file name from an annotation, reduced to its last component (no folders, no dots-only)."""
    base = os.path.basename(str(name).replace("\\", "/")).strip()
    if base in ("", ".", "..") or "\x00" in base:
        raise PathEscape(f"unusable file name {name!r}")
    return base


def youtube_id(url: str | None) -> str | None:
    """The ``v=`` id of a YouTube watch URL (or the path of a youtu.be link)."""
    if not url:
        return None
    u = urlparse(url.strip())
    if u.netloc.endswith("youtu.be"):
        return u.path.strip("/") or None
    v = parse_qs(u.query).get("v")
    return v[0] if v else None


def watch_url(video_id: str) -> str:
    """The YouTube page of a video id (what `download` hands to yt-dlp)."""
    return f"https://www.youtube.com/watch?v={video_id}"
