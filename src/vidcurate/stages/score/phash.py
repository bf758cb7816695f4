"""Perceptual signature of a clip: a 64-bit pHash of each frame sampled at `fps`, in time order.

pHash (Zauner 2010): the frame's luma shrunk to 32x32, its 2-D DCT, and of the 8x8 lowest
frequencies one bit each: above the median of the 63 AC terms or not. Re-encoding, rescaling,
small crops and brightness changes move a few bits; a different picture moves about half. Frames
sampled at a fixed rate from the clip's start make a trimmed copy's signature a shifted copy of
the original's, which `dedup.phash` finds. `phash_flip` is the signature of the mirrored frames
(for `flip_invariant` matching): mirroring negates the DCT terms of odd horizontal frequency. A
flat frame (a fade, a black screen) carries no picture: its hash is 0 and it never matches.
"""

from __future__ import annotations

from typing import Any, ClassVar

import cv2
import numpy as np
import pyarrow as pa
from pydantic import Field

from vidcurate.core.frames import Frames, FrameSpec
from vidcurate.core.scorer import FrameScorer, ScorerConfig
from vidcurate.core.stage import Columns

# 1 for DCT terms (v, u) that keep their sign in a mirrored image, -1 for those that flip (u odd)
_MIRROR = np.where(np.arange(8)[None, :] % 2 == 1, -1.0, 1.0).repeat(8, axis=0).astype(np.float32)
_WEIGHTS = (1 << np.arange(63, -1, -1, dtype=np.uint64)).astype(np.uint64)


class PhashConfig(ScorerConfig):
    fps: float = Field(1.0, gt=0, le=10, description="frames per second hashed (the same for every clip compared)")
    flat_std: float = Field(2.0, ge=0, description="a 32x32 frame flatter than this (luma std) gets no hash")


def _bits(dct8: np.ndarray) -> int:
    flat = dct8.reshape(-1)
    bits = flat > np.median(flat[1:])
    return int((bits.astype(np.uint64) * _WEIGHTS).sum(dtype=np.uint64))


def phash_pair(gray: np.ndarray, flat_std: float = 2.0) -> tuple[int, int]:
    """(pHash, pHash of the mirrored frame) of one luma frame, as unsigned 64-bit ints; (0, 0) if flat."""
    small = cv2.resize(gray, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)
    if float(small.std()) < flat_std:
        return 0, 0
    d = cv2.dct(small)[:8, :8]
    return _bits(d), _bits(d * _MIRROR)


def to_signed(h: int) -> int:
    """A 64-bit hash as Arrow's int64 (the same bits)."""
    return h - (1 << 64) if h >= 1 << 63 else h


class PhashScorer(FrameScorer[PhashConfig]):
    """Per-frame pHash sequence of a clip at a fixed rate (the signature `dedup.phash` matches)."""

    name: ClassVar[str] = "phash"
    columns: ClassVar[Columns] = {
        "phash_sig": pa.list_(pa.int64()),
        "phash_flip": pa.list_(pa.int64()),
        "phash_fps": pa.float64(),
    }

    def frame_spec(self) -> FrameSpec:
        return FrameSpec(fps=self.config.fps, max_side=160, gray=True)

    def score(self, frames: Frames) -> dict[str, Any]:
        pairs = [phash_pair(f, self.config.flat_std) for f in frames.data]
        return {
            "phash_sig": [to_signed(a) for a, _ in pairs],
            "phash_flip": [to_signed(b) for _, b in pairs],
            "phash_fps": self.config.fps,
        }
