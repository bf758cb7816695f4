"""Synthetic scenes with objects on known trajectories, for the tracker and the QA generator.

A textured world (wider than the frame when the camera pans) with coloured shapes moving at known
velocities, optionally growing (an object coming towards the camera), entering and leaving the
frame. `truth["objects"]` gives, per object, its colour name, its world velocity (pixels per
second), its growth, and per frame its box in frame coordinates (None when out of view);
`truth["camera"]` says how the camera pans. Answers to spatial questions follow from these.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vidcurate.testing.frames import PALETTE, PathLike, SynthVideo, encode, textured_background


@dataclass(frozen=True)
class Mover:
    color: str  # a PALETTE name
    x: float  # world position of the centre at frame 0, pixels
    y: float
    vx: float  # pixels per frame (world)
    vy: float
    size: float  # side (square) or diameter (disk) at frame 0
    grow: float = 1.0  # size factor per frame (>1: approaching)
    shape: str = "square"


def scene(
    path: PathLike,
    movers: Sequence[Mover],
    *,
    size: tuple[int, int] = (320, 240),
    fps: float = 10.0,
    num_frames: int = 60,
    pan_px: float = 0.0,
    seed: int = 0,
) -> SynthVideo:
    """Render the scene; `pan_px` moves the camera right by that many pixels per frame."""
    w, h = size
    world_w = int(w + abs(pan_px) * num_frames + 8)
    rng = np.random.default_rng(seed)
    world = (textured_background(rng, world_w, h).astype(np.float32) * 0.6 + 40).astype(np.uint8)  # muted
    start = 0.0 if pan_px >= 0 else world_w - w - 4.0
    boxes: list[list[list[float] | None]] = [[] for _ in movers]

    def frames() -> Iterator[np.ndarray]:
        for t in range(num_frames):
            cam = start + pan_px * t
            x0 = round(cam)
            img = world[:, x0 : x0 + w].copy()
            for k, m in enumerate(movers):
                s = m.size * m.grow**t
                cx, cy = m.x + m.vx * t - x0, m.y + m.vy * t
                color = tuple(int(c) for c in PALETTE[m.color])
                if m.shape == "disk":
                    cv2.circle(img, (round(cx), round(cy)), round(s / 2), color, -1, cv2.LINE_AA)
                else:
                    p0 = (round(cx - s / 2), round(cy - s / 2))
                    p1 = (round(cx + s / 2), round(cy + s / 2))
                    cv2.rectangle(img, p0, p1, color, -1)
                box = [max(0.0, cx - s / 2), max(0.0, cy - s / 2), min(float(w), cx + s / 2), min(float(h), cy + s / 2)]
                boxes[k].append(
                    [box[0] / w, box[1] / h, box[2] / w, box[3] / h] if box[2] > box[0] and box[3] > box[1] else None
                )
            yield img

    encode(path, frames(), width=w, height=h, fps=fps, codec="libx264", crf=18)
    objects = [
        {
            "color": m.color,
            "velocity_px_s": [m.vx * fps, m.vy * fps],
            "grow_per_s": m.grow**fps,
            "boxes": boxes[k],
        }
        for k, m in enumerate(movers)
    ]
    truth: dict[str, Any] = {"objects": objects, "camera": {"pan_px_s": pan_px * fps}, "fps": fps}
    return SynthVideo(Path(path), fps, num_frames, w, h, truth)


def standard(path: PathLike, *, pan_px: float = 0.0, seed: int = 0) -> SynthVideo:
    """The test scene: a red square crossing left to right (enters and leaves), a blue disk rising
    and growing (approaching), a slower green square moving left and leaving at the left."""
    movers = [
        Mover("red", x=-20, y=40, vx=7.0, vy=0.0, size=36),
        Mover("blue", x=270, y=215, vx=0.0, vy=-2.2, size=26, grow=1.012, shape="disk"),
        Mover("green", x=200, y=120, vx=-4.0, vy=0.0, size=28),
    ]
    return scene(path, movers, pan_px=pan_px, seed=seed, num_frames=70)
