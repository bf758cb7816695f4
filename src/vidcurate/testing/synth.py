"""Synthetic test videos with known ground truth.

Real footage never tells you where the cuts *are*; these clips do. Each generator draws frames with
numpy/OpenCV from a seeded RNG (so the same call gives byte-identical frames), encodes them with the
bundled ffmpeg, and returns a `SynthVideo` whose ``truth`` says what a correct stage must find.
The test-suite, the benchmarks and ``make demo`` use them (`vidcurate.testing`).

Sizes are ``(width, height)`` like ffmpeg's ``-s``; frames are ``(H, W, 3)`` uint8 RGB.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Literal

import numpy as np

from vidcurate.io.ffmpeg import run_ffmpeg
from vidcurate.io.fs import atomic_path
from vidcurate.testing.frames import (
    COUNTER_BITS,
    PALETTE,
    RGB,
    PathLike,
    Size,
    SynthVideo,
    check_size,
    counter_frame,
    encode,
    nearest_palette,
    read_counter,
    smooth_noise,
    textured_background,
)
from vidcurate.testing.text import drawtext, text

__all__ = [
    "COUNTER_BITS",
    "PALETTE",
    "SynthVideo",
    "black",
    "counter",
    "demo_corpus",
    "drawtext",
    "moving_box",
    "nearest_palette",
    "noise",
    "read_counter",
    "rotated",
    "scenes",
    "static",
    "text",
    "vfr",
]


def scenes(
    path: PathLike,
    *,
    cuts: Sequence[int] = (48, 96),
    num_frames: int = 144,
    colors: Sequence[RGB] | None = None,
    fps: float = 24,
    size: Size = (320, 240),
    noise: bool = True,
    gop: int | None = None,
    codec: str = "libx264",
    crf: int | None = None,
    seed: int = 0,
) -> SynthVideo:
    """Hard cuts at frame indices ``cuts``; scene k is solid ``colors[k]`` (palette order by default).

    ``noise`` adds a slowly scrolling low-contrast texture plus faint grain, so the picture is not
    perfectly flat (flat frames flatter scene detectors and some codecs) yet each frame's mean colour
    stays within a few levels of its scene colour. ``noise=False`` gives exactly flat colours.
    """
    w, h = check_size(size)
    cut_list = sorted(int(c) for c in cuts)
    if len(set(cut_list)) != len(cut_list) or any(not 0 < c < num_frames for c in cut_list):
        raise ValueError(f"cuts must be distinct frame indices in (0, {num_frames}), got {cuts}")
    starts = [0, *cut_list]
    pal = list(PALETTE.values())
    scene_colors = (
        [tuple(int(v) for v in c) for c in colors]
        if colors is not None
        else [pal[k % len(pal)] for k in range(len(starts))]
    )
    if len(scene_colors) < len(starts):
        raise ValueError(f"{len(starts)} scenes need {len(starts)} colors, got {len(scene_colors)}")
    rng = np.random.default_rng(seed)
    tex = 9 * smooth_noise(rng, h, w + num_frames, 20)  # wide, so scrolling never wraps

    def frames() -> Iterator[np.ndarray]:
        scene = 0
        for i in range(num_frames):
            while scene + 1 < len(starts) and i >= starts[scene + 1]:
                scene += 1
            img = np.empty((h, w, 3), np.float32)
            img[:] = scene_colors[scene]
            if noise:
                img += tex[:, i : i + w, None]  # 1 px/frame drift
                img += rng.normal(0.0, 1.5, size=(h, w, 1)).astype(np.float32)
            yield np.clip(img, 0, 255).round().astype(np.uint8)

    encode(path, frames(), width=w, height=h, fps=fps, codec=codec, crf=crf, gop=gop)
    names = {v: k for k, v in PALETTE.items()}
    truth = {
        "cuts": cut_list,
        "scene_starts": starts,
        "scene_colors": [list(c) for c in scene_colors[: len(starts)]],
        "scene_color_names": [names.get((c[0], c[1], c[2])) for c in scene_colors[: len(starts)]],
    }
    return SynthVideo(Path(path), float(fps), num_frames, w, h, truth)


_DIRECTIONS: dict[str, tuple[int, int]] = {"right": (1, 0), "left": (-1, 0), "up": (0, -1), "down": (0, 1)}


def moving_box(
    path: PathLike,
    *,
    direction: Literal["right", "left", "up", "down"] = "right",
    speed_px: int = 4,
    box: int = 40,
    num_frames: int = 48,
    fps: float = 24,
    size: Size = (320, 240),
    codec: str = "libx264",
    crf: int | None = None,
    seed: int = 0,
) -> SynthVideo:
    """A yellow/red checkered box moving ``speed_px`` per frame over a static textured background.

    The path is centred in the frame and must fit entirely (no wrap-around, which would fake a jump).
    truth["positions"] lists the box's top-left corner per frame.
    """
    w, h = check_size(size)
    if direction not in _DIRECTIONS:
        raise ValueError(f"direction must be one of {sorted(_DIRECTIONS)}, got {direction!r}")
    dx, dy = _DIRECTIONS[direction]
    travel = speed_px * (num_frames - 1)
    room = (w if dx else h) - box
    if travel > room:
        raise ValueError(
            f"a {box}px box moving {speed_px}px/frame for {num_frames} frames travels {travel}px; "
            f"only {room}px fit — lower num_frames or speed_px"
        )
    rng = np.random.default_rng(seed)
    bg = textured_background(rng, w, h)
    yy, xx = np.mgrid[0:box, 0:box]
    checker = ((yy // 8 + xx // 8) % 2).astype(bool)
    yellow, red = np.array([250, 220, 0], np.uint8), np.array([240, 30, 30], np.uint8)
    patch = np.where(checker[..., None], yellow, red).astype(np.uint8)

    x0 = (w - box - travel) // 2 if dx > 0 else (w - box + travel) // 2 if dx < 0 else (w - box) // 2
    y0 = (h - box - travel) // 2 if dy > 0 else (h - box + travel) // 2 if dy < 0 else (h - box) // 2
    positions = [(x0 + dx * speed_px * i, y0 + dy * speed_px * i) for i in range(num_frames)]

    def frames() -> Iterator[np.ndarray]:
        for x, y in positions:
            img = bg.copy()
            img[y : y + box, x : x + box] = patch
            yield img

    encode(path, frames(), width=w, height=h, fps=fps, codec=codec, crf=crf)
    truth = {
        "direction": direction,
        "speed_px": speed_px,
        "velocity_px": [dx * speed_px, dy * speed_px],
        "box": box,
        "positions": [list(p) for p in positions],
    }
    return SynthVideo(Path(path), float(fps), num_frames, w, h, truth)


def static(
    path: PathLike,
    *,
    num_frames: int = 48,
    fps: float = 24,
    size: Size = (320, 240),
    codec: str = "libx264",
    crf: int | None = None,
    seed: int = 0,
) -> SynthVideo:
    """The same textured frame repeated: zero motion, for motion/duplicate filters to reject."""
    w, h = check_size(size)
    bg = textured_background(np.random.default_rng(seed), w, h)
    encode(path, (bg for _ in range(num_frames)), width=w, height=h, fps=fps, codec=codec, crf=crf)
    return SynthVideo(Path(path), float(fps), num_frames, w, h, {"motion": 0.0})


def black(
    path: PathLike,
    *,
    num_frames: int = 48,
    fps: float = 24,
    size: Size = (320, 240),
    black_ranges: Sequence[tuple[int, int]] | None = None,
    codec: str = "libx264",
    crf: int | None = None,
    seed: int = 0,
) -> SynthVideo:
    """All-black frames, or black only within the half-open ``black_ranges`` (else a textured scene)."""
    w, h = check_size(size)
    ranges = [(0, num_frames)] if black_ranges is None else [(int(a), int(b)) for a, b in black_ranges]
    is_black = np.zeros(num_frames, bool)
    for a, b in ranges:
        is_black[max(a, 0) : min(b, num_frames)] = True
    blank = np.zeros((h, w, 3), np.uint8)
    scene = textured_background(np.random.default_rng(seed), w, h) if not is_black.all() else blank
    frames = (blank if is_black[i] else scene for i in range(num_frames))
    encode(path, frames, width=w, height=h, fps=fps, codec=codec, crf=crf)
    truth = {
        "black_frames": [int(i) for i in np.flatnonzero(is_black)],
        "black_ranges": [list(r) for r in ranges],
        "black_frame_ratio": float(is_black.mean()),
    }
    return SynthVideo(Path(path), float(fps), num_frames, w, h, truth)


def noise(
    path: PathLike,
    *,
    num_frames: int = 48,
    fps: float = 24,
    size: Size = (320, 240),
    codec: str = "libx264",
    crf: int | None = None,
    seed: int = 0,
) -> SynthVideo:
    """Independent uniform RGB noise per frame: worst case for codecs, garbage for every quality score."""
    w, h = check_size(size)
    rng = np.random.default_rng(seed)
    frames = (rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8) for _ in range(num_frames))
    encode(path, frames, width=w, height=h, fps=fps, codec=codec, crf=crf)
    return SynthVideo(Path(path), float(fps), num_frames, w, h, {"seed": seed, "noise": "uniform"})


# ---------------------------------------------------------------------------------------------- counter


def counter(
    path: PathLike,
    *,
    num_frames: int = 120,
    fps: float = 24,
    size: Size = (320, 240),
    codec: str = "libx264",
    crf: int | None = None,
    gop: int | None = None,
) -> SynthVideo:
    """Every frame carries its own index (16-bit block code + a big number): for seek/decode accuracy.

    Any decoded frame tells which source frame it is via `read_counter`, so dropped, duplicated or
    mis-seeked frames show up directly.
    """
    w, h = check_size(size)
    if num_frames > 2**COUNTER_BITS:
        raise ValueError(f"counter encodes at most {2**COUNTER_BITS} frames, got {num_frames}")
    frames = (counter_frame(i, w, h) for i in range(num_frames))
    encode(path, frames, width=w, height=h, fps=fps, codec=codec, crf=crf, gop=gop)
    return SynthVideo(Path(path), float(fps), num_frames, w, h, {"num_frames": num_frames})


# ------------------------------------------------------------------------------------ timing / metadata


_VFR_TIMESCALE = 90000


def vfr(
    path: PathLike,
    *,
    fps_a: float = 30,
    frames_a: int = 30,
    fps_b: float = 10,
    frames_b: int = 10,
    size: Size = (320, 240),
    colors: tuple[RGB, RGB] | None = None,
    crf: int | None = None,
) -> SynthVideo:
    """Variable frame rate H.264: ``frames_a`` at ``fps_a``, then ``frames_b`` at ``fps_b``.

    The picture switches colour (a cut) at the rate change, ``cut_s = frames_a / fps_a`` seconds in,
    and every frame also carries its index in `read_counter` blocks. Built by re-timing a CFR pipe with
    ``setpts`` in a 1/90000 time base and ``-fps_mode passthrough`` (so ffmpeg neither drops nor
    duplicates frames); B-frames are off to keep decode order = presentation order. Exact timestamps
    need mp4/mov (90 kHz track timescale); mkv stores milliseconds.
    """
    w, h = check_size(size)
    col_a, col_b = colors if colors is not None else (PALETTE["blue"], PALETTE["orange"])
    da, db = round(_VFR_TIMESCALE / fps_a), round(_VFR_TIMESCALE / fps_b)  # frame durations in ticks
    n = frames_a + frames_b
    ticks = [i * da if i < frames_a else frames_a * da + (i - frames_a) * db for i in range(n)]
    expr = f"if(lt(N\\,{frames_a})\\,N*{da}\\,{frames_a * da}+(N-{frames_a})*{db})"
    extra = ["-vf", f"settb=1/{_VFR_TIMESCALE},setpts={expr}", "-fps_mode", "passthrough"]
    if Path(path).suffix.lower() in (".mp4", ".mov", ".m4v"):
        extra += ["-video_track_timescale", str(_VFR_TIMESCALE)]
    frames = (counter_frame(i, w, h, bottom=col_a if i < frames_a else col_b) for i in range(n))
    encode(path, frames, width=w, height=h, fps=fps_a, codec="libx264", crf=crf, bframes=0, extra_args=extra)
    duration = (frames_a * da + frames_b * db) / _VFR_TIMESCALE
    truth = {
        "pts_s": [t / _VFR_TIMESCALE for t in ticks],
        "cut_s": frames_a * da / _VFR_TIMESCALE,
        "cut_frame": frames_a,
        "fps_a": fps_a,
        "fps_b": fps_b,
        "scene_colors": [list(col_a), list(col_b)],
        "duration_s": duration,
    }
    return SynthVideo(Path(path), n / duration, n, w, h, truth)


def _normalize_rotation(degrees: float) -> float:
    """Map to [-180, 180), the range PyAV's ``VideoFrame.rotation`` reports (180 -> -180)."""
    return (float(degrees) + 180.0) % 360.0 - 180.0


def rotated(path: PathLike, src: SynthVideo | PathLike, degrees: float) -> SynthVideo:
    """Stream-copy ``src`` into an mp4/mov that carries a display-matrix rotation (no re-encode).

    ``degrees`` is counter-clockwise, as ffmpeg's ``-display_rotation`` input option takes it; PyAV's
    ``frame.rotation`` then reports the same angle normalised to [-180, 180) (270 -> -90). Note the old
    ``rotate`` metadata tag (e.g. phone footage) was clockwise: tag 90 == display_rotation -90.
    truth["display_size"] is what a player shows after applying the rotation.
    """
    out = Path(path)
    if out.suffix.lower() not in (".mp4", ".mov", ".m4v"):
        raise ValueError(f"a display rotation needs an mp4/mov container, got {out.name}")
    if isinstance(src, SynthVideo):
        base = src
    else:
        import av  # only needed to describe an arbitrary source file

        with av.open(str(src)) as container:
            stream = container.streams.video[0]
            n = stream.frames or sum(1 for pkt in container.demux(stream) if pkt.size)
            rate = float(stream.average_rate or stream.guessed_rate or 0) or 1.0
            base = SynthVideo(Path(src), rate, n, stream.codec_context.width, stream.codec_context.height, {})
    with atomic_path(out, keep_suffix=True) as tmp:
        run_ffmpeg(["-y", "-display_rotation", f"{degrees:g}", "-i", str(base.path), "-c", "copy", str(tmp)])
    rot = _normalize_rotation(degrees)
    display = [base.height, base.width] if rot % 180 == 90 else [base.width, base.height]
    truth = {**base.truth, "rotation": rot, "source": str(base.path), "display_size": display}
    return SynthVideo(out, base.fps, base.num_frames, base.width, base.height, truth)


# ------------------------------------------------------------------------------------------------- demo


def demo_corpus(directory: PathLike) -> list[SynthVideo]:
    """Six short, varied clips (<= 3 s, 320x240), some in nested folders, for ``make demo``.

    Covers what a curation run should sort apart: cuts, motion, no motion, on-screen text, black, noise;
    and several containers/codecs so ingest sees more than one kind of file.
    """
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    return [
        scenes(root / "scenes.mp4", cuts=(24, 48), num_frames=72),
        moving_box(root / "motion" / "moving_box.mp4", direction="right", speed_px=4, num_frames=48),
        static(root / "motion" / "still" / "static.mkv", num_frames=48),
        text(root / "text" / "hello_world.mp4", num_frames=48),
        black(root / "black.mp4", num_frames=36),
        noise(root / "motion" / "noise.webm", num_frames=24, codec="libvpx-vp9"),
    ]
