"""Detections -> tracks -> what each track did: entry and exit (side and time), velocity, direction,
approach or recession, colour, the detection worth a reference crop.

Association is greedy per sampled frame, on the reference canvas (camera motion removed): overlap
with the track's predicted box first, then centre distance within a gate that widens with the gap;
a track survives `max_gap` frames without a detection. Velocities are fitted (least squares) to the
canvas centres, so they are the object's own motion, not the camera's; sides and boxes are in the
frame, as a viewer sees them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vidcurate.stages.track.detect import Detection

COLORS: dict[str, tuple[int, int, int]] = {
    "red": (200, 40, 40), "green": (40, 170, 60), "blue": (40, 60, 200), "yellow": (220, 205, 50),
    "orange": (235, 120, 30), "purple": (150, 60, 180), "pink": (235, 130, 180), "cyan": (40, 190, 200),
    "brown": (120, 80, 45), "white": (235, 235, 235), "black": (20, 20, 20), "gray": (128, 128, 128),
}  # fmt: skip
SIDES = ("left", "right", "top", "bottom")
# An object first seen this many sampled frames' travel from a border, moving away from it, came in
# through it (an edge of a pan, or a blob that grows before it is big enough, is seen late).
EDGE_STEPS = 3


@dataclass
class Track:
    dets: list[Detection] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    velocity: tuple[float, float] = (0.0, 0.0)  # canvas pixels per sampled frame, for prediction

    def predicted(self, frame: int) -> tuple[float, float, float, float]:
        x0, y0, x1, y1 = self.dets[-1].world
        k = frame - self.dets[-1].frame
        return (
            x0 + self.velocity[0] * k,
            y0 + self.velocity[1] * k,
            x1 + self.velocity[0] * k,
            y1 + self.velocity[1] * k,
        )


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _centre(b: tuple[float, ...]) -> tuple[float, float]:
    return (b[0] + b[2]) / 2, (b[1] + b[3]) / 2


def associate(
    per_frame: list[list[Detection]], times: list[float], diag: float, *, max_gap: int = 2, gate: float = 0.12
) -> list[Track]:
    tracks: list[Track] = []
    active: list[Track] = []
    for f, dets in enumerate(per_frame):
        active = [t for t in active if f - t.dets[-1].frame <= max_gap + 1]
        pairs = []
        for ti, t in enumerate(active):
            pred = t.predicted(f)
            pc = _centre(pred)
            limit = gate * diag * (f - t.dets[-1].frame)
            for di, d in enumerate(dets):
                iou = _iou(pred, d.world)
                dist = float(np.hypot(*(np.subtract(_centre(d.world), pc))))
                if iou > 0.05 or dist <= limit:
                    pairs.append((iou + max(0.0, 1 - dist / max(limit, 1e-6)) * 0.5, ti, di))
        used_t, used_d = set(), set()
        for _, ti, di in sorted(pairs, reverse=True):
            if ti in used_t or di in used_d:
                continue
            used_t.add(ti)
            used_d.add(di)
            t, d = active[ti], dets[di]
            (ax, ay), (bx, by) = _centre(t.dets[-1].world), _centre(d.world)
            k = d.frame - t.dets[-1].frame
            t.velocity = ((bx - ax) / k, (by - ay) / k) if len(t.dets) == 1 else (
                0.5 * t.velocity[0] + 0.5 * (bx - ax) / k, 0.5 * t.velocity[1] + 0.5 * (by - ay) / k)  # fmt: skip
            t.dets.append(d)
            t.times.append(times[f])
        for di, d in enumerate(dets):
            if di not in used_d:
                t = Track([d], [times[f]])
                tracks.append(t)
                active.append(t)
    return tracks


def color_name(rgb: tuple[float, float, float]) -> str:
    x = np.asarray(rgb, dtype=np.float64)
    return min(COLORS, key=lambda n: float(np.sum((np.asarray(COLORS[n]) - x) ** 2)))


def _touches(box: tuple[float, ...], w: int, h: int, margin: float) -> list[str]:
    out = []
    if box[0] <= margin * w:
        out.append("left")
    if box[2] >= w - margin * w:
        out.append("right")
    if box[1] <= margin * h:
        out.append("top")
    if box[3] >= h - margin * h:
        out.append("bottom")
    return out


def describe(
    t: Track, w: int, h: int, clip: tuple[float, float], *, margin: float = 0.02, still: float = 0.03
) -> dict[str, Any]:
    """The `tracks` struct of one track (boxes normalised to the frame, velocities in frames/s)."""
    ts = np.asarray(t.times)
    cx = np.array([_centre(d.world)[0] for d in t.dets])
    cy = np.array([_centre(d.world)[1] for d in t.dets])
    vx = float(np.polyfit(ts, cx, 1)[0]) / w if len(ts) > 1 and np.ptp(ts) > 0 else 0.0
    vy = float(np.polyfit(ts, cy, 1)[0]) / h if len(ts) > 1 and np.ptp(ts) > 0 else 0.0
    speed = float(np.hypot(vx, vy))
    if speed < still:
        direction = "still"
    elif abs(vx) >= abs(vy):
        direction = "right" if vx > 0 else "left"
    else:
        direction = "down" if vy > 0 else "up"
    first, last = t.dets[0], t.dets[-1]
    step = float(np.median(np.diff(ts))) if len(ts) > 1 else 0.0
    # in-frame motion (what a viewer sees), to tell where an object came from and went to
    fx = np.array([_centre(d.box)[0] for d in t.dets])
    fy = np.array([_centre(d.box)[1] for d in t.dets])
    k = min(len(ts), 4)
    fvx = float(np.polyfit(ts[:k], fx[:k], 1)[0]) if k > 1 and np.ptp(ts[:k]) > 0 else 0.0
    fvy = float(np.polyfit(ts[:k], fy[:k], 1)[0]) if k > 1 and np.ptp(ts[:k]) > 0 else 0.0
    lvx = float(np.polyfit(ts[-k:], fx[-k:], 1)[0]) if k > 1 and np.ptp(ts[-k:]) > 0 else 0.0
    lvy = float(np.polyfit(ts[-k:], fy[-k:], 1)[0]) if k > 1 and np.ptp(ts[-k:]) > 0 else 0.0

    def side(box: tuple[float, ...], dx: float, dy: float) -> str | None:
        """The border the box crosses when moved by (dx, dy) pixels (back in time for an entry)."""
        moved = (box[0] + dx, box[1] + dy, box[2] + dx, box[3] + dy)
        touching = _touches(moved, w, h, margin)
        if not touching:
            return None
        score = {"left": -dx, "right": dx, "top": -dy, "bottom": dy}
        return max(touching, key=lambda s: score[s])

    reach = EDGE_STEPS * step
    enter = side(first.box, -fvx * reach, -fvy * reach) if t.times[0] > clip[0] + step / 2 else None
    leave = side(last.box, lvx * reach, lvy * reach) if t.times[-1] < clip[1] - step / 2 else None
    clear = [d for d in t.dets if not _touches(d.box, w, h, margin)]
    areas = [(d.box[2] - d.box[0]) * (d.box[3] - d.box[1]) for d in clear]
    scale = None
    if len(areas) >= 4:
        k = max(1, len(areas) // 3)
        scale = float(np.median(areas[-k:])) / max(float(np.median(areas[:k])), 1e-6)
    depth = None if scale is None else "approaching" if scale > 1.25 else "receding" if scale < 0.8 else "steady"
    weights = np.array([d.area for d in t.dets])
    color = tuple(np.average(np.array([d.color for d in t.dets]), axis=0, weights=weights))
    steps = np.hypot(np.diff(cx), np.diff(cy)) / np.maximum(np.diff(ts), 1e-6) if len(ts) > 2 else np.zeros(0)
    regular = None
    if len(steps) and float(np.mean(steps)) > 0:
        regular = max(0.0, 1.0 - float(np.std(steps)) / float(np.mean(steps)))
    best = max(clear or t.dets, key=lambda d: (d.box[2] - d.box[0]) * (d.box[3] - d.box[1]))
    return {
        "times_s": [float(x) for x in ts],
        "boxes": [[d.box[0] / w, d.box[1] / h, d.box[2] / w, d.box[3] / h] for d in t.dets],
        "enter_s": float(ts[0]) if enter else None,
        "exit_s": float(ts[-1]) if leave else None,
        "enter_side": enter,
        "exit_side": leave,
        "vx": vx,
        "vy": vy,
        "speed": speed,
        "direction": direction,
        "scale_change": scale,
        "depth": depth,
        "color": color_name(color),
        "regularity": regular,
        "_best": best,
    }
