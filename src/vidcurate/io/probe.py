"""Probe one media file with PyAV: container and stream facts plus a cheap validity check.

Every later stage needs the same few facts (displayed size, fps, frame count, duration) and must
meet the files users really have: rotated phone clips, variable frame rate, containers without a
duration or a frame count, corrupt packets, broken audio, files cut short. So this module

* checks the cheap things (exists, directory, readable, empty) before FFmpeg sees the file;
* reads the header, then demuxes packets without decoding where the header is silent
  (frame count, duration) or to look at timestamps (variable frame rate);
* decodes as little as the requested check needs: the first frame (its display matrix is the only
  place PyAV 18 exposes the rotation) and, for ``ends``, the last second after a keyframe seek;
* counts per-packet decoder errors instead of failing on them, and never lets audio fail a video;
* turns every failure into one :class:`ProbeError` with a short kind and a one-line message.
"""

from __future__ import annotations

import itertools
import os
import stat
import statistics
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

import av
import av.error

from vidcurate.core.errors import ProbeError

DecodeCheck = Literal["none", "ends", "full"]
CountFrames = Literal["auto", "always", "never"]

PROBE_KEYS: tuple[str, ...] = (
    "media", "container", "duration_s", "duration_src", "fps", "vfr", "num_frames", "num_frames_src",
    "width", "height", "coded_width", "coded_height", "rotation", "sar", "aspect_ratio", "codec", "profile",
    "pix_fmt", "bit_rate", "has_audio", "audio_codec", "audio_error", "size_bytes", "decoded_frames",
    "decode_errors",
)  # fmt: skip

# Packets whose timestamps are examined for VFR when the whole file is not walked anyway.
_PTS_SAMPLE = 300
# Packets fed to the decoder before concluding the first frame does not decode (streams cut from a
# broadcast may start many packets before their first keyframe; frame threads delay output).
_FIRST_FRAME_MAX_PACKETS = 600
# Timestamps of packets near the end of a sampled window may still be missing (B-frame reordering).
_REORDER_MARGIN = 4
# A timestamp step this far from the median step (relative, or in ticks) means variable frame rate;
# container time bases in ms (Matroska) make constant 24 fps alternate 41/42 ticks, screen captures
# jitter by a few per cent, phones change their frame interval by 10-50 %.
_VFR_REL_TOL = 0.15
_VFR_TICK_TOL = 2
# The "ends" check decodes from a keyframe before (end - 1 s); some frame must lie after end - 2 s.
_END_WINDOW_S = 1.0
_END_SLACK_S = 1.0
_AUDIO_PACKETS = 8
# Demuxers that read one still image (PyAV names them "<codec>_pipe"); GIF/WebP may be either.
_IMAGE_FORMATS = frozenset({"image2", "gif", "webp", "apng"})


@dataclass
class _Walk:
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


def probe_file(
    path: str | os.PathLike[str],
    *,
    decode_check: DecodeCheck = "ends",
    count_frames: CountFrames = "auto",
    count_max_bytes: int = 512 * 2**20,
) -> dict[str, Any]:
    """Facts about one image or video file, as a dict with exactly the keys in ``PROBE_KEYS``.

    ``decode_check``: ``none`` reads the header (and decodes the first frame only for its rotation,
    never failing on it); ``ends`` also requires the first frame and the last second to decode;
    ``full`` decodes every frame and reports ``decoded_frames``. ``count_frames`` decides whether
    packets are counted when the header has no frame count (``auto``: files up to
    ``count_max_bytes``); a file without any duration, or a ``full`` check, is walked to the end
    anyway, and then its count is reported as ``counted`` whatever ``count_frames`` says.
    Raises :class:`ProbeError` when the file is unusable.
    """
    if decode_check not in ("none", "ends", "full"):
        raise ValueError(f"decode_check must be none, ends or full, not {decode_check!r}")
    if count_frames not in ("auto", "always", "never"):
        raise ValueError(f"count_frames must be auto, always or never, not {count_frames!r}")
    p = Path(os.fspath(path))
    name = p.name or str(p)
    size = _check_file(p, name)
    try:
        return _probe(p, name, size, decode_check, count_frames, count_max_bytes)
    except ProbeError:
        raise
    except Exception as exc:
        raise _translate(exc, p, name, size) from exc


# --------------------------------------------------------------------------------------------------
# cheap checks and error translation


def _check_file(p: Path, name: str) -> int:
    """Fail fast, with a precise kind, on what does not need FFmpeg to find out. Returns the size."""
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
        raise ProbeError("invalid_data", f"{name}: not a regular file (device, pipe or socket)")
    if not os.access(p, os.R_OK):
        raise ProbeError("permission", f"{name}: no read permission")
    if st.st_size == 0:
        raise ProbeError("empty", f"{name}: file is empty (0 bytes)")
    return st.st_size


def _ffmpeg_words(exc: BaseException) -> str:
    """FFmpeg's reason without the errno number and file path PyAV wraps around it."""
    words = getattr(exc, "strerror", None)
    return str(words) if words else (str(exc) or type(exc).__name__)


def _translate(exc: Exception, p: Path, name: str, size: int) -> ProbeError:
    """Map an av.error / OSError / anything else to one ProbeError kind with a one-line message."""
    if isinstance(exc, FileNotFoundError):
        return ProbeError("not_found", f"{name}: file disappeared while probing")
    if isinstance(exc, IsADirectoryError):
        return ProbeError("is_directory", f"{name}: is a directory, not a media file")
    if isinstance(exc, PermissionError):
        return ProbeError("permission", f"{name}: permission denied while reading")
    if isinstance(exc, av.error.InvalidDataError | av.error.DemuxerNotFoundError):
        if _mp4_cut_short(p, size):
            return ProbeError(
                "truncated",
                f"{name}: MP4/MOV file is cut short: a box runs past the end of the file "
                "and the index (moov) is missing, so nothing can be read",
            )
        return ProbeError("invalid_data", f"{name}: not a readable media file ({_ffmpeg_words(exc)})")
    if isinstance(exc, av.error.FFmpegError):
        return ProbeError("invalid_data", f"{name}: FFmpeg cannot read the file ({_ffmpeg_words(exc)})")
    if isinstance(exc, OSError):
        return ProbeError("probe_failed", f"{name}: read error ({_ffmpeg_words(exc)})")
    words = str(exc).replace("\n", " ")
    return ProbeError("probe_failed", f"{name}: probe failed ({type(exc).__name__}: {words})")


def _mp4_cut_short(p: Path, size: int) -> bool:
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


# --------------------------------------------------------------------------------------------------
# the probe proper


def _open(p: Path) -> Any:
    return av.open(str(p), mode="r", metadata_errors="replace")


def _probe(
    p: Path, name: str, size: int, decode_check: DecodeCheck, count_frames: CountFrames, count_max_bytes: int
) -> dict[str, Any]:
    with _open(p) as container:
        video = [s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic]
        if not video:
            what = "audio only" if container.streams.audio else "no streams it can read"
            raise ProbeError("no_video_stream", f"{name}: no video stream ({what})")
        vs = video[0]
        cc = vs.codec_context
        if cc is None:
            raise ProbeError("decode_failed", f"{name}: FFmpeg has no decoder for its video codec")
        vs.thread_type = "AUTO"
        tb = vs.time_base or Fraction(1, 1)
        names = [n.strip() for n in (container.format.name or "").split(",") if n.strip()]
        ext = p.suffix.lower().lstrip(".")
        fmt = ext if ext in names else (names[0] if names else None)
        image_demuxer = bool(names) and (names[0].endswith("_pipe") or names[0] in _IMAGE_FORMATS)

        header_frames = vs.frames if vs.frames and vs.frames > 0 else None
        c_dur = container.duration / 1e6 if container.duration and container.duration > 0 else None
        s_dur = float(vs.duration * tb) if vs.duration and vs.duration > 0 else None
        count_ok = count_frames == "always" or (count_frames == "auto" and size <= count_max_bytes)
        walk_all = (
            decode_check == "full"
            or (header_frames is None and count_ok)
            or (c_dur is None and s_dur is None)
            or image_demuxer
        )
        walk = _walk(container, vs, tb, walk_all=walk_all, decode_all=decode_check == "full")
        audio = container.streams.audio[0] if container.streams.audio else None
        info: dict[str, Any] = {
            "container": fmt,
            "codec": _codec_name(vs),
            "pix_fmt": cc.pix_fmt,
            "profile": vs.profile or cc.profile or None,
            "bit_rate": (container.bit_rate or None) or (cc.bit_rate or None),
            "has_audio": audio is not None,
            "audio_codec": _codec_name(audio) if audio is not None else None,
        }
        avg, guessed, base = vs.average_rate, vs.guessed_rate, vs.base_rate
        stream_start = vs.start_time if vs.start_time is not None else walk.start_pts
        expected_end_s: float | None = None
        if s_dur is not None:
            expected_end_s = float((stream_start or 0) * tb) + s_dur
        elif c_dur is not None:
            expected_end_s = (container.start_time or 0) / 1e6 + c_dur
        cw, ch = cc.width, cc.height
        sar_q = vs.sample_aspect_ratio or cc.sample_aspect_ratio
        vs_index = vs.index

    if walk.first_size and not (cw and ch):
        cw, ch = walk.first_size
    if decode_check != "none" and walk.rotation is None:
        detail = f": {walk.last_error}" if walk.last_error else ""
        raise ProbeError(
            "decode_failed",
            f"{name}: the first video frame does not decode ({walk.errors} decoder errors{detail})",
        )

    is_image = image_demuxer and walk.complete and walk.packets == 1
    decode_errors = walk.errors
    decoded_frames: int | None = walk.decoded if decode_check == "full" else None

    # duration
    if is_image:
        duration, duration_src = None, None
    elif c_dur is not None:
        duration, duration_src = c_dur, "container"
    elif s_dur is not None:
        duration, duration_src = s_dur, "stream"
    elif walk.end_pts is not None and walk.start_pts is not None and walk.end_pts > walk.start_pts:
        start = stream_start if stream_start is not None else walk.start_pts
        duration, duration_src = float((walk.end_pts - start) * tb), "decoded"
    else:
        duration, duration_src = None, None
    if expected_end_s is None and duration_src == "decoded" and walk.end_pts is not None:
        expected_end_s = float(walk.end_pts * tb)

    # frame rate
    rate = avg or guessed or base
    fps = float(rate) if rate and not is_image else None
    vfr = False if is_image else _is_vfr(walk, avg, base)

    # frame count
    if is_image:
        num_frames, num_frames_src = 1, "counted"
    elif header_frames is not None:
        num_frames, num_frames_src = header_frames, "header"
    elif walk.complete and walk.packets:
        # counted whenever the whole file was walked anyway (no duration, or a full decode)
        num_frames, num_frames_src = walk.packets, "counted"
    elif duration is not None and fps:
        num_frames, num_frames_src = round(duration * fps), "estimated"
    else:
        num_frames, num_frames_src = None, None

    # validity at the end of the file
    if not is_image and decode_check != "none" and expected_end_s is not None:
        target_s = max(0.0, expected_end_s - _END_WINDOW_S)
        if decode_check == "full":
            last_s, frames = walk.last_frame_s, walk.decoded
            how = "decoding every frame"
        else:
            last_s, frames, errors = _decode_end(p, vs_index, target_s)
            decode_errors += errors
            how = f"seeking to {target_s:.2f} s"
        # frames without timestamps cannot be placed in time; then that they decode at all must do
        if not frames or (last_s is not None and last_s < target_s - _END_SLACK_S):
            got = f"the last frame that decodes is at {last_s:.2f} s" if frames else "no frame decodes"
            raise ProbeError(
                "truncated",
                f"{name}: file is cut short or damaged at the end: video should run to "
                f"{expected_end_s:.2f} s, but after {how} {got}",
            )

    # geometry
    rotation = walk.rotation
    sar = float(sar_q) if sar_q else 1.0
    quarter = rotation in (90, -90)
    width, height = (ch, cw) if quarter else (cw, ch)
    coded_aspect = cw * sar / ch if cw and ch else None
    aspect = (1 / coded_aspect if quarter else coded_aspect) if coded_aspect else None

    audio_error = None
    if info["has_audio"] and decode_check != "none":
        audio_error = _check_audio(p)

    out = {
        **info,
        "media": "image" if is_image else "video",
        "duration_s": duration,
        "duration_src": duration_src,
        "fps": fps,
        "vfr": vfr,
        "num_frames": num_frames,
        "num_frames_src": num_frames_src,
        "width": width or None,
        "height": height or None,
        "coded_width": cw or None,
        "coded_height": ch or None,
        "rotation": rotation,
        "sar": sar,
        "aspect_ratio": aspect,
        "bit_rate": None if is_image else info["bit_rate"],
        "audio_error": audio_error,
        "size_bytes": size,
        "decoded_frames": decoded_frames,
        "decode_errors": decode_errors,
    }
    return {k: out[k] for k in PROBE_KEYS}


def _codec_name(stream: Any) -> str | None:
    """Canonical codec name ("mp3", not the decoder's "mp3float"); None when FFmpeg cannot decode it."""
    cc = stream.codec_context
    if cc is None:
        return None
    return cc.codec.canonical_name if cc.codec is not None else cc.name


def _decode_packet(stream: Any, packet: Any, walk: _Walk) -> list[Any]:
    """Decode one packet (None flushes); a decoder error is counted, never raised."""
    try:
        return list(stream.decode(packet))
    except av.error.EOFError:
        return []
    except av.error.FFmpegError as exc:
        walk.errors += 1
        walk.last_error = f"{type(exc).__name__}: {_ffmpeg_words(exc)}"
        return []


def _demux(container: Any, stream: Any, walk: _Walk) -> Any:
    """Packets of one stream; a demuxer error ends the stream (counted) instead of raising."""
    it = container.demux(stream)
    while True:
        try:
            packet = next(it)
        except (StopIteration, av.error.EOFError):
            return
        except av.error.FFmpegError as exc:
            walk.errors += 1
            walk.last_error = f"{type(exc).__name__}: {_ffmpeg_words(exc)}"
            return
        yield packet


def _take_frames(frames: list[Any], walk: _Walk) -> None:
    for frame in frames:
        walk.decoded += 1
        if walk.rotation is None:
            walk.rotation = _normalise_rotation(frame.rotation)
            walk.first_size = (frame.width, frame.height)
        t = frame.time
        if t is not None and (walk.last_frame_s is None or t > walk.last_frame_s):
            walk.last_frame_s = t


def _walk(container: Any, vs: Any, tb: Fraction, *, walk_all: bool, decode_all: bool) -> _Walk:
    """One demux pass: count packets, collect timestamps, decode the first frame (or every frame).

    Demuxing without decoding is I/O-bound and cheap, so it is how frame counts and missing
    durations are found; decoding stops after the first frame unless a full check was asked for.
    """
    walk = _Walk()
    for packet in _demux(container, vs, walk):
        if not packet.size:
            continue  # the empty packet PyAV yields at the end to flush the decoder
        walk.packets += 1
        pts = packet.pts
        if pts is not None:
            if walk_all or len(walk.pts) < _PTS_SAMPLE:
                walk.pts.append(pts)
            end = pts + (packet.duration or 0)
            walk.start_pts = pts if walk.start_pts is None else min(walk.start_pts, pts)
            walk.end_pts = end if walk.end_pts is None else max(walk.end_pts, end)
        if decode_all or walk.rotation is None:
            _take_frames(_decode_packet(vs, packet, walk), walk)
        if (
            not walk_all
            and walk.packets >= _PTS_SAMPLE
            and (walk.rotation is not None or walk.packets >= _FIRST_FRAME_MAX_PACKETS)
        ):
            break
    else:
        walk.complete = True
    if decode_all or walk.rotation is None:
        _take_frames(_decode_packet(vs, None, walk), walk)
    return walk


def _decode_end(p: Path, stream_index: int, target_s: float) -> tuple[float | None, int, int]:
    """Seek to the keyframe before ``target_s`` and decode to the end.

    Returns (time of the last decoded frame, frames decoded, decoder errors). Costs one GOP plus one
    second of decoding, whatever the length of the file. Where seeking fails, the packets are
    demuxed (not decoded) from the start and only those from the last keyframe on are decoded.
    """
    walk = _Walk()
    with _open(p) as container:
        vs = next(s for s in container.streams.video if s.index == stream_index)
        tb = vs.time_base or Fraction(1, 1)
        try:
            container.seek(int(target_s / tb), stream=vs, backward=True, any_frame=False)
        except av.error.FFmpegError:
            seek_failed = True
        else:
            seek_failed = False
            _decode_rest(container, vs, walk, skip=0)
    if seek_failed:
        skip = _last_keyframe_index(p, stream_index, walk)
        with _open(p) as container:
            vs = next(s for s in container.streams.video if s.index == stream_index)
            _decode_rest(container, vs, walk, skip=skip)
    return walk.last_frame_s, walk.decoded, walk.errors


def _decode_rest(container: Any, vs: Any, walk: _Walk, *, skip: int) -> None:
    """Decode the stream from its current position to the end, ignoring the first ``skip`` packets."""
    vs.thread_type = "AUTO"
    seen = 0
    for packet in _demux(container, vs, walk):
        if not packet.size:
            continue
        seen += 1
        if seen > skip:
            _take_frames(_decode_packet(vs, packet, walk), walk)
    _take_frames(_decode_packet(vs, None, walk), walk)


def _last_keyframe_index(p: Path, stream_index: int, walk: _Walk) -> int:
    """Number of non-empty packets before the last keyframe, found by demuxing without decoding."""
    last_key = seen = 0
    with _open(p) as container:
        vs = next(s for s in container.streams.video if s.index == stream_index)
        for packet in _demux(container, vs, walk):
            if not packet.size:
                continue
            if packet.is_keyframe:
                last_key = seen
            seen += 1
    return last_key


def _normalise_rotation(degrees: float) -> int:
    """Display-matrix angle (counter-clockwise, as PyAV reports it) to one of 0, 90, -90, 180."""
    quarter = round(degrees / 90.0) % 4
    return (0, 90, 180, -90)[quarter]


def _is_vfr(walk: _Walk, avg: Fraction | None, base: Fraction | None) -> bool:
    """Variable frame rate from timestamp steps, or from the average rate disagreeing with the base rate.

    Rates that differ by a whole factor (field rate vs frame rate) are not taken as VFR.
    """
    pts = sorted(set(walk.pts))
    if not walk.complete:
        pts = pts[:-_REORDER_MARGIN]
    if len(pts) >= 3:
        steps = [b - a for a, b in itertools.pairwise(pts)]
        med = statistics.median(steps)
        tol = max(_VFR_TICK_TOL, _VFR_REL_TOL * med)
        if any(abs(s - med) > tol for s in steps):
            return True
    if avg and base:
        ratio = float(base / avg)
        if ratio < 0.98 or ratio > 4.5 or abs(ratio - round(ratio)) > 0.02:
            return True
    return False


def _check_audio(p: Path) -> str | None:
    """Decode the first few audio packets; a failure is described, never raised."""
    walk = _Walk()
    fed = 0
    frames = 0
    try:
        with _open(p) as container:
            a = container.streams.audio[0]
            for packet in _demux(container, a, walk):
                if not packet.size:
                    continue
                fed += 1
                frames += len(_decode_packet(a, packet, walk))
                if fed >= _AUDIO_PACKETS:
                    break
            frames += len(_decode_packet(a, None, walk))
    except Exception as exc:
        return f"audio cannot be decoded ({type(exc).__name__}: {_ffmpeg_words(exc)})"
    if walk.errors:
        return f"audio decoder failed on {walk.errors} of the first {fed} packets ({walk.last_error})"
    if fed and not frames:
        return f"no audio decoded from the first {fed} packets"
    return None
