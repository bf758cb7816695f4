"""Opening media files: the one place a path becomes a PyAV container.

Only regular files are opened: a FIFO or a device would make FFmpeg block forever (or read a
disk), so it is a row error before FFmpeg sees it. Every failure becomes one `ProbeError` with a
short kind and a one-line message naming the file.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import av
import av.error

from vidcurate.core.errors import ProbeError
from vidcurate.core.frames import DecodeStats


def check_file(path: str | os.PathLike[str]) -> int:
    """Fail fast, with a precise kind, on what does not need FFmpeg to find out. Returns the size."""
    p = Path(os.fspath(path))
    name = p.name or str(p)
    try:
        st = p.stat()
    except (FileNotFoundError, NotADirectoryError):
        raise ProbeError("not_found", f"{name}: file not found ({p})") from None
    except PermissionError:
        raise ProbeError("permission", f"{name}: permission denied (cannot access {p})") from None
    except OSError as exc:
        raise ProbeError("probe_failed", f"{name}: cannot stat file ({exc.strerror or exc})") from None
    if stat.S_ISDIR(st.st_mode):
        raise ProbeError("is_directory", f"{name}: is a directory, not a media file")
    if not stat.S_ISREG(st.st_mode):
        raise ProbeError("invalid_data", f"{name}: not a regular file (a pipe, socket or device is never opened)")
    if not os.access(p, os.R_OK):
        raise ProbeError("permission", f"{name}: no read permission")
    if st.st_size == 0:
        raise ProbeError("empty", f"{name}: file is empty (0 bytes)")
    return st.st_size


def ffmpeg_words(exc: BaseException) -> str:
    """FFmpeg's reason without the errno number and file path PyAV wraps around it."""
    words = getattr(exc, "strerror", None)
    return str(words) if words else (str(exc) or type(exc).__name__)


def translate(exc: Exception, p: Path, size: int) -> ProbeError:
    """Map an av.error / OSError / anything else to one ProbeError kind with a one-line message."""
    name = p.name or str(p)
    if isinstance(exc, ProbeError):
        return exc
    if isinstance(exc, FileNotFoundError):
        return ProbeError("not_found", f"{name}: file disappeared while probing")
    if isinstance(exc, IsADirectoryError):
        return ProbeError("is_directory", f"{name}: is a directory, not a media file")
    if isinstance(exc, PermissionError):
        return ProbeError("permission", f"{name}: permission denied while reading")
    if isinstance(exc, av.error.InvalidDataError | av.error.DemuxerNotFoundError):
        if mp4_cut_short(p, size):
            return ProbeError(
                "truncated",
                f"{name}: MP4/MOV file is cut short: a box runs past the end of the file "
                "and the index (moov) is missing, so nothing can be read",
            )
        return ProbeError("invalid_data", f"{name}: not a readable media file ({ffmpeg_words(exc)})")
    if isinstance(exc, av.error.FFmpegError):
        return ProbeError("invalid_data", f"{name}: FFmpeg cannot read the file ({ffmpeg_words(exc)})")
    if isinstance(exc, OSError):
        return ProbeError("probe_failed", f"{name}: read error ({ffmpeg_words(exc)})")
    words = str(exc).replace("\n", " ")
    return ProbeError("probe_failed", f"{name}: probe failed ({type(exc).__name__}: {words})")


def mp4_cut_short(p: Path, size: int) -> bool:
    """True for an ISO-BMFF file whose top-level boxes run past EOF (or stop, open-ended, before a moov).

    That is the signature of a recording or download cut short with the index (moov) at the end:
    FFmpeg only says "invalid data", but the user needs to hear "truncated".
    """
    try:
        with open(p, "rb") as f:
            if f.read(8)[4:8] != b"ftyp":
                return False
            off, seen = 0, set[bytes]()
            while off + 8 <= size:
                f.seek(off)
                hdr = f.read(16)
                box = int.from_bytes(hdr[:4], "big")
                kind = hdr[4:8]
                if len(kind) < 4 or not all(32 <= c < 127 for c in kind):
                    return False  # not a box at all: garbage, not a cut
                if box == 1 and len(hdr) == 16:
                    box = int.from_bytes(hdr[8:16], "big")
                elif box == 0:  # box runs to EOF: fine if the index came before it
                    return b"moov" not in seen and kind != b"moov"
                if box < 8:
                    return False
                if off + box > size:
                    return True
                seen.add(kind)
                off += box
    except OSError:
        return False
    return False


def raw_open(p: Path) -> Any:
    """`av.open` for reading, metadata decoding errors replaced (no checks, no translation)."""
    return av.open(str(p), mode="r", metadata_errors="replace")


def open_container(path: str | os.PathLike[str]) -> Any:
    """A PyAV input container for a regular file; every failure is a `ProbeError`."""
    p = Path(os.fspath(path))
    size = check_file(p)
    try:
        return raw_open(p)
    except Exception as exc:
        raise translate(exc, p, size) from None


@contextmanager
def open_video(path: str | os.PathLike[str], stats: DecodeStats | None = None) -> Iterator[tuple[Any, Any]]:
    """A file's first video stream, set up for threaded decoding: `(container, stream)`."""
    container = open_container(path)
    if stats is not None:
        stats.opens += 1
    try:
        if not container.streams.video:
            raise ProbeError("no_video_stream", f"{Path(path).name}: no video stream")
        vs = container.streams.video[0]
        vs.thread_type = "AUTO"
        yield container, vs
    finally:
        container.close()


def nominal_fps(path: str | os.PathLike[str]) -> float:
    """The stream's average (else guessed) frame rate; 25 when the file gives none."""
    with open_video(path) as (_, vs):
        rate = vs.average_rate or vs.guessed_rate
        return float(rate) if rate else 25.0


def container_start_s(path: str | os.PathLike[str]) -> tuple[float, bool]:
    """(the container's start time in seconds, whether it has audio): ffmpeg's -ss counts from it."""
    with open_video(path) as (c, _):
        start = c.start_time / 1e6 if c.start_time is not None else 0.0
        return start, bool(c.streams.audio)
