"""What frame scorers ask for (`FrameSpec`) and what they get (`Frames`).

Frames never enter the manifest. A stage that looks at pixels declares a `FrameSpec` per scorer;
the decoder takes the union, decodes the clip once, and hands each scorer a read-only `Frames`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class FrameSpec:
    """Which frames, at what size and colour.

    Exactly one selection: `fps` (frames per second of the span), `num` (N frames spread
    uniformly over the span), `keyframes` (only key frames), or none of them (every frame).
    `max_side` bounds the longer side after rotation (aspect kept; never upscales); `width`
    fixes the width instead. `gray` gives the luma plane (H, W) instead of RGB (H, W, 3).
    `motion_vectors` also asks for the codec's motion vectors of every decoded frame of the span
    (`Frames.vectors`); the decoder then exports them and decodes with slice threads only, since
    frame threads give vectors that vary from run to run.
    """

    fps: float | None = None
    num: int | None = None
    keyframes: bool = False
    max_side: int | None = None
    width: int | None = None
    gray: bool = False
    motion_vectors: bool = False

    def __post_init__(self) -> None:
        chosen = sum(x is not None and x is not False for x in (self.fps, self.num, self.keyframes or None))
        if chosen > 1:
            raise ValueError("FrameSpec: choose one of fps, num, keyframes")
        if self.fps is not None and self.fps <= 0:
            raise ValueError("FrameSpec: fps must be > 0")
        if self.num is not None and self.num <= 0:
            raise ValueError("FrameSpec: num must be > 0")
        if self.max_side is not None and self.width is not None:
            raise ValueError("FrameSpec: give max_side or width, not both")

    @property
    def every_frame(self) -> bool:
        return self.fps is None and self.num is None and not self.keyframes

    @property
    def look(self) -> tuple[int | None, int | None, bool]:
        """Frames with the same look (size rule and colour) share one conversion."""
        return (self.max_side, self.width, self.gray)


# AVPictureType codes (frame.pict_type): frames other pictures are predicted from.
ANCHOR_PICTURES = (1, 2, 4, 5, 6)  # I, P, S, SI, SP


@dataclass(frozen=True)
class CodecMotion:
    """Summaries of the codec's motion vectors, one row per decoded frame of the span.

    Not the vectors themselves (thousands per frame), but what motion scores need: per frame and
    per reference direction (a past or a future picture), the block area the vectors cover and the
    area-weighted sums of |v|, v_x and v_y, in pixels of the coded frame. FFmpeg's convention is
    src = dst + v: v points from a block to where it came from in the reference picture.
    """

    times_s: np.ndarray  # (M,) float64
    pict_type: np.ndarray  # (M,) int8, AVPictureType (1 I, 2 P, 3 B, ...)
    past: np.ndarray  # (M, 4) float64: area, sum(area*|v|), sum(area*v_x), sum(area*v_y)
    future: np.ndarray  # (M, 4) float64, same for vectors from a future reference
    width: int  # coded size the vectors are measured in
    height: int


@dataclass(frozen=True)
class Frames:
    """Decoded frames of one clip for one scorer: a read-only (N, H, W[, 3]) uint8 array."""

    data: np.ndarray
    times_s: np.ndarray  # presentation time of each frame, seconds from the start of the file
    keyframe: np.ndarray  # bool per frame
    spec: FrameSpec
    src_width: int = 0  # displayed size of the source (after rotation)
    src_height: int = 0
    span: tuple[float, float] = (0.0, 0.0)
    vectors: CodecMotion | None = None  # when the spec asked for motion_vectors and the codec has them
    row: Mapping[str, Any] | None = None  # the clip's manifest row (a scorer comparing to a caption reads it)

    def __len__(self) -> int:
        return int(self.data.shape[0])

    @property
    def height(self) -> int:
        return int(self.data.shape[1]) if len(self) else 0

    @property
    def width(self) -> int:
        return int(self.data.shape[2]) if len(self) else 0


@dataclass
class DecodeStats:
    """Counts for one decode pass: tests use them to prove a clip is decoded once."""

    opens: int = 0
    packets: int = 0
    frames: int = 0  # frames decoded (not only those kept)
    errors: int = 0  # packets the decoder rejected (skipped, not fatal)
    converted: int = 0  # frame conversions made (shared between scorers with the same look)
    messages: list[str] = field(default_factory=list)
    error_times: list[float | None] = field(default_factory=list)  # each rejected packet's time (s), if it has one

    def add(self, other: DecodeStats) -> None:
        """Add another pass's counts to these totals (messages are per pass, not summed)."""
        self.opens += other.opens
        self.packets += other.packets
        self.frames += other.frames
        self.errors += other.errors
        self.converted += other.converted
