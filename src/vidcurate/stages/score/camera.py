"""Camera motion: the global motion of the picture, from tracked corners and a RANSAC fit.

Between consecutive sampled frames (~4 fps, 320 px luma) corners, picked cell by cell over a
4x4 grid so the background gets its share, are tracked with pyramidal Lucas-Kanade
(forward-backward checked), and a similarity transform (shift, rotation, scale) is
fitted with RANSAC, so objects moving in front of a still camera are outliers, not camera motion.

Directions name what the CAMERA does, as a cinematographer would: when the content slides to
the left the camera is panning right (`pan_right`); content sliding down means `tilt_up`;
content growing means `zoom_in`.

- `camera_motion`: static, pan_left, pan_right, tilt_up, tilt_down, zoom_in, zoom_out, or
  complex (directions disagree over the clip, or pan and tilt together); None when nothing in
  the picture can be tracked (a black or flat clip).
- `camera_pan_speed`: speed of the camera's sideways/up-down motion, frame diagonals per second
  (the median over frame pairs).
- `camera_zoom_rate`: log of the scale change per second (+ zoom in, - zoom out; 0.1 is ~10 %/s).
- `camera_shake`: the camera path's typical jitter around its ~1 s moving average, in frame
  diagonals (median over frames; 0.01 = the picture jumps about 1 % of its diagonal).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import cv2
import numpy as np
import pyarrow as pa
from pydantic import Field

from vidcurate.core.frames import Frames, FrameSpec
from vidcurate.core.scorer import FrameScorer, ScorerConfig
from vidcurate.core.stage import Columns

LABELS = ("static", "pan_left", "pan_right", "tilt_up", "tilt_down", "zoom_in", "zoom_out", "complex")


class CameraConfig(ScorerConfig):
    fps: float = Field(4.0, gt=0, description="sampled frames per second")
    max_side: int = Field(320, ge=64, description="longer side of the analysed frames")
    max_points: int = Field(300, ge=20, description="corners tracked per frame pair")
    static_speed: float = Field(
        0.01, ge=0, description="below this (frame diagonals per second, pan or zoom) the camera is static"
    )
    min_agreement: float = Field(
        0.7, ge=0.5, le=1.0, description="share of frame pairs that must move the same way for a directional label"
    )


@dataclass(frozen=True)
class PairMotion:
    """The camera's motion between two frames: velocity (diagonals/s, camera frame), zoom (log/s)."""

    vx: float
    vy: float
    zoom: float
    dx: float  # camera displacement over the pair, diagonals
    dy: float


class CameraScorer(FrameScorer[CameraConfig]):
    """What the camera does: static, pan, tilt, zoom or complex, plus speed and shake."""

    name: ClassVar[str] = "camera"
    columns: ClassVar[Columns] = {
        "camera_motion": pa.string(),  # static|pan_left|pan_right|tilt_up|tilt_down|zoom_in|zoom_out|complex
        "camera_pan_speed": pa.float64(),
        "camera_zoom_rate": pa.float64(),
        "camera_shake": pa.float64(),
    }

    def frame_spec(self) -> FrameSpec:
        cfg = self.config
        return FrameSpec(fps=cfg.fps, max_side=cfg.max_side, gray=True)

    def score(self, frames: Frames) -> dict[str, Any]:
        cfg = self.config
        moves = []
        for i in range(len(frames) - 1):
            dt = float(frames.times_s[i + 1] - frames.times_s[i])
            if dt > 0:
                m = pair_motion(frames.data[i], frames.data[i + 1], dt, cfg.max_points)
                if m is not None:
                    moves.append(m)
        out = self.empty()
        if not moves:
            return out
        vx = np.array([m.vx for m in moves])
        vy = np.array([m.vy for m in moves])
        zoom = np.array([m.zoom for m in moves])
        mx, my, mz = float(np.median(vx)), float(np.median(vy)), float(np.median(zoom))
        out["camera_pan_speed"] = float(np.hypot(mx, my))
        out["camera_zoom_rate"] = mz
        out["camera_shake"] = shake([m.dx for m in moves], [m.dy for m in moves], cfg.fps)
        out["camera_motion"] = label(vx, vy, zoom, cfg.static_speed, cfg.min_agreement)
        return out


_LK_WIN, _LK_LEVELS = (15, 15), 3  # Lucas-Kanade window and pyramid levels


def corners(gray: np.ndarray, max_points: int, grid: int = 4) -> np.ndarray | None:
    """Corners spread over a grid x grid layout, each cell picking its own best ones.

    One strongly textured object (a checkered ball, a logo) would otherwise hold every corner
    whose quality is within 1 % of the best, and RANSAC would then follow the object, not the
    background the camera moves over.
    """
    h, w = gray.shape
    per_cell = max(2, -(-max_points // (grid * grid)))
    found = []
    for i in range(grid):
        for j in range(grid):
            y0, y1, x0, x1 = i * h // grid, (i + 1) * h // grid, j * w // grid, (j + 1) * w // grid
            pts = cv2.goodFeaturesToTrack(
                gray[y0:y1, x0:x1], maxCorners=per_cell, qualityLevel=0.01, minDistance=7, blockSize=7
            )
            if pts is not None:
                found.append(pts + np.array([x0, y0], np.float32))
    return np.concatenate(found).astype(np.float32) if found else None


def tracked(a: np.ndarray, b: np.ndarray, max_points: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Corners of gray frame `a` and where they are in `b`, kept when tracking back lands within a
    pixel of the start (forward-backward check); None when fewer than 8 survive."""
    p0 = corners(a, max_points)
    if p0 is None or len(p0) < 8:
        return None
    p1, st1, _ = cv2.calcOpticalFlowPyrLK(a, b, p0, None, winSize=_LK_WIN, maxLevel=_LK_LEVELS)
    back, st2, _ = cv2.calcOpticalFlowPyrLK(b, a, p1, None, winSize=_LK_WIN, maxLevel=_LK_LEVELS)
    ok = (st1.ravel() == 1) & (st2.ravel() == 1) & (np.linalg.norm((p0 - back).reshape(-1, 2), axis=1) < 1.0)
    return (p0[ok], p1[ok]) if ok.sum() >= 8 else None


def pair_motion(a: np.ndarray, b: np.ndarray, dt: float, max_points: int) -> PairMotion | None:
    """Camera motion from frame `a` to `b`, or None when too little can be tracked."""
    pts = tracked(a, b, max_points)
    if pts is None:
        return None
    h, w = a.shape
    diag = float(np.hypot(w, h))
    m, inliers = cv2.estimateAffinePartial2D(
        pts[0], pts[1], method=cv2.RANSAC, ransacReprojThreshold=max(1.0, 0.003 * diag)
    )
    if m is None or inliers is None or inliers.sum() < 6:
        return None
    scale = float(np.hypot(m[0, 0], m[1, 0]))
    if scale <= 0:
        return None
    centre = np.array([w / 2, h / 2, 1.0])
    shift = m @ centre - centre[:2]  # where the frame centre's content went, pixels
    dx, dy = -shift / diag  # the camera moves against its content
    return PairMotion(vx=dx / dt, vy=dy / dt, zoom=float(np.log(scale)) / dt, dx=float(dx), dy=float(dy))


def label(vx: np.ndarray, vy: np.ndarray, zoom: np.ndarray, static_speed: float, min_agreement: float) -> str:
    """One label from per-pair camera velocities (diagonals/s, image axes: +x right, +y down)."""
    mx, my, mz = float(np.median(vx)), float(np.median(vy)), float(np.median(zoom))
    pan = float(np.hypot(mx, my))
    zoom_speed = abs(mz) * 0.5  # a frame corner's speed under that zoom, diagonals per second
    if max(pan, zoom_speed) < static_speed:
        return "static"
    if zoom_speed >= pan:
        agree = float(np.mean(np.sign(zoom) == np.sign(mz)))
        name = "zoom_in" if mz > 0 else "zoom_out"
    else:
        big, small = max(abs(mx), abs(my)), min(abs(mx), abs(my))
        if small > 0.5 * big:  # diagonal: pan and tilt at once
            return "complex"
        if abs(mx) >= abs(my):
            agree = float(np.mean(np.sign(vx) == np.sign(mx)))
            name = "pan_right" if mx > 0 else "pan_left"
        else:
            agree = float(np.mean(np.sign(vy) == np.sign(my)))
            name = "tilt_down" if my > 0 else "tilt_up"
    return name if agree >= min_agreement else "complex"


def shake(dx: list[float], dy: list[float], fps: float) -> float:
    """Median distance (diagonals) between the camera path and its ~1 s moving average.

    The median, not the mean: a frame pair where RANSAC locked onto a passing car is one outlier,
    while a shaking camera jitters in most pairs. Odd reflection at the ends keeps a steady pan
    at exactly zero shake.
    """
    if len(dx) < 3:
        return 0.0
    path = np.concatenate([[[0.0, 0.0]], np.cumsum(np.stack([dx, dy], axis=1), axis=0)])
    k = min(max(3, round(fps) | 1), (len(path) - 1) | 1)  # odd window of about one second
    pad = np.pad(path, ((k // 2, k // 2), (0, 0)), mode="reflect", reflect_type="odd")
    kernel = np.ones(k) / k
    smooth = np.stack([np.convolve(pad[:, j], kernel, mode="valid") for j in range(2)], axis=1)
    return float(np.median(np.linalg.norm(path - smooth, axis=1)))
