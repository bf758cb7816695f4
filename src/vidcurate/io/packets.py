"""Walking a video stream's packets: the keyframe seek that decoding, cutting and splitting share.

`demux_from` seeks to the keyframe at or before a time and yields the stream's packets from there.
A keyframe seek can land *after* the target: demuxers that seek by decode time (MPEG-TS with
B-frames) or files with a sparse index. Then it seeks again from further back, doubling the
margin, down to the start of the file if need be, so the first keyframe it yields is never after
the target. Everything that needs "the packets from time t" goes through it: the decoder
(`io.decode`), the stream-copy span finder (`io.clip`) and packet timing (`packet_times`).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import av.error
import numpy as np

from vidcurate.io.media import open_video

_EPS = 1e-6


def seek_keyframe(container: Any, stream: Any, t: float) -> float:
    """Seek to the keyframe at or before `t` (seconds); returns the target used (0 when seeking failed)."""
    tb = stream.time_base
    if t > 0 and tb:
        try:
            container.seek(int(t / tb), stream=stream, backward=True, any_frame=False)
            return t
        except av.error.FFmpegError:
            pass
    with contextlib.suppress(av.error.FFmpegError):  # back to the start (a stream that cannot seek stays put)
        container.seek(0)
    return 0.0


def demux_from(container: Any, stream: Any, start_s: float | None, *, tolerance_s: float = _EPS) -> Iterator[Any]:
    """The stream's packets (empty flush packets included) from the keyframe at or before `start_s`.

    With no `start_s` the stream is read from its start without seeking. The first keyframe yielded
    has a presentation time <= start_s + tolerance_s, or is the first of the file.
    """
    start = float(start_s or 0.0)
    if start <= 0:
        yield from container.demux(stream)
        return
    tb = float(stream.time_base) if stream.time_base else 0.0
    target, margin = start, 1.0
    while True:
        target = seek_keyframe(container, stream, target)
        checking = target > 0 and tb > 0
        overshot = checking  # a seek that finds no keyframe at all landed past the last one it knew
        for packet in container.demux(stream):
            if checking:
                if not (packet.is_keyframe and packet.pts is not None):
                    continue  # packets before the first keyframe after a seek cannot be decoded
                checking = False
                overshot = packet.pts * tb > start + tolerance_s
                if overshot:
                    break
            yield packet
        if not overshot or target == 0:
            return
        target, margin = max(0.0, target - margin), margin * 2


@dataclass(frozen=True)
class PacketTime:
    """One video packet's timing, without decoding it."""

    pts_s: float | None
    dts_s: float | None
    duration_s: float | None
    key: bool


def packet_times_from(path: str | Path, start_s: float | None = None) -> Iterator[PacketTime]:
    """Timing of every non-empty video packet from the keyframe at or before `start_s` on."""
    with open_video(path) as (container, vs):
        tb = vs.time_base
        for packet in demux_from(container, vs, start_s):
            if not packet.size:
                continue
            yield PacketTime(
                None if packet.pts is None or tb is None else float(packet.pts * tb),
                None if packet.dts is None or tb is None else float(packet.dts * tb),
                float(packet.duration * tb) if packet.duration and tb is not None else None,
                bool(packet.is_keyframe),
            )


def end_time(times: list[float], last_end: float | None, end_s: float | None) -> float:
    """End of the last frame: its own duration, else the median frame interval; never past `end_s`."""
    if last_end is None or last_end <= times[-1]:
        step = float(np.median(np.diff(times))) if len(times) > 1 else 1 / 25
        last_end = times[-1] + (step if step > 0 else 1 / 25)
    if end_s is not None:
        last_end = min(last_end, max(end_s, times[-1] + _EPS))
    return float(last_end)


def packet_times(path: str | Path, *, start_s: float | None, end_s: float | None) -> np.ndarray | None:
    """Frame times (+ end) of a span from packet timestamps alone, in presentation order.

    Returns None when some packet has no timestamp (raw streams): then only decoding can tell.
    Every packet counts as a frame, including one the decoder would reject.
    """
    start = float(start_s or 0.0)
    pts: list[float] = []
    ends: list[float] = []
    for p in packet_times_from(path, start_s):
        if p.pts_s is None:
            return None
        if p.pts_s < start - _EPS or (end_s is not None and p.pts_s >= end_s - _EPS):
            continue
        pts.append(p.pts_s)
        ends.append(p.pts_s + p.duration_s if p.duration_s is not None else math.nan)
    if not pts:
        return None
    order = np.argsort(pts, kind="stable")
    times = np.asarray(pts)[order]
    last_end = float(np.asarray(ends)[order][-1])
    end = end_time(times.tolist(), None if math.isnan(last_end) else last_end, end_s)
    return np.asarray([*times.tolist(), end], np.float64)


def frames_before(path: str | Path, t: float) -> int:
    """How many frames a file shows before time `t` (counted from packets, without decoding)."""
    n = 0
    for p in packet_times_from(path, None):
        if p.dts_s is not None and p.dts_s >= t - _EPS:
            break  # a packet is shown no earlier than it is decoded: none of the rest comes before t
        if p.pts_s is not None and p.pts_s < t - _EPS:
            n += 1
    return n


def keyframes_near(path: str | Path, start_s: float | None, end_s: float | None) -> tuple[list[float], list[float]]:
    """Presentation times of the packets, and of the keyframes, from the keyframe before `start_s`.

    Stops at the first keyframe at or after `end_s` (the packets before it in decode order are
    what a stream copy up to that keyframe holds).
    """
    pts: list[float] = []
    keys: list[float] = []
    for p in packet_times_from(path, start_s):
        if p.pts_s is None:
            continue
        if p.key:
            keys.append(p.pts_s)
            if end_s is not None and p.pts_s >= end_s - _EPS:
                break
        pts.append(p.pts_s)
    return pts, keys
