"""The pieces every synthetic video is made of: the result type, textures, the encoder, frame counters.

Frames are drawn with numpy/OpenCV from a seeded RNG (so the same call gives byte-identical
frames) and encoded with the bundled ffmpeg. `counter` frames carry their own index as 16 blocks,
so a test reads back exactly which source frame a clip or a sampler returned (`read_counter`).
Sizes are ``(width, height)`` like ffmpeg's ``-s``; frames are ``(H, W, 3)`` uint8 RGB.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vidcurate.io.ffmpeg import FrameWriter

PathLike = str | os.PathLike[str]
RGB = tuple[int, int, int]
Size = tuple[int, int]

# Well separated (pairwise RGB distance > 80) and away from 0/255, so mild texture never clips and the
# per-frame mean colour of an encoded frame is unambiguously nearest to its own entry.
PALETTE: dict[str, RGB] = {
    "red": (200, 40, 40),
    "green": (40, 170, 60),
    "blue": (40, 60, 200),
    "yellow": (220, 205, 50),
    "magenta": (190, 50, 190),
    "cyan": (40, 190, 200),
    "orange": (235, 120, 30),
    "gray": (128, 128, 128),
}

COUNTER_BITS = 16
_COUNTER_COLS = 8  # 2 rows x 8 blocks = 16 bits, MSB first, in the top third of the frame
_COUNTER_ROW_FRAC = 1 / 6  # each block row is 1/6 of the frame height


@dataclass(frozen=True)
class SynthVideo:
    """One generated file and its ground truth. ``fps`` is the nominal (for VFR: average) rate."""

    path: Path
    fps: float
    num_frames: int
    width: int
    height: int
    truth: dict[str, Any]

    @property
    def duration_s(self) -> float:
        return float(self.truth.get("duration_s", self.num_frames / self.fps))


# ----------------------------------------------------------------------------------------------- helpers


def check_size(size: Size) -> Size:
    w, h = int(size[0]), int(size[1])
    if w <= 0 or h <= 0 or w % 2 or h % 2:
        raise ValueError(f"size must be a positive, even (width, height), got {size}")
    return w, h


def smooth_noise(rng: np.random.Generator, h: int, w: int, cell: int) -> np.ndarray:
    """Low-frequency texture in [-1, 1]: random values on a coarse grid, cubic-upsampled."""
    gh, gw = h // cell + 3, w // cell + 3
    small = rng.uniform(-1.0, 1.0, size=(gh, gw)).astype(np.float32)
    big = cv2.resize(small, (gw * cell, gh * cell), interpolation=cv2.INTER_CUBIC)[:h, :w]
    return big / max(float(np.abs(big).max()), 1e-6)


def textured_background(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """A muted, structured 'scene' (blocks + texture) whose red channel stays below ~160.

    Kept dark-ish and red-poor so the bright yellow/red box of `moving_box` is trivially separable.
    """
    img = np.empty((h, w, 3), np.float32)
    img[:] = (95, 115, 100)
    for _ in range(7):
        x0, y0 = int(rng.integers(0, w - 20)), int(rng.integers(0, h - 20))
        x1, y1 = x0 + int(rng.integers(20, w // 2)), y0 + int(rng.integers(20, h // 2))
        color = tuple(float(c) for c in rng.integers(55, 125, size=3))
        cv2.rectangle(img, (x0, y0), (x1, y1), color, thickness=-1)
    img += 22 * smooth_noise(rng, h, w, 24)[..., None]
    img += 8 * smooth_noise(rng, h, w, 4)[..., None]
    return np.clip(img, 0, 255).round().astype(np.uint8)


def encode(
    path: PathLike,
    frames: Iterable[np.ndarray],
    *,
    width: int,
    height: int,
    fps: float,
    codec: str,
    crf: int | None,
    gop: int | None = None,
    bframes: int | None = None,
    extra_args: Sequence[str] = (),
) -> int:
    n = 0
    with FrameWriter(
        path, width, height, fps, codec=codec, crf=crf, gop=gop, bframes=bframes, extra_args=extra_args
    ) as writer:
        for frame in frames:
            writer.write(frame)
            n += 1
    return n


def filter_escape(value: str) -> str:
    """Escape a filter option value for an ffmpeg filtergraph (option level, then graph level)."""
    v = value.replace("\\", "\\\\").replace("'", "\\'").replace(":", "\\:")
    return "".join("\\" + ch if ch in "\\'[],;" else ch for ch in v)


def nearest_palette(rgb: Sequence[float], colors: Sequence[Sequence[int]] | None = None) -> int:
    """Index of the palette colour (or of ``colors``) nearest to ``rgb`` — how tests classify frames."""
    pal = np.asarray(list(PALETTE.values()) if colors is None else colors, np.float64)
    return int(np.argmin(((pal - np.asarray(rgb, np.float64)) ** 2).sum(axis=1)))


# ------------------------------------------------------------------------------------------- generators


def _block_rect(r: int, c: int, w: int, h: int) -> tuple[int, int, int, int]:
    x0, x1 = round(c * w / _COUNTER_COLS), round((c + 1) * w / _COUNTER_COLS)
    y0, y1 = round(r * h * _COUNTER_ROW_FRAC), round((r + 1) * h * _COUNTER_ROW_FRAC)
    return x0, y0, x1, y1


def counter_frame(index: int, w: int, h: int, bottom: RGB | None = None) -> np.ndarray:
    """Index as 16 black/white blocks (top third) over either a drawn number or a solid ``bottom``."""
    img = np.empty((h, w, 3), np.uint8)
    img[:] = (200, 200, 200) if bottom is None else bottom
    rows = COUNTER_BITS // _COUNTER_COLS
    for k in range(COUNTER_BITS):
        bit = (index >> (COUNTER_BITS - 1 - k)) & 1
        x0, y0, x1, y1 = _block_rect(k // _COUNTER_COLS, k % _COUNTER_COLS, w, h)
        img[y0:y1, x0:x1] = 255 if bit else 0
    if bottom is None:
        label = str(index)
        band_top = round(rows * h * _COUNTER_ROW_FRAC)
        band_h = h - band_top
        thickness = max(2, round(h / 60))
        (tw, th), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, 1.0, thickness)
        scale = min(0.8 * w / tw, 0.5 * band_h / th)
        (tw, th), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
        org = ((w - tw) // 2, band_top + (band_h + th) // 2)
        cv2.putText(img, label, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thickness, cv2.LINE_AA)
    return img


def read_counter(frame_rgb: np.ndarray) -> int:
    """Decode the frame index drawn by `counter` (or `vfr`) from a decoded RGB frame.

    Samples the middle of each block by *relative* position, so a proportionally resized frame reads
    the same. Raises ValueError when a block is neither clearly black nor clearly white (not a counter
    frame, or badly damaged).
    """
    if frame_rgb.ndim not in (2, 3):
        raise ValueError(f"expected an (H, W[, 3]) image, got shape {frame_rgb.shape}")
    gray = frame_rgb.astype(np.float32)
    if gray.ndim == 3:
        gray = gray.mean(axis=2)
    h, w = gray.shape
    half = max(1, int(min(w / _COUNTER_COLS, h * _COUNTER_ROW_FRAC) * 0.2))
    value = 0
    for k in range(COUNTER_BITS):
        r, c = divmod(k, _COUNTER_COLS)
        cx = int((c + 0.5) * w / _COUNTER_COLS)
        cy = int((r + 0.5) * h * _COUNTER_ROW_FRAC)
        v = float(gray[max(cy - half, 0) : cy + half + 1, max(cx - half, 0) : cx + half + 1].mean())
        if 70.0 < v < 185.0:
            raise ValueError(f"counter block {k} is ambiguous (mean level {v:.0f}); not a counter frame?")
        value = (value << 1) | int(v >= 128.0)
    return value
