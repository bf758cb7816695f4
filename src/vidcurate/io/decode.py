"""Decode a video span once with PyAV and hand out frames in the shapes callers asked for.

`iter_frames` streams every decoded frame of a span (threaded decode, keyframe seek, corrupt
packets skipped and counted) without converting anything. `sample` runs it once for a set of
`FrameSpec`s, converts only the frames some spec selects, shares conversions between specs
with the same size/colour, applies the display rotation, and returns read-only arrays. A spec with
`motion_vectors` also gets the codec's motion vectors of every decoded frame, summarised
(`CodecMotion`), from the same pass.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import av
import av.error
import cv2
import numpy as np

from vidcurate.core.errors import ProbeError
from vidcurate.core.frames import CodecMotion, DecodeStats, Frames, FrameSpec
from vidcurate.io import heap
from vidcurate.io.media import open_video
from vidcurate.io.packets import demux_from

_DECODE_ERRORS = (av.error.FFmpegError,)  # a bad packet: skip it, count it
# A frame whose side data (motion vectors) was read holds a reference cycle in PyAV (frame <->
# side-data container): it is freed only by a full garbage collection, and until then its picture
# buffers stay allocated. Measured on 720p: 6 clips of 300 frames grew a process from 271 to 741 MB;
# collecting every 25 frames kept it at 92 MB.
MV_COLLECT_EVERY = 32
KEY_REORDER = 3  # key frames past the span's end read before a key-frame-only decode stops


@dataclass
class Decoded:
    """One decoded frame and where it sits: `time_s` from the file start, `index` in the span."""

    frame: av.VideoFrame
    time_s: float
    index: int
    key: bool
    rotation: int
    mv: np.ndarray | None = None  # (2, 4) motion-vector summary (past, future) when asked for and present


def iter_frames(
    path: str | Path,
    *,
    start_s: float | None = None,
    end_s: float | None = None,
    stats: DecodeStats | None = None,
) -> Iterator[Decoded]:
    """Every decodable frame with start_s <= time < end_s, in presentation order.

    Seeks to the keyframe before `start_s` (`io.packets.demux_from`, which never lands after it);
    a packet the decoder rejects is counted in `stats.errors` and skipped. Frames without a
    timestamp get one from the previous frame.
    """
    return _decode(path, start_s=start_s, end_s=end_s, stats=stats)


def _decode(
    path: str | Path,
    *,
    start_s: float | None = None,
    end_s: float | None = None,
    stats: DecodeStats | None = None,
    motion_vectors: bool = False,
    keyframes_only: bool = False,
) -> Iterator[Decoded]:
    """`iter_frames`, optionally exporting motion vectors (slice threads only: deterministic), or
    decoding key frames only (FFmpeg discards the other packets unread: a small share of the work)."""
    stats = stats if stats is not None else DecodeStats()
    with open_video(path, stats) as (container, vs):
        if keyframes_only:
            vs.codec_context.skip_frame = "NONKEY"
        if motion_vectors:
            vs.thread_type = "SLICE"  # frame threads export vectors that differ between runs
            vs.codec_context.options = {**vs.codec_context.options, "flags2": "+export_mvs"}
        rate = float(vs.average_rate or vs.guessed_rate or 25)
        start = float(start_s or 0.0)
        index, last_t, past = 0, None, 0
        for packet in demux_from(container, vs, start):
            stats.packets += packet.size > 0
            try:
                frames = packet.decode()
            except _DECODE_ERRORS as e:
                stats.errors += 1
                stats.error_times.append(float(packet.pts * packet.time_base) if packet.pts is not None else None)
                if len(stats.messages) < 5:
                    stats.messages.append(f"packet at {packet.pts}: {e}")
                continue
            for frame in frames:
                stats.frames += 1
                t = frame.time if frame.pts is not None else (last_t + 1 / rate if last_t is not None else 0.0)
                last_t = t
                if t < start - 1e-6:
                    continue
                if end_s is not None and t >= end_s - 1e-6:
                    if not keyframes_only:
                        return
                    # open-GOP files give key frames out of order when the others are skipped:
                    # a key frame past the end does not mean the earlier ones were all seen
                    past += 1
                    if past > KEY_REORDER:
                        return
                    continue
                mv = None
                if motion_vectors:
                    mv = _mv_summary(frame)
                    if stats.frames % MV_COLLECT_EVERY == 0:
                        heap.collect_cycles()
                rotation = int(getattr(frame, "rotation", 0) or 0)
                yield Decoded(frame, float(t), index, bool(frame.key_frame), rotation, mv)
                index += 1


def _mv_summary(frame: av.VideoFrame) -> np.ndarray | None:
    """Per reference direction: block area, and area-weighted sums of |v|, v_x, v_y (pixels)."""
    side = frame.side_data.get("MOTION_VECTORS")
    if side is None:
        return None
    out = np.zeros((2, 4), np.float64)
    a = side.to_ndarray()
    if not len(a):
        return out
    scale = np.maximum(a["motion_scale"], 1).astype(np.float64)
    vx, vy = a["motion_x"] / scale, a["motion_y"] / scale
    area = a["w"].astype(np.float64) * a["h"]
    for row, mask in enumerate((a["source"] < 0, a["source"] > 0)):
        w = area[mask]
        out[row] = (w.sum(), (w * np.hypot(vx[mask], vy[mask])).sum(), (w * vx[mask]).sum(), (w * vy[mask]).sum())
    return out


def output_size(width: int, height: int, spec: FrameSpec) -> tuple[int, int]:
    """Size of a converted frame (already rotated dims in, rotated dims out); never upscales."""
    if spec.width is not None and spec.width < width:
        return spec.width, max(2, round(height * spec.width / width))
    if spec.max_side is not None and max(width, height) > spec.max_side:
        s = spec.max_side / max(width, height)
        return max(2, round(width * s)), max(2, round(height * s))
    return width, height


def convert(d: Decoded, spec: FrameSpec) -> np.ndarray:
    """The frame at the spec's size and colour, upright (display rotation applied)."""
    f = d.frame
    quarter = round(d.rotation / 90) % 4
    w, h = (f.height, f.width) if quarter % 2 else (f.width, f.height)
    ow, oh = output_size(w, h, spec)
    cw, ch = (oh, ow) if quarter % 2 else (ow, oh)  # size before rotating
    if spec.gray:
        img = luma(f)
        if (cw, ch) != (f.width, f.height):
            img = cv2.resize(img, (cw, ch), interpolation=cv2.INTER_AREA)
    else:
        img = f.to_ndarray(width=cw, height=ch, format="rgb24", interpolation="BILINEAR")
    if quarter:
        img = np.rot90(img, k=quarter)
    return np.ascontiguousarray(img)


def luma(f: av.VideoFrame) -> np.ndarray:
    """The Y plane without a colour conversion when the format is planar YUV."""
    if f.format.name.startswith(("yuv", "yuvj", "nv12", "nv21", "gray")):
        plane = f.planes[0]
        buf = np.frombuffer(memoryview(plane), np.uint8).reshape(-1, plane.line_size)
        return buf[: f.height, : f.width]
    return f.to_ndarray(format="gray")


def span_end(path: str | Path, end_s: float | None, duration_s: float | None) -> float | None:
    """The end of a span: given, else the known duration, else the container's."""
    if end_s is not None:
        return end_s
    if duration_s is not None:
        return duration_s
    try:
        with open_video(path) as (container, vs):
            if container.duration:
                return container.duration / 1e6
            if vs.duration and vs.time_base:
                return float(vs.duration * vs.time_base)
    except ProbeError:
        return None
    return None


class _Selector:
    """Decides, frame by frame, whether a spec wants the frame (first frame at/after each target)."""

    def __init__(self, spec: FrameSpec, start: float, end: float | None) -> None:
        self.spec = spec
        self.k = 0
        self.targets: list[float] | None = None
        if spec.num is not None:
            if end is None or end <= start:
                self.targets = [start]  # unknown length: one frame at the start
            else:
                step = (end - start) / spec.num
                self.targets = [start + (i + 0.5) * step for i in range(spec.num)]
        self.start = start

    def wants(self, d: Decoded, frame_dt: float) -> bool:
        s = self.spec
        if s.every_frame:
            return True
        if s.keyframes:
            return d.key
        eps = frame_dt / 2
        if s.fps is not None:
            target = self.start + self.k / s.fps
            if d.time_s + eps < target:
                return False
            self.k = max(self.k + 1, math.floor((d.time_s + eps - self.start) * s.fps) + 1)
            return True
        assert self.targets is not None
        if self.k >= len(self.targets) or d.time_s + eps < self.targets[self.k]:
            return False
        while self.k < len(self.targets) and d.time_s + eps >= self.targets[self.k]:
            self.k += 1
        return True


def sample(
    path: str | Path,
    specs: Mapping[str, FrameSpec],
    *,
    start_s: float | None = None,
    end_s: float | None = None,
    duration_s: float | None = None,
    stats: DecodeStats | None = None,
) -> dict[str, Frames]:
    """Decode the span once and return, per spec name, the frames that spec selects."""
    stats = stats if stats is not None else DecodeStats()
    start = float(start_s or 0.0)
    end = span_end(path, end_s, duration_s) if any(s.num for s in specs.values()) else end_s
    selectors = {name: _Selector(spec, start, end) for name, spec in specs.items()}
    picked: dict[str, list[tuple[np.ndarray, float, bool]]] = {name: [] for name in specs}
    want_mvs = any(s.motion_vectors for s in specs.values())
    only_key = all(s.keyframes for s in specs.values()) and not want_mvs  # the other frames need not decode
    mv_rows: list[tuple[float, int, np.ndarray | None]] = []
    coded = (0, 0)
    src = (0, 0)
    frame_dt = 1 / 25  # until two frames tell the real interval
    last_t = None
    for d in _decode(path, start_s=start_s, end_s=end_s, stats=stats, motion_vectors=want_mvs, keyframes_only=only_key):
        if d.index == 1 and last_t is not None and d.time_s > last_t:
            frame_dt = d.time_s - last_t
        last_t = d.time_s
        quarter = round(d.rotation / 90) % 2
        src = (d.frame.height, d.frame.width) if quarter else (d.frame.width, d.frame.height)
        if want_mvs:
            mv_rows.append((d.time_s, int(d.frame.pict_type), d.mv))
            coded = (d.frame.width, d.frame.height)
        cache: dict[tuple[int | None, int | None, bool], np.ndarray] = {}
        for name, sel in selectors.items():
            if not sel.wants(d, frame_dt):
                continue
            look = sel.spec.look
            if look not in cache:
                cache[look] = convert(d, sel.spec)
                stats.converted += 1
            picked[name].append((cache[look], d.time_s, d.key))
    if only_key:  # in presentation order, whatever order the decoder gave them in
        for name in picked:
            picked[name].sort(key=lambda x: x[1])
    vectors = _codec_motion(mv_rows, coded) if want_mvs else None
    out: dict[str, Frames] = {}
    for name, spec in specs.items():
        items = picked[name]
        if items:
            data = np.stack([x[0] for x in items])
        else:
            data = np.zeros((0, 0, 0) if spec.gray else (0, 0, 0, 3), np.uint8)
        data.setflags(write=False)
        out[name] = Frames(
            data=data,
            times_s=np.array([x[1] for x in items], dtype=np.float64),
            keyframe=np.array([x[2] for x in items], dtype=bool),
            spec=spec,
            src_width=src[0],
            src_height=src[1],
            span=(start, end if end is not None else (last_t or start)),
            vectors=vectors if spec.motion_vectors else None,
        )
    return out


def _codec_motion(rows: list[tuple[float, int, np.ndarray | None]], coded: tuple[int, int]) -> CodecMotion | None:
    """The per-frame summaries as arrays; None when no frame carried vectors (VP9, MJPEG, intra-only)."""
    if not any(mv is not None for _, _, mv in rows):
        return None
    zero = np.zeros((2, 4), np.float64)
    mvs = np.stack([mv if mv is not None else zero for _, _, mv in rows])
    times = np.array([r[0] for r in rows], np.float64)
    types = np.array([r[1] for r in rows], np.int8)
    for arr in (mvs, times, types):
        arr.setflags(write=False)
    return CodecMotion(times, types, mvs[:, 0], mvs[:, 1], coded[0], coded[1])
