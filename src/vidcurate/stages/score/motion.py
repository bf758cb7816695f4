"""Motion scores: dense optical flow, codec motion vectors, and frame differences.

Units: flow and vector speeds are in frame diagonals per second (a point crossing the whole
frame corner to corner in one second scores 1.0), so they do not depend on the resolution or
on how many frames per second are compared.

- `motion_flow_mean`, `motion_flow_p90`: dense flow (OpenCV DIS or Farneback) between
  consecutive sampled frames (~2 fps, 256 px luma): the mean per-pixel speed, and the 90th
  percentile of per-pixel speed (averaged over frame pairs), which ignores small moving objects.
  Flat areas (under `flat_gradient`, 0.3 grey levels per pixel of local contrast) count as
  still: flow there is unobservable, and DIS reports noise on a dark, flat screen.
- `motion_mv_mean`: the same speed read from the codec's motion vectors (H.264 and MPEG-2/4;
  no pixel work at all). A vector's displacement is divided by the distance, in frames, to the
  reference picture it most likely points to (the nearest I/P picture before or after), so the
  scale is close to the flow's but not identical. Only slice-threaded decoding exports the same
  vectors on every run; the sampler switches to it when this path is on. None for codecs
  whose FFmpeg decoder exports no vectors (HEVC, VP8/VP9, AV1, MJPEG) and for intra-only streams.
- `motion_diff_mean`: mean absolute luma difference between consecutive sampled frames (0..1):
  the fallback that works for every codec.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import cv2
import numpy as np
import pyarrow as pa
from pydantic import Field

from vidcurate.core.frames import ANCHOR_PICTURES, CodecMotion, Frames, FrameSpec
from vidcurate.core.scorer import FrameScorer, ScorerConfig
from vidcurate.core.stage import Columns


class MotionConfig(ScorerConfig):
    flow: bool = Field(True, description="dense optical flow: motion_flow_mean, motion_flow_p90")
    method: Literal["dis", "farneback"] = Field("dis", description="OpenCV dense flow algorithm")
    fps: float = Field(2.0, gt=0, description="sampled frames per second for flow and frame differences")
    max_side: int = Field(256, ge=32, description="longer side of the frames the flow runs on")
    vectors: bool = Field(True, description="codec motion vectors (motion_mv_mean); decodes with slice threads")
    flat_gradient: float = Field(
        0.3, ge=0, description="pixels with less local contrast (grey levels per pixel) count as still in the flow"
    )


class MotionScorer(FrameScorer[MotionConfig]):
    """How much the picture moves: dense flow, codec motion vectors, frame differences."""

    name: ClassVar[str] = "motion"
    columns: ClassVar[Columns] = {
        "motion_flow_mean": pa.float64(),  # frame diagonals per second
        "motion_flow_p90": pa.float64(),
        "motion_mv_mean": pa.float64(),
        "motion_diff_mean": pa.float64(),  # 0..1
    }
    _dis: Any = None  # cv2.DISOpticalFlow, made on first use

    def frame_spec(self) -> FrameSpec:
        cfg = self.config
        return FrameSpec(fps=cfg.fps, max_side=cfg.max_side, gray=True, motion_vectors=cfg.vectors)

    def score(self, frames: Frames) -> dict[str, Any]:
        cfg = self.config
        out = self.empty()
        if cfg.vectors and frames.vectors is not None:
            out["motion_mv_mean"] = vector_speed(frames.vectors)
        pairs = _pairs(frames)
        if not pairs:
            return out
        out["motion_diff_mean"] = float(
            np.mean([cv2.absdiff(frames.data[i], frames.data[i + 1]).mean() / 255.0 for i, _ in pairs])
        )
        if cfg.flow:
            diag = float(np.hypot(frames.width, frames.height))
            means, p90s = [], []
            for i, dt in pairs:
                a, b = frames.data[i], frames.data[i + 1]
                flow = self._flow(a, b)
                speed = cv2.magnitude(flow[..., 0], flow[..., 1]) / (diag * dt)
                speed[~textured(a, cfg.flat_gradient)] = 0.0  # flat areas: unobservable, DIS invents flow there
                means.append(float(speed.mean()))
                p90s.append(float(np.percentile(speed, 90)))
            out["motion_flow_mean"] = float(np.mean(means))
            out["motion_flow_p90"] = float(np.mean(p90s))
        return out

    def _flow(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """(H, W, 2) displacement in pixels from `a` to `b`."""
        if self.config.method == "farneback":
            return cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 3, 15, 3, 5, 1.2, 0)
        if self._dis is None:
            self._dis = cv2.DISOpticalFlow.create(cv2.DISOPTICAL_FLOW_PRESET_FAST)
        return self._dis.calc(a, b, None)


def textured(gray: np.ndarray, min_gradient: float) -> np.ndarray:
    """Pixels with at least `min_gradient` grey levels per pixel of local contrast (smoothed)."""
    gx = cv2.Sobel(gray, cv2.CV_32F, 1, 0)
    gy = cv2.Sobel(gray, cv2.CV_32F, 0, 1)
    grad = cv2.GaussianBlur(cv2.magnitude(gx, gy), (0, 0), 3) / 8.0  # a 3x3 Sobel gains 8x on a ramp
    return grad > min_gradient


def _pairs(frames: Frames) -> list[tuple[int, float]]:
    """(index, seconds to the next frame) of each consecutive pair with a positive interval."""
    dts = np.diff(frames.times_s)
    return [(i, float(dt)) for i, dt in enumerate(dts) if dt > 0]


def vector_speed(v: CodecMotion) -> float | None:
    """Mean block speed from codec vectors, in frame diagonals per second; None without vectors."""
    n = len(v.times_s)
    if n < 2:
        return None
    idx = np.arange(n)
    anchors = idx[np.isin(v.pict_type, ANCHOR_PICTURES)]
    if len(anchors):
        before = np.searchsorted(anchors, idx, side="left") - 1
        after = np.searchsorted(anchors, idx, side="right")
        d_past = np.where(before >= 0, idx - anchors[np.clip(before, 0, None)], 1)
        d_future = np.where(after < len(anchors), anchors[np.clip(after, None, len(anchors) - 1)] - idx, 1)
    else:
        d_past = d_future = np.ones(n)
    d_past, d_future = np.maximum(d_past, 1), np.maximum(d_future, 1)
    area = v.past[:, 0] + v.future[:, 0]
    moved = v.past[:, 1] / d_past + v.future[:, 1] / d_future  # area-weighted px per frame interval
    ok = area > 0
    if not ok.any():
        return None
    px_per_frame = float(np.mean(moved[ok] / area[ok]))
    dt = float(np.median(np.diff(v.times_s)))
    if dt <= 0:
        return None
    return px_per_frame / dt / float(np.hypot(v.width, v.height))
