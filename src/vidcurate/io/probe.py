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

import os
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

import av

from vidcurate.core.errors import ProbeError
from vidcurate.io import media
from vidcurate.io import probe_walk as pw

DecodeCheck = Literal["none", "ends", "full"]
CountFrames = Literal["auto", "always", "never"]

PROBE_KEYS: tuple[str, ...] = (
    "media", "container", "duration_s", "duration_src", "fps", "vfr", "num_frames", "num_frames_src",
    "width", "height", "coded_width", "coded_height", "rotation", "sar", "aspect_ratio", "codec", "profile",
    "pix_fmt", "bit_rate", "has_audio", "audio_codec", "audio_error", "size_bytes", "decoded_frames",
    "decode_errors",
)  # fmt: skip

# The "ends" check decodes from a keyframe before (end - 1 s); the last frame must start within
# a few frame intervals of the declared end of the video stream (a container's duration may
# include a longer audio track, so then the bound is looser).
_END_WINDOW_S = 1.0
_END_FRAMES = 3
_END_MIN_S = 0.25
_END_CONTAINER_S = 0.75
# A header frame rate this far (as a ratio) from the packets' own rate is wrong (H.264 in AVI).
_RATE_RATIO = 1.5
# Demuxers that read one still image (PyAV names them "<codec>_pipe"); GIF/WebP may be either.
_IMAGE_FORMATS = frozenset({"image2", "gif", "webp", "apng"})


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
    size = media.check_file(p)
    try:
        return _probe(p, name, size, decode_check, count_frames, count_max_bytes)
    except ProbeError:
        raise
    except Exception as exc:
        raise media.translate(exc, p, size) from exc


# --------------------------------------------------------------------------------------------------
# the probe proper


def _probe(
    p: Path, name: str, size: int, decode_check: DecodeCheck, count_frames: CountFrames, count_max_bytes: int
) -> dict[str, Any]:
    with media.raw_open(p) as container:
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
        walk = pw.walk_packets(container, vs, tb, walk_all=walk_all, decode_all=decode_check == "full")
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
        end_tol_s = _END_MIN_S
        if s_dur is not None:
            expected_end_s = float((stream_start or 0) * tb) + s_dur
        elif c_dur is not None:
            expected_end_s = (container.start_time or 0) / 1e6 + c_dur
            end_tol_s = _END_CONTAINER_S
        header_rate = avg or guessed or base
        packet_rate = pw.packet_rate(walk, tb)
        if (
            header_frames is not None
            and packet_rate is not None
            and header_rate
            and not _close(float(header_rate), packet_rate)
            and not walk.complete
        ):  # the header disagrees with the packets: count them all (demux only) before believing either
            container.seek(0, stream=vs)
            walk = pw.walk_packets(container, vs, tb, walk_all=True, decode_all=False)
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

    # frame rate and count: the header's, unless the packets say it is wrong by a whole factor
    header_wrong = (
        header_frames is not None
        and walk.complete
        and walk.packets > 0
        and packet_rate is not None
        and not _close(header_frames, walk.packets)
        and (not header_rate or not _close(float(header_rate), packet_rate))
    )
    rate = avg or guessed or base
    fps = float(rate) if rate and not is_image else None
    if header_wrong and packet_rate is not None:
        fps = packet_rate
        avg = base = Fraction(packet_rate).limit_denominator(1001)
    vfr = False if is_image else pw.is_vfr(walk, avg, base)

    # frame count
    if is_image:
        num_frames, num_frames_src = 1, "counted"
    elif header_wrong:
        num_frames, num_frames_src = walk.packets, "counted"
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
        if fps:
            end_tol_s = max(end_tol_s, _END_FRAMES / fps)
        if decode_check == "full":
            last_s, frames = walk.last_frame_s, walk.decoded
            how = "decoding every frame"
        else:
            last_s, frames, errors = pw.decode_end(p, vs_index, target_s)
            decode_errors += errors
            how = f"seeking to {target_s:.2f} s"
        # frames without timestamps cannot be placed in time; then that they decode at all must do
        if not frames or (last_s is not None and last_s < expected_end_s - end_tol_s):
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
        audio_error = pw.check_audio(p)

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


def _close(a: float, b: float) -> bool:
    return a > 0 and b > 0 and 1 / _RATE_RATIO < a / b < _RATE_RATIO


def _codec_name(stream: Any) -> str | None:
    """Canonical codec name ("mp3", not the decoder's "mp3float"); None when FFmpeg cannot decode it."""
    cc = stream.codec_context
    if cc is None:
        return None
    return cc.codec.canonical_name if cc.codec is not None else cc.name
