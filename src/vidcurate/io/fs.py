"""Writing files so that a crash never leaves half of one under its final name.

Every file vidcurate writes (manifests, part files, clips, thumbnails, exports) goes through
`atomic_path` or `atomic_open`: the bytes go to a temporary sibling whose name carries `TMP_MARK`,
and a rename publishes them only when the block succeeds. `durable=True` also flushes the file and
its folder to disk before and after the rename (part files: the rename is the commit of a shard,
and must not be lost with a power cut). Temp files of a killed process are found again by their
mark (`clean_temp`), so a resumed run removes them without touching anything else.

Finished files get the mode a plain `open()` would give (mkstemp's 0600 would hide outputs from the
rest of a team). `write_once` is the other publication rule: never replace an existing file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import IO

from vidcurate.core.errors import RowError

TMP_MARK = ".vctmp-"  # in every temp name we create; nothing else in a run folder carries it


@cache
def umask() -> int:
    """The process umask, read once (from /proc where possible: os.umask would briefly change it)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def publish_mode(tmp: str | os.PathLike[str], like: str | os.PathLike[str] | None = None) -> None:
    """Give a finished temp file the mode of the file it replaces, or the umask default."""
    try:
        mode = os.stat(like).st_mode & 0o7777 if like is not None and os.path.exists(like) else 0o666 & ~umask()
        os.chmod(tmp, mode)
    except OSError:
        pass


def temp_sibling(dest: Path, *, keep_suffix: bool = False) -> Path:
    """A new, empty temp file beside `dest`, named `.<name>.vctmp-XXXX[.suffix]`."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    suffix = dest.suffix if keep_suffix else ".tmp"
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}{TMP_MARK}", suffix=suffix, dir=dest.parent)
    os.close(fd)
    return Path(tmp)


def fsync_path(path: str | os.PathLike[str], *, directory: bool = False) -> None:
    """Flush a file (or a folder's entries) to disk; folders that cannot be opened are skipped."""
    flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        if directory:
            return
        raise
    try:
        os.fsync(fd)
    except OSError:
        if not directory:
            raise
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(
    path: str | os.PathLike[str], *, keep_suffix: bool = False, durable: bool = False, keep_mode: bool = False
) -> Iterator[Path]:
    """Yield a temp path beside `path`; rename it onto `path` only if the block succeeds.

    `keep_suffix` ends the temp name with the destination's extension, for writers such as
    ffmpeg that choose a format by it. `durable` fsyncs the file before the rename and the folder
    after it. `keep_mode` gives the new file the mode of the one it replaces.
    """
    dest = Path(path)
    tmp = temp_sibling(dest, keep_suffix=keep_suffix)
    try:
        yield tmp
        publish_mode(tmp, like=dest if keep_mode else None)
        if durable:
            fsync_path(tmp)
        os.replace(tmp, dest)
        if durable:
            fsync_path(dest.parent, directory=True)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


@contextlib.contextmanager
def atomic_open(
    path: str | os.PathLike[str], mode: str = "w", *, encoding: str | None = "utf-8", newline: str | None = None
) -> Iterator[IO[str]]:
    """`open()` for writing, published atomically when the block succeeds (text by default)."""
    binary = "b" in mode
    with (
        atomic_path(path) as tmp,
        open(tmp, mode, encoding=None if binary else encoding, newline=None if binary else newline) as f,
    ):
        yield f


def clean_temp(folder: str | os.PathLike[str], *, recursive: bool = False) -> int:
    """Remove temp files a killed writer left in `folder` (only names carrying `TMP_MARK`)."""
    d = Path(folder)
    if not d.is_dir():
        return 0
    n = 0
    for p in d.rglob(f".*{TMP_MARK}*") if recursive else d.glob(f".*{TMP_MARK}*"):
        if p.is_file() or p.is_symlink():
            p.unlink(missing_ok=True)
            n += 1
    return n


def write_once(dest: str | os.PathLike[str], data: bytes | IO[bytes]) -> bool:
    """Write bytes to `dest` unless it exists; never overwrite a different file.

    Returns True when written, False when an identical file was already there. Raises RowError
    (kind ``exists``) when a different file holds the name. The write goes through a temp file and
    a no-replace link, so a killed run leaves no half file and two writers never clobber each other.
    """
    dest = Path(dest)
    blob = data if isinstance(data, bytes) else data.read()
    if dest.exists() or dest.is_symlink():
        if dest.is_file() and dest.stat().st_size == len(blob) and file_sha1(dest) == hashlib.sha1(blob).hexdigest():
            return False
        raise RowError("exists", f"{dest} already exists with different content; not overwritten")
    tmp = temp_sibling(dest)
    try:
        tmp.write_bytes(blob)
        publish_mode(tmp)
        try:
            os.link(tmp, dest)  # fails if dest appeared meanwhile: no overwrite, ever
        except FileExistsError:
            raise RowError("exists", f"{dest} appeared while writing; not overwritten") from None
        except OSError:  # a filesystem without hard links: check, then rename
            if dest.exists():
                raise RowError("exists", f"{dest} appeared while writing; not overwritten") from None
            os.replace(tmp, dest)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    return True


def file_sha1(path: str | os.PathLike[str]) -> str:
    """SHA-1 of a file's bytes, read in 1 MiB chunks."""
    h = hashlib.sha1()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
