"""Cutting one span of a video into a clip file with the bundled ffmpeg.

Two modes:

* ``reencode`` (default): frame-accurate. ffmpeg seeks to a keyframe shortly before the span
  (``-ss`` before ``-i``, which keeps long files fast), decodes from there, and keeps exactly the
  frames whose timestamps lie in [start_s, end_s) (``-ss``/``-t`` on the output); when the frame
  indices are known the frame count is capped too. libx264 at a CRF, yuv420p, optional target
  fps and shorter-side resize, audio re-encoded to AAC or dropped. ffmpeg applies the display
  rotation to the pixels and writes no rotation into the clip: a phone video is rotated once.
* ``copy``: stream copy, no quality loss, about as fast as the disk. A stream can only start at
  a keyframe, so the span is snapped to keyframes (``outward`` keeps every requested frame plus
  the rest of the GOPs; ``inward`` keeps whole GOPs inside the span) and the row records the span
  actually written. The display rotation travels in the container, as in the source.

The clip is written under a temporary name and renamed (`io.fs.atomic_path`), so a crash never
leaves a half clip that looks whole; the source file is never overwritten. Used by the `cut`
stage and by `export --materialize`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from vidcurate.core.errors import ProbeError, RowError
from vidcurate.core.stage import StageConfig
from vidcurate.io.ffmpeg import FFmpegError, run_ffmpeg
from vidcurate.io.fs import atomic_path
from vidcurate.io.media import container_start_s
from vidcurate.io.packets import keyframes_near
from vidcurate.io.probe import probe_file

Preset = Literal["ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow"]

# Seek points sit this far before a frame's timestamp (never more than a quarter of a frame
# interval), so float rounding in ffmpeg never drops the first frame of a span or keeps the
# first frame after it.
_MARGIN_S = 1e-3
_EPS = 1e-6
# Reencode decodes from a keyframe at least this long before the span (see _reencode_args).
_PREROLL_S = 0.5


class ClipOptions(StageConfig):
    """How a clip is encoded (the `cut` stage's parameters, and `export --materialize`'s)."""

    mode: Literal["reencode", "copy"] = Field(
        "reencode", description="reencode: frame-accurate; copy: stream copy snapped to keyframes"
    )
    crf: int = Field(20, ge=0, le=51, description="reencode: libx264 constant rate factor (lower is better)")
    preset: Preset = Field("veryfast", description="reencode: libx264 speed preset")
    fps: float | None = Field(None, gt=0, description="reencode: resample to this frame rate (default: keep)")
    short_side: int | None = Field(None, ge=16, description="reencode: scale down so the shorter side is this")
    audio: bool = Field(True, description="keep the first audio track (AAC on reencode, copied on copy)")
    audio_kbps: int = Field(128, ge=16, le=512, description="reencode: AAC bit rate")
    snap: Literal["outward", "inward"] = Field(
        "outward", description="copy: widen the span to keyframes, or shrink it to the whole GOPs inside"
    )
    threads: int = Field(2, ge=0, description="threads per ffmpeg process (0: ffmpeg decides)")
    timeout_s: float = Field(600.0, gt=0, description="longest one clip may take")


def cut_clip(
    src: str | Path,
    start_s: float | None,
    end_s: float | None,
    dest: str | Path,
    cfg: ClipOptions,
    *,
    start_frame: int | None = None,
    end_frame: int | None = None,
) -> dict[str, Any]:
    """Write frames [start_s, end_s) of `src` to `dest` (an .mp4); return the clip's facts.

    `start_s`/`end_s` are presentation times as PyAV reports them (None: from the start / to
    the end). The result holds the probe fields of the written file plus `cut_mode` and the
    span of `src` it actually holds: `source_start_s`, `source_end_s`, and `source_start_frame`
    / `source_end_frame` when `start_frame` is known. Raises `RowError` (bad span, unreadable
    source, a destination that is the source) or `FFmpegError`.
    """
    src, dest = Path(src), Path(dest)
    if not src.is_file():
        raise RowError("not_found", f"{src.name}: source file not found")
    if dest.resolve() == src.resolve() or (dest.exists() and os.path.samefile(dest, src)):
        raise RowError("would_overwrite", f"{dest}: refusing to overwrite the source video")
    if start_s is not None and end_s is not None and end_s <= start_s:
        raise RowError("bad_span", f"{src.name}: empty span [{start_s}, {end_s})")
    info = _source_info(src)
    if cfg.mode == "copy":
        span = _keyframe_span(src, start_s, end_s, cfg.snap)
        args = _copy_args(src, info, span)
        first_s, frame0 = span.start_s, (None if start_frame is None else start_frame - span.gained)
    else:
        args = _reencode_args(src, info, start_s, end_s, cfg, start_frame, end_frame)
        first_s, frame0 = (start_s if start_s is not None else info.start_s), start_frame
    facts = _run_to(dest, args, cfg, with_audio=cfg.audio and info.has_audio)
    n, dur = facts.get("num_frames"), facts.get("duration_s")
    if cfg.mode == "copy":
        last = span.end_s if span.end_s is not None else (first_s + dur if dur is not None else None)
    else:
        last = end_s if end_s is not None else (first_s + dur if dur is not None else None)
    if cfg.mode == "reencode" and cfg.fps is not None:
        last_frame = end_frame  # resampled: the clip's frames are not source frames
    else:
        last_frame = frame0 + n if frame0 is not None and n is not None else None
    return {
        **{k: v for k, v in facts.items() if k != "media"},
        "cut_mode": cfg.mode,
        "source_start_s": first_s,
        "source_end_s": last,
        "source_start_frame": frame0,
        "source_end_frame": last_frame,
    }


# --------------------------------------------------------------------------------------- internals


class _SourceInfo:
    """What the command lines need from the source: ffmpeg's time origin and whether it has audio."""

    def __init__(self, start_s: float, has_audio: bool) -> None:
        self.start_s = start_s
        self.has_audio = has_audio


def _source_info(src: Path) -> _SourceInfo:
    try:
        start, has_audio = container_start_s(src)
    except ProbeError as e:
        raise RowError(e.kind, e.message) from None
    return _SourceInfo(start, has_audio)


def _margin(start_s: float | None, end_s: float | None, start_frame: int | None, end_frame: int | None) -> float:
    """How far before a frame's timestamp a seek point or an end limit sits (a quarter frame at most)."""
    if start_s is None or end_s is None or start_frame is None or end_frame is None or end_frame <= start_frame:
        return _MARGIN_S
    return min(_MARGIN_S, 0.25 * (end_s - start_s) / (end_frame - start_frame))


def _even_scale(short_side: int | None) -> str:
    """Scale so the shorter displayed side is at most `short_side`, keeping both sides even."""
    if short_side is None:
        return "scale='trunc(iw/2)*2':'trunc(ih/2)*2'"
    s = int(short_side)
    return f"scale=w='if(lte(iw,ih),2*trunc(min({s},iw)/2),-2)':h='if(lte(iw,ih),-2,2*trunc(min({s},ih)/2))'"


def _reencode_args(
    src: Path,
    info: _SourceInfo,
    start_s: float | None,
    end_s: float | None,
    cfg: ClipOptions,
    start_frame: int | None,
    end_frame: int | None,
) -> list[str]:
    margin = _margin(start_s, end_s, start_frame, end_frame)
    first = start_s - margin if start_s is not None else info.start_s  # keep frames from here on
    seek_in, seek_out = [], []
    if first > info.start_s + _EPS:
        # A fast keyframe seek to a little before the span, then an exact cut by timestamp on the
        # decoded frames. Seeking straight to the span start is not enough: demuxers that seek by
        # decode time (MPEG-TS) land on a keyframe shown after the target when B-frames reorder.
        pre = min(_PREROLL_S, first - info.start_s)
        if first - pre > info.start_s + _EPS:
            seek_in = ["-ss", f"{first - pre - info.start_s:.6f}"]
        seek_out = ["-ss", f"{pre:.6f}"]
    args = ["-threads", str(cfg.threads), *seek_in, "-i", str(src), *seek_out, "-map", "0:v:0"]
    if end_s is not None:
        args += ["-t", f"{end_s - margin - first:.6f}"]  # keeps frames before end_s, not the one at it
    vf = [_even_scale(cfg.short_side)]
    if cfg.fps is not None:
        vf.insert(0, f"fps={cfg.fps:g}")
    else:
        args += ["-fps_mode", "passthrough"]  # keep every frame and its timestamp (VFR stays VFR)
        if start_frame is not None and end_frame is not None:
            args += ["-frames:v", str(end_frame - start_frame)]
    args += ["-vf", ",".join(vf), "-c:v", "libx264", "-crf", str(cfg.crf), "-preset", cfg.preset]
    return [*args, "-pix_fmt", "yuv420p", "-threads", str(cfg.threads), "-sn", "-dn"]


class _KeySpan:
    """A keyframe-aligned span: where a stream copy starts and stops, and what that does to the frames."""

    def __init__(self, start_s: float, end_s: float | None, frames: int, gained: int) -> None:
        self.start_s = start_s  # the keyframe the clip starts at
        self.end_s = end_s  # the keyframe it stops before (None: the end of the stream)
        self.frames = frames  # frames in [start_s, end_s)
        self.gained = gained  # frames added (+) or lost (-) before the requested start


def _keyframe_span(src: Path, start_s: float | None, end_s: float | None, snap: str) -> _KeySpan:
    """Keyframe-aligned span for a stream copy, found by demuxing packets (no decoding)."""
    pts, keys = keyframes_near(src, start_s, end_s)
    if not keys:
        raise RowError("no_keyframe", f"{src.name}: no keyframe found near the span; use mode reencode")
    lo = start_s if start_s is not None else keys[0]
    if snap == "inward":
        k0 = next((k for k in keys if k >= lo - _EPS), None)
        k1 = max((k for k in keys if k <= end_s + _EPS), default=None) if end_s is not None else None
        if k0 is None or (end_s is not None and (k1 is None or k1 <= k0)):
            raise RowError("no_whole_gop", f"{src.name}: no whole GOP lies inside the span; use snap outward")
    else:
        k0 = max((k for k in keys if k <= lo + _EPS), default=keys[0])
        k1 = next((k for k in keys if end_s is not None and k >= end_s - _EPS), None)
    frames = sum(1 for t in pts if t >= k0 - _EPS and (k1 is None or t < k1 - _EPS))
    gained = sum(1 for t in pts if k0 - _EPS <= t < lo - _EPS) - sum(1 for t in pts if lo - _EPS <= t < k0 - _EPS)
    return _KeySpan(k0, k1, frames, gained)


def _copy_args(src: Path, info: _SourceInfo, span: _KeySpan) -> list[str]:
    seek = span.start_s - info.start_s
    # Seek just past the keyframe: the backward keyframe seek then lands exactly on it.
    args = ["-ss", f"{seek + _MARGIN_S:.6f}"] if seek > _EPS else []
    args += ["-i", str(src), "-map", "0:v:0"]
    if span.end_s is not None:
        # -t alone would let through frames that follow the end keyframe in decode order but show
        # before it (B-frames); the frame count stops the video exactly, -t stops the audio.
        args += ["-t", f"{span.end_s - span.start_s:.6f}", "-frames:v", str(span.frames)]
    return [*args, "-c", "copy", "-avoid_negative_ts", "make_zero", "-sn", "-dn"]


def _run_to(dest: Path, args: list[str], cfg: ClipOptions, *, with_audio: bool) -> dict[str, Any]:
    """Run ffmpeg into a temporary sibling of `dest`, check the result, rename it; return its probe.

    A broken audio track must not cost the video: if ffmpeg fails with audio, the clip is made
    without sound. A clip without a single video frame is an error, never a file.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(dest, keep_suffix=True) as tmp:
        tail = ["-movflags", "+faststart", "-f", "mp4", str(tmp)]
        try:
            run_ffmpeg(["-y", *args, *(_audio_args(cfg) if with_audio else ["-an"]), *tail], timeout=cfg.timeout_s)
        except FFmpegError:
            if not with_audio:
                raise
            run_ffmpeg(["-y", *args, "-an", *tail], timeout=cfg.timeout_s)
        try:
            facts = probe_file(tmp, decode_check="none", count_frames="always")
        except RowError as e:
            raise RowError("empty_clip", f"{dest.name}: ffmpeg wrote no usable clip ({e.message})") from None
        if not facts.get("num_frames"):
            raise RowError("empty_clip", f"{dest.name}: the span holds no video frame")
    return facts


def _audio_args(cfg: ClipOptions) -> list[str]:
    if cfg.mode == "copy":
        return ["-map", "0:a:0?"]
    return ["-map", "0:a:0?", "-c:a", "aac", "-b:a", f"{cfg.audio_kbps}k"]
