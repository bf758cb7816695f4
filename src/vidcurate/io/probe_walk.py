"""The passes `probe` makes over a file's packets: the walk, the end check, the audio check.

Demuxing without decoding is I/O-bound and cheap, so it is how frame counts, missing durations and
timestamps are found; decoding stops after the first frame unless a full check was asked for, and
the end check decodes one GOP plus a second after a keyframe seek, whatever the file's length.
Decoder and demuxer errors are counted, never raised.
"""

from __future__ import annotations

import itertools
import statistics
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.error

from vidcurate.io import media
from vidcurate.io.packets import seek_keyframe

# Packets whose timestamps are examined for VFR when the whole file is not walked anyway.
PTS_SAMPLE = 300
# Packets fed to the decoder before concluding the first frame does not decode (streams cut from a
# broadcast may start many packets before their first keyframe; frame threads delay output).
FIRST_FRAME_MAX_PACKETS = 600
# Timestamps of packets near the end of a sampled window may still be missing (B-frame reordering).
REORDER_MARGIN = 4
# A timestamp step this far from the median step (relative, or in ticks) means variable frame rate;
# container time bases in ms (Matroska) make constant 24 fps alternate 41/42 ticks, screen captures
# jitter by a few per cent, phones change their frame interval by 10-50 %.
VFR_REL_TOL = 0.15
VFR_TICK_TOL = 2
AUDIO_PACKETS = 8


@dataclass
class Walk:
    """What one pass over the video packets saw."""

    packets: int = 0  # non-empty video packets demuxed
    complete: bool = False  # reached the end of the stream (not stopped early)
    pts: list[int] = field(default_factory=list)
    start_pts: int | None = None
    end_pts: int | None = None  # max(pts + duration)
    rotation: int | None = None
    first_size: tuple[int, int] | None = None
    decoded: int = 0
    errors: int = 0
    last_error: str | None = None
    last_frame_s: float | None = None


def decode_packet(stream: Any, packet: Any, walk: Walk) -> list[Any]:
    """Decode one packet (None flushes); a decoder error is counted, never raised.

    Frames a flush returns carry no time base (their ``time`` is NaN): they get the stream's, or
    the last frames of a file, which the end check is about, would have no time.
    """
    try:
        frames = list(stream.decode(packet))
        for f in frames:
            if f.time_base is None:
                f.time_base = stream.time_base
        return frames
    except av.error.EOFError:
        return []
    except av.error.FFmpegError as exc:
        walk.errors += 1
        walk.last_error = f"{type(exc).__name__}: {media.ffmpeg_words(exc)}"
        return []


def demux(container: Any, stream: Any, walk: Walk) -> Any:
    """Packets of one stream; a demuxer error ends the stream (counted) instead of raising."""
    it = container.demux(stream)
    while True:
        try:
            packet = next(it)
        except (StopIteration, av.error.EOFError):
            return
        except av.error.FFmpegError as exc:
            walk.errors += 1
            walk.last_error = f"{type(exc).__name__}: {media.ffmpeg_words(exc)}"
            return
        yield packet


def take_frames(frames: list[Any], walk: Walk) -> None:
    for frame in frames:
        walk.decoded += 1
        if walk.rotation is None:
            walk.rotation = normalise_rotation(frame.rotation)
            walk.first_size = (frame.width, frame.height)
        t = frame.time
        if t is not None and (walk.last_frame_s is None or t > walk.last_frame_s):
            walk.last_frame_s = t


def walk_packets(container: Any, vs: Any, tb: Fraction, *, walk_all: bool, decode_all: bool) -> Walk:
    """One demux pass: count packets, collect timestamps, decode the first frame (or every frame).

    Demuxing without decoding is I/O-bound and cheap, so it is how frame counts and missing
    durations are found; decoding stops after the first frame unless a full check was asked for.
    """
    walk = Walk()
    for packet in demux(container, vs, walk):
        if not packet.size:
            continue  # the empty packet PyAV yields at the end to flush the decoder
        walk.packets += 1
        pts = packet.pts
        if pts is not None:
            if walk_all or len(walk.pts) < PTS_SAMPLE:
                walk.pts.append(pts)
            end = pts + (packet.duration or 0)
            walk.start_pts = pts if walk.start_pts is None else min(walk.start_pts, pts)
            walk.end_pts = end if walk.end_pts is None else max(walk.end_pts, end)
        if decode_all or walk.rotation is None:
            take_frames(decode_packet(vs, packet, walk), walk)
        if (
            not walk_all
            and walk.packets >= PTS_SAMPLE
            and (walk.rotation is not None or walk.packets >= FIRST_FRAME_MAX_PACKETS)
        ):
            break
    else:
        walk.complete = True
    if decode_all or walk.rotation is None:
        take_frames(decode_packet(vs, None, walk), walk)
    return walk


def decode_end(p: Path, stream_index: int, target_s: float) -> tuple[float | None, int, int]:
    """Seek to the keyframe before ``target_s`` and decode to the end.

    Returns (time of the last decoded frame, frames decoded, decoder errors). Costs one GOP plus one
    second of decoding, whatever the length of the file. Where seeking fails, the packets are
    demuxed (not decoded) from the start and only those from the last keyframe on are decoded.
    """
    walk = Walk()
    with media.open_container(p) as container:
        vs = next(s for s in container.streams.video if s.index == stream_index)
        seek_failed = target_s > 0 and seek_keyframe(container, vs, target_s) == 0
        if not seek_failed:
            decode_rest(container, vs, walk, skip=0)
    if seek_failed:
        skip = last_keyframe_index(p, stream_index, walk)
        with media.open_container(p) as container:
            vs = next(s for s in container.streams.video if s.index == stream_index)
            decode_rest(container, vs, walk, skip=skip)
    return walk.last_frame_s, walk.decoded, walk.errors


def decode_rest(container: Any, vs: Any, walk: Walk, *, skip: int) -> None:
    """Decode the stream from its current position to the end, ignoring the first ``skip`` packets."""
    vs.thread_type = "AUTO"
    seen = 0
    for packet in demux(container, vs, walk):
        if not packet.size:
            continue
        seen += 1
        if seen > skip:
            take_frames(decode_packet(vs, packet, walk), walk)
    take_frames(decode_packet(vs, None, walk), walk)


def last_keyframe_index(p: Path, stream_index: int, walk: Walk) -> int:
    """Number of non-empty packets before the last keyframe, found by demuxing without decoding."""
    last_key = seen = 0
    with media.open_container(p) as container:
        vs = next(s for s in container.streams.video if s.index == stream_index)
        for packet in demux(container, vs, walk):
            if not packet.size:
                continue
            if packet.is_keyframe:
                last_key = seen
            seen += 1
    return last_key


def normalise_rotation(degrees: float) -> int:
    """Display-matrix angle (counter-clockwise, as PyAV reports it) to one of 0, 90, -90, 180."""
    quarter = round(degrees / 90.0) % 4
    return (0, 90, 180, -90)[quarter]


def packet_rate(walk: Walk, tb: Fraction) -> float | None:
    """Frames per second from the median step between packet timestamps (None: too few timestamps)."""
    pts = sorted(set(walk.pts))
    if len(pts) < 3:
        return None
    step = statistics.median(b - a for a, b in itertools.pairwise(pts))
    return float(1 / (step * tb)) if step > 0 else None


def is_vfr(walk: Walk, avg: Fraction | None, base: Fraction | None) -> bool:
    """Variable frame rate from timestamp steps, or from the average rate disagreeing with the base rate.

    Rates that differ by a whole factor (field rate vs frame rate) are not taken as VFR.
    """
    pts = sorted(set(walk.pts))
    if not walk.complete:
        pts = pts[:-REORDER_MARGIN]
    if len(pts) >= 3:
        steps = [b - a for a, b in itertools.pairwise(pts)]
        med = statistics.median(steps)
        tol = max(VFR_TICK_TOL, VFR_REL_TOL * med)
        if steps[-1] < med:  # a final packet a tick after the one before (AVI's muxer): not a frame interval
            steps = steps[:-1]
        if any(abs(s - med) > tol for s in steps):
            return True
    if avg and base:
        ratio = float(base / avg)
        if ratio < 0.98 or ratio > 4.5 or abs(ratio - round(ratio)) > 0.02:
            return True
    return False


def check_audio(p: Path) -> str | None:
    """Decode the first few audio packets; a failure is described, never raised."""
    walk = Walk()
    fed = 0
    frames = 0
    try:
        with media.open_container(p) as container:
            a = container.streams.audio[0]
            for packet in demux(container, a, walk):
                if not packet.size:
                    continue
                fed += 1
                frames += len(decode_packet(a, packet, walk))
                if fed >= AUDIO_PACKETS:
                    break
            frames += len(decode_packet(a, None, walk))
    except Exception as exc:
        return f"audio cannot be decoded ({type(exc).__name__}: {media.ffmpeg_words(exc)})"
    if walk.errors:
        return f"audio decoder failed on {walk.errors} of the first {fed} packets ({walk.last_error})"
    if fed and not frames:
        return f"no audio decoded from the first {fed} packets"
    return None
