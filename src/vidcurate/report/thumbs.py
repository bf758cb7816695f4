"""Thumbnail strips (a few frames per clip side by side) from the decode-once sampler, cached on disk.

The report embeds them and the viewer serves them, so both read one cache under the run folder:
`RUN_DIR/thumbs/<id>-<key>.jpg`, where the key hashes the id, the file (path, size, mtime), the span
and the strip's size. A changed span or file gives a new key; nothing is ever decoded twice. A clip
that cannot be decoded leaves a `.err` file with the reason, so it is not retried on every request.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

from vidcurate.core import schema
from vidcurate.core.errors import VidcurateError
from vidcurate.core.frames import FrameSpec
from vidcurate.io import decode
from vidcurate.io.fs import atomic_path
from vidcurate.io.images import encode_jpeg, is_image_path, read_image
from vidcurate.io.runfolder import RunFolder

FRAMES = 3  # frames per strip
MAX_SIDE = 160  # longer side of each frame, pixels
JPEG_QUALITY = 82
# Longer spans are sampled with one short decode per frame (keyframe seek) instead of one pass over
# the whole span: three frames of an hour-long video must not cost decoding the hour.
LONG_SPAN_S = 20.0
WINDOW_S = 1.0
KEYFRAMES_FROM_S = 2.0  # spans longer than this try key frames first


@dataclass(frozen=True)
class Clip:
    """What a thumbnail needs to know about one manifest row."""

    id: str
    path: str
    start_s: float | None = None
    end_s: float | None = None
    duration_s: float | None = None
    media: str | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Clip:
        def num(key: str) -> float | None:
            v = row.get(key)
            return float(v) if isinstance(v, (int, float)) and v == v else None

        return cls(
            id=str(row["id"]),
            path=str(row.get("path") or ""),
            start_s=num("start_s"),
            end_s=num("end_s"),
            duration_s=num("duration_s"),
            media=row.get("media"),
        )


@dataclass(frozen=True)
class Thumb:
    """A strip (JPEG bytes) or, when the clip could not be decoded, the reason."""

    jpeg: bytes | None
    error: str | None = None
    path: Path | None = None  # the cache file, when cached


def sample_frames(
    path: str | Path,
    *,
    start_s: float | None = None,
    end_s: float | None = None,
    duration_s: float | None = None,
    n: int = FRAMES,
    max_side: int = MAX_SIDE,
    long_span_s: float = LONG_SPAN_S,
    from_keyframes: bool = True,
) -> list[tuple[float, np.ndarray]]:
    """`n` RGB frames spread over the span, as (time_s, frame); empty when nothing decodes.

    A span of 2 to 20 s holding at least `n` key frames shows key frames spread over it: only they
    are decoded (an eighth of a full decode on x264 files with 2-second GOPs, `bench/split_bench.py`).
    Otherwise the frames nearest the `n` evenly spaced targets: one pass over a short span, one
    short seek per frame over a long one (cheaper than reading a long span's key frames, and
    bounded for all-intra files where every frame is a key frame).
    """
    spec = FrameSpec(num=n, max_side=max_side)
    start = float(start_s or 0.0)
    end = decode.span_end(path, end_s, duration_s)
    if from_keyframes and end is not None and KEYFRAMES_FROM_S < end - start <= long_span_s:
        keys = decode.sample(path, {"k": FrameSpec(keyframes=True, max_side=max_side)}, start_s=start_s, end_s=end)["k"]
        if len(keys) >= n:
            pick = [min(len(keys) - 1, int((i + 0.5) * len(keys) / n)) for i in range(n)]
            return [(float(keys.times_s[i]), keys.data[i]) for i in pick]
    if end is None or end - start <= long_span_s:
        got = decode.sample(path, {"t": spec}, start_s=start_s, end_s=end_s, duration_s=duration_s)["t"]
        return [(float(t), got.data[i]) for i, t in enumerate(got.times_s)]
    out = []
    step = (end - start) / n
    one = FrameSpec(num=1, max_side=max_side)
    for i in range(n):
        target = start + (i + 0.5) * step  # the same targets as one pass would pick
        half = min(WINDOW_S / 2, target)  # a window centred on the target: num=1 picks its middle
        got = decode.sample(path, {"t": one}, start_s=target - half, end_s=target + half)["t"]
        out += [(float(tt), got.data[k]) for k, tt in enumerate(got.times_s)]
    return out


def strip(frames: list[np.ndarray]) -> np.ndarray:
    """Frames side by side (all at the height of the first; widths kept in proportion)."""
    h = frames[0].shape[0]
    parts = [f if f.shape[0] == h else cv2.resize(f, (max(2, round(f.shape[1] * h / f.shape[0])), h)) for f in frames]
    return np.concatenate(parts, axis=1)


def make_strip(clip: Clip, *, n: int = FRAMES, max_side: int = MAX_SIDE) -> bytes:
    """Decode the clip (or read the image) and return the strip as JPEG; raises on unreadable media."""
    if not clip.path:
        raise VidcurateError("the row has no path")
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", clip.path):
        raise VidcurateError(f"{clip.path}: remote media get no thumbnail (nothing is fetched)")
    p = Path(clip.path)
    if clip.media == "image" or is_image_path(p):
        return encode_jpeg(read_image(p, max_side=max_side), JPEG_QUALITY)
    frames = sample_frames(
        p, start_s=clip.start_s, end_s=clip.end_s, duration_s=clip.duration_s, n=n, max_side=max_side
    )
    if not frames:
        raise VidcurateError(f"{p.name}: no frame could be decoded in the span")
    return encode_jpeg(strip([f for _, f in frames]), JPEG_QUALITY)


def cache_name(clip: Clip, n: int = FRAMES, max_side: int = MAX_SIDE) -> str:
    """File name in the cache: a readable id prefix plus a key over id, file, span and size."""
    try:
        st = Path(clip.path).stat()
        file_key: tuple = (st.st_size, st.st_mtime_ns)
    except OSError:
        file_key = (None, None)
    key = schema.stable_id(clip.id, clip.path, *file_key, clip.start_s, clip.end_s, n, max_side, length=12)
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", clip.id)[:40].lstrip(".") or "row"
    return f"{safe}-{key}"


def thumbnail(clip: Clip, run_dir: str | Path | None, *, n: int = FRAMES, max_side: int = MAX_SIDE) -> Thumb:
    """The clip's strip, from the cache under `run_dir/thumbs` when there, else made and cached.

    A read-only run folder still works: the strip is made and returned, just not kept.
    """
    cache = RunFolder(run_dir).output_dir("thumbs") if run_dir is not None else None
    name = cache_name(clip, n, max_side)
    if cache is not None:
        jpg, err = cache / f"{name}.jpg", cache / f"{name}.err"
        if jpg.is_file():
            return Thumb(jpg.read_bytes(), path=jpg)
        if err.is_file():
            return Thumb(None, error=err.read_text(errors="replace").strip())
    try:
        data = make_strip(clip, n=n, max_side=max_side)
    except (VidcurateError, OSError, ValueError, av.error.FFmpegError, cv2.error) as e:  # ProbeError included
        msg = getattr(e, "message", None) or str(e) or type(e).__name__
        _store(cache, f"{name}.err", msg.encode())
        return Thumb(None, error=msg)
    return Thumb(data, path=_store(cache, f"{name}.jpg", data))


def _store(cache: Path | None, name: str, data: bytes) -> Path | None:
    if cache is None:
        return None
    try:
        with atomic_path(cache / name) as tmp:
            tmp.write_bytes(data)
            tmp.chmod(0o644)
    except OSError:
        return None
    return cache / name
