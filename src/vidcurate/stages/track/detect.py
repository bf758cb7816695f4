"""Moving things in a clip's frames: align the frames (camera motion), model the background, cut out
what differs from it.

Consecutive frames are related by a similarity transform fitted to tracked background corners
(RANSAC, as the camera scorer does), chained to the first frame, so every frame is warped into one
reference canvas (a slow pan widens it). The background is the per-pixel median over the aligned
frames: a thing that moves is somewhere else in most of them. A pixel is foreground where its
colour differs from the background by more than `threshold` in some channel; opening and closing
clean the mask, and each connected component of at least `min_area` is one detection, mapped back
to its frame's coordinates.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import cv2
import numpy as np

from vidcurate.stages.score.camera import tracked

MAX_SHARE = 0.6  # a component whose box covers more of the canvas is a global change, not an object


@dataclass(frozen=True)
class Detection:
    frame: int
    box: tuple[float, float, float, float]  # frame pixels x0, y0, x1, y1
    world: tuple[float, float, float, float]  # the same box in the reference canvas
    area: float  # foreground pixels
    color: tuple[float, float, float]  # mean RGB of its foreground pixels


def similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray | None:
    """2x3 matrix taking points of gray frame `a` to `b` (background motion), or None."""
    pts = tracked(a, b, 300)
    if pts is None:
        return None
    m, inl = cv2.estimateAffinePartial2D(pts[0], pts[1], method=cv2.RANSAC, ransacReprojThreshold=1.5)
    return m if m is not None and inl is not None and inl.sum() >= 6 else None


def to_reference(grays: list[np.ndarray], still_px: float) -> list[np.ndarray]:
    """Per frame, the 3x3 transform from its coordinates to frame 0's (identity for a still camera)."""
    eye = np.eye(3)
    steps = []
    for a, b in itertools.pairwise(grays):
        m = similarity(a, b)
        steps.append(eye if m is None else np.vstack([m, [0, 0, 1]]))
    shifts = [float(np.hypot(s[0, 2], s[1, 2])) for s in steps]
    if not steps or np.median(shifts) < still_px:
        return [eye] * len(grays)
    out = [eye]
    for s in steps:  # frame t+1 -> frame t is inv(step); chain back to frame 0
        out.append(out[-1] @ np.linalg.inv(s))
    return out


def _warp_box(m: np.ndarray, box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = box
    pts = np.array([[x0, y0, 1], [x1, y0, 1], [x0, y1, 1], [x1, y1, 1]], dtype=np.float64) @ m.T
    return float(pts[:, 0].min()), float(pts[:, 1].min()), float(pts[:, 0].max()), float(pts[:, 1].max())


def detect(
    frames: list[np.ndarray], *, threshold: float = 30.0, min_area: float = 0.002, still_px: float = 0.3
) -> tuple[list[list[Detection]], bool]:
    """Detections per frame (RGB uint8 frames of one size), and whether the camera moved."""
    if len(frames) < 3:
        return [[] for _ in frames], False
    h, w = frames[0].shape[:2]
    grays = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames]
    ref = to_reference(grays, still_px)
    moved = any(not np.allclose(m, np.eye(3)) for m in ref)
    corners_ref = [_warp_box(m, (0, 0, w, h)) for m in ref]
    ox = min(0.0, min(c[0] for c in corners_ref))
    oy = min(0.0, min(c[1] for c in corners_ref))
    cw = int(np.ceil(max(float(w), max(c[2] for c in corners_ref)) - ox))
    ch = int(np.ceil(max(float(h), max(c[3] for c in corners_ref)) - oy))
    shift = np.array([[1, 0, -ox], [0, 1, -oy], [0, 0, 1]], dtype=np.float64)
    warps = [(shift @ m)[:2] for m in ref]
    aligned = np.full((len(frames), ch, cw, 3), np.nan, dtype=np.float32)
    for i, (f, m) in enumerate(zip(frames, warps, strict=True)):
        img = cv2.warpAffine(f.astype(np.float32), m, (cw, ch), flags=cv2.INTER_LINEAR, borderValue=(-1, -1, -1))
        img[img[..., 0] < 0] = np.nan
        aligned[i] = img
    with np.errstate(all="ignore"):
        background = np.nanmedian(aligned, axis=0)
    # a canvas pixel seen in few frames (the edge of a pan) has no trustworthy median: never motion
    seen = np.isfinite(aligned[..., 0]).sum(axis=0)
    trusted = seen >= min(len(frames), max(5, len(frames) // 4))
    kernel_open = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
    kernel_close = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))
    min_px = min_area * w * h
    out: list[list[Detection]] = []
    for i, m in enumerate(warps):
        delta = aligned[i] - background
        # exposure drift (auto exposure, a cloud) shifts every pixel: take the frame's typical shift out
        with np.errstate(all="ignore"):
            drift = np.nanmedian(delta[trusted], axis=0) if trusted.any() else np.zeros(3)
        diff = np.nan_to_num(np.abs(delta - np.nan_to_num(drift)).max(axis=2), nan=0.0)
        mask = ((diff > threshold) & trusted).astype(np.uint8)
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, kernel_open)
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, kernel_close)
        n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        inv = np.linalg.inv(np.vstack([m, [0, 0, 1]]))
        found = []
        for k in range(1, n):
            x, y, bw, bh, area = (int(v) for v in stats[k])
            if area < min_px or bw * bh > MAX_SHARE * cw * ch:  # specks; a whole-picture change is no object
                continue
            world = (float(x), float(y), float(x + bw), float(y + bh))
            fx0, fy0, fx1, fy1 = _warp_box(inv, world)
            box = (max(0.0, fx0), max(0.0, fy0), min(float(w), fx1), min(float(h), fy1))
            if box[2] - box[0] < 2 or box[3] - box[1] < 2:
                continue
            inside = (slice(y, y + bh), slice(x, x + bw))  # the component lies in its box: compare only there
            pix = aligned[i][inside][labels[inside] == k]
            color = tuple(float(c) for c in np.nanmean(pix, axis=0))
            found.append(Detection(i, box, world, float(area), color))  # type: ignore[arg-type]
        out.append(found)
    return out, moved
