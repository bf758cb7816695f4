"""Image quality of a few frames: BRISQUE, sharpness, exposure, colour, black frames, bars.

Measured on `frames` RGB frames spread over the clip, downscaled to `max_side` (sharpness and
BRISQUE depend on the resolution, so compare clips scored with the same settings).

- `black_frame_ratio`: share of frames that are black, as ffmpeg's blackdetect defines it: at
  least 98 % of the pixels at or below `black_luma` (about 10 % of the video luma range).
- `letterbox_ratio`: share of the frame covered by black bars (top/bottom letterbox, left/right
  pillarbox): rows and columns at the edges that stay dark in every non-black frame. 0.0 when
  there are none, or when every frame is black (then there is no picture to frame).
- The rest are measured inside the bars, on non-black frames, averaged over frames:
  `quality_brisque` (BRISQUE, about 0 pristine to 100 badly distorted: LOWER IS BETTER; on
  `brisque_frames` of them), `blur_laplacian_var` (variance of the Laplacian: low is blurry),
  `colorfulness` (Hasler and Suesstrunk 2003: 0 grey, ~15 slightly, ~60 quite, >100 very colourful).
  `brightness_mean` and `contrast_std` (mean and standard deviation of luma, 0..255) use all frames.
"""

from __future__ import annotations

import importlib.util
from typing import Any, ClassVar

import cv2
import numpy as np
import pyarrow as pa
from pydantic import Field

from vidcurate.core.errors import ConfigError
from vidcurate.core.frames import Frames, FrameSpec
from vidcurate.core.scorer import INSTALL_HINT, FrameScorer, ScorerConfig
from vidcurate.core.stage import Columns

_MIN_BAR = 0.015  # thinner dark edges are not bars


class QualityConfig(ScorerConfig):
    frames: int = Field(8, ge=1, description="frames spread over the clip")
    max_side: int = Field(512, ge=64, description="longer side of the analysed frames")
    brisque: bool = Field(True, description="compute quality_brisque (needs the brisque package's model)")
    brisque_frames: int = Field(3, ge=1, description="frames BRISQUE runs on (the costly part), among `frames`")
    black_luma: int = Field(25, ge=0, le=255, description="luma (0..255) at or below which a pixel is black")


class QualityScorer(FrameScorer[QualityConfig]):
    """Image quality: BRISQUE, blur, brightness, contrast, colourfulness, black frames, bars."""

    name: ClassVar[str] = "quality"
    columns: ClassVar[Columns] = {
        "quality_brisque": pa.float64(),
        "blur_laplacian_var": pa.float64(),
        "brightness_mean": pa.float64(),
        "contrast_std": pa.float64(),
        "colorfulness": pa.float64(),
        "black_frame_ratio": pa.float64(),
        "letterbox_ratio": pa.float64(),
    }
    _brisque: Any = None

    def frame_spec(self) -> FrameSpec:
        cfg = self.config
        return FrameSpec(num=cfg.frames, max_side=cfg.max_side)

    def check(self) -> None:
        """BRISQUE needs the brisque package's model files and libsvm; the other measures need nothing."""
        if self.config.brisque:
            from vidcurate.stages.score.brisque_svm import model_dir

            model_dir()
            if importlib.util.find_spec("libsvm") is None:
                raise ConfigError(f"quality_brisque needs the package libsvm-official: {INSTALL_HINT}")

    def setup(self) -> None:
        if self.config.brisque and self._brisque is None:
            from vidcurate.stages.score.brisque_svm import Brisque

            self._brisque = Brisque()

    def score(self, frames: Frames) -> dict[str, Any]:
        cfg = self.config
        out = self.empty()
        if not len(frames):
            return out
        grays = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames.data]
        black = np.array([np.mean(g <= cfg.black_luma) >= 0.98 for g in grays])
        out["black_frame_ratio"] = float(black.mean())
        out["brightness_mean"] = float(np.mean([g.mean() for g in grays]))
        out["contrast_std"] = float(np.mean([g.std() for g in grays]))
        lit = [i for i in range(len(grays)) if not black[i]]
        if not lit:
            out["letterbox_ratio"] = 0.0
            return out
        top, bottom, left, right = bars(np.max([grays[i] for i in lit], axis=0), cfg.black_luma)
        h, w = grays[0].shape
        out["letterbox_ratio"] = 1.0 - (bottom - top) * (right - left) / (h * w)
        inner = [(frames.data[i][top:bottom, left:right], grays[i][top:bottom, left:right]) for i in lit]
        out["blur_laplacian_var"] = float(np.mean([cv2.Laplacian(g, cv2.CV_64F).var() for _, g in inner]))
        out["colorfulness"] = float(np.mean([colorfulness(rgb) for rgb, _ in inner]))
        if cfg.brisque:
            pick = np.unique(np.linspace(0, len(inner) - 1, min(cfg.brisque_frames, len(inner))).round().astype(int))
            out["quality_brisque"] = float(np.mean([self._brisque.score(inner[i][0]) for i in pick]))
        return out


def bars(peak: np.ndarray, black_luma: int) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) of the picture inside dark edge rows/columns of `peak`.

    `peak` is the per-pixel maximum over frames: a bar stays dark in all of them. A row or column
    is dark when fewer than 2 % of its pixels are brighter than `black_luma` (noise, a logo). An
    edge thinner than 1.5 % of the frame is an encoding artefact, not a bar (1.85:1 film in a
    16:9 frame leaves bars of 1.9 %).
    """
    h, w = peak.shape
    bright = peak > black_luma
    rows = np.flatnonzero(bright.mean(axis=1) >= 0.02)
    cols = np.flatnonzero(bright.mean(axis=0) >= 0.02)
    if not len(rows) or not len(cols):
        return 0, h, 0, w
    top, bottom, left, right = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    top = top if top >= _MIN_BAR * h else 0
    bottom = bottom if h - bottom >= _MIN_BAR * h else h
    left = left if left >= _MIN_BAR * w else 0
    right = right if w - right >= _MIN_BAR * w else w
    return top, bottom, left, right


def colorfulness(rgb: np.ndarray) -> float:
    """Hasler and Suesstrunk's colourfulness metric of an RGB image (0 for grey)."""
    r, g, b = (rgb[..., k].astype(np.float32) for k in range(3))
    rg = r - g
    yb = 0.5 * (r + g) - b
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))
