"""Image quality of a few frames: BRISQUE, sharpness, exposure, colour, black frames, bars.

Measured on `frames` RGB frames spread over the clip. BRISQUE looks at native-resolution crops
(`crop` px, three across the middle of each frame): that is where blur, blocking and noise are
visible; on a downscaled frame an upscaled, over-compressed copy scores better than its original.
The other measures use the frames downscaled to `max_side` (sharpness depends on the resolution,
so compare clips scored with the same settings).

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
- `quality_clip_iqa` (with `iqa_model`: a CLIP model by name, Hub id or folder): CLIP-IQA's
  zero-shot score, the softmax of the frames' similarity to "Good photo." against "Bad photo."
  (Wang et al. 2023): 0..1, HIGHER IS BETTER.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any, ClassVar

import cv2
import numpy as np
import pyarrow as pa
from pydantic import Field

from vidcurate.core.errors import ConfigError
from vidcurate.core.frames import Frames, FrameSpec
from vidcurate.core.scorer import INSTALL_HINT, FrameScorer
from vidcurate.core.stage import Columns, Resources
from vidcurate.models.device import ModelOptions

_MIN_BAR = 0.015  # thinner dark edges are not bars


class QualityConfig(ModelOptions):
    frames: int = Field(8, ge=1, description="frames spread over the clip")
    max_side: int = Field(512, ge=64, description="longer side of the frames blur, colour and bars are measured on")
    brisque: bool = Field(True, description="compute quality_brisque (needs the brisque package's model)")
    brisque_frames: int = Field(3, ge=1, description="frames BRISQUE runs on (the costly part), among `frames`")
    crop: int = Field(256, ge=64, description="side of the native-resolution crops BRISQUE scores")
    black_luma: int = Field(25, ge=0, le=255, description="luma (0..255) at or below which a pixel is black")
    iqa_model: str | None = Field(None, description="CLIP model for quality_clip_iqa (name, Hub id or folder)")


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
        "quality_clip_iqa": pa.float64(),
    }
    _brisque: Any = None
    _iqa_path: Path | None = None
    _iqa: Any = None
    _iqa_txt: Any = None  # the IQA prompts, embedded once

    def frame_spec(self) -> FrameSpec:
        cfg = self.config
        return FrameSpec(num=cfg.frames, max_side=None if cfg.brisque else cfg.max_side)

    def check(self) -> None:
        """BRISQUE needs the brisque package's model files and libsvm; the other measures need nothing."""
        if self.config.brisque:
            from vidcurate.stages.score.brisque_svm import model_dir

            model_dir()
            if importlib.util.find_spec("libsvm") is None:
                raise ConfigError(f"quality_brisque needs the package libsvm-official: {INSTALL_HINT}")
        if self.config.iqa_model is not None:
            from vidcurate.models.store import ensure

            self._iqa_path = ensure(self.config.iqa_model, "scorer 'quality' (iqa_model)")

    def needs(self) -> Resources:
        if self.config.iqa_model is None:
            return self.resources
        from vidcurate.models.device import model_resources

        return model_resources(self.config.device, 2.0)

    def setup(self) -> None:
        if self.config.brisque and self._brisque is None:
            from vidcurate.stages.score.brisque_svm import Brisque

            self._brisque = Brisque()
        if self.config.iqa_model is not None and self._iqa is None:
            from vidcurate.models.clip import load_clip
            from vidcurate.models.device import pick_device, pick_dtype

            if self._iqa_path is None:
                self.check()
            assert self._iqa_path is not None
            device = pick_device(self.config.device)
            self._iqa = load_clip(self._iqa_path, device, pick_dtype(self.config.dtype, device))
            self._iqa_txt = self._iqa.texts(list(IQA_PROMPTS))  # the prompts never change: encoded once

    def teardown(self) -> None:
        self._iqa = None
        self._iqa_txt = None

    def score(self, frames: Frames) -> dict[str, Any]:
        cfg = self.config
        out = self.empty()
        if not len(frames):
            return out
        native = list(frames.data)
        small = [_fit(f, cfg.max_side) for f in native]
        grays = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in small]
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
        inner = [(small[i][top:bottom, left:right], grays[i][top:bottom, left:right]) for i in lit]
        out["blur_laplacian_var"] = float(np.mean([cv2.Laplacian(g, cv2.CV_64F).var() for _, g in inner]))
        out["colorfulness"] = float(np.mean([colorfulness(rgb) for rgb, _ in inner]))
        if cfg.brisque:
            pick = np.unique(np.linspace(0, len(lit) - 1, min(cfg.brisque_frames, len(lit))).round().astype(int))
            k = native[0].shape[0] / h  # bars found on the small frames, cut from the native ones
            box = (round(top * k), round(bottom * k), round(left * k), round(right * k))
            crops = [c for i in pick for c in native_crops(native[lit[i]], box, cfg.crop)]
            out["quality_brisque"] = float(np.mean([self._brisque.score(c) for c in crops]))
        if self._iqa is not None:
            out["quality_clip_iqa"] = clip_iqa(self._iqa, [native[i] for i in lit], cfg.batch_size, self._iqa_txt)
        return out


def _fit(rgb: np.ndarray, max_side: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    if max(h, w) <= max_side:
        return rgb
    s = max_side / max(h, w)
    return cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)


def native_crops(rgb: np.ndarray, box: tuple[int, int, int, int], size: int) -> list[np.ndarray]:
    """Three `size` crops across the middle of the picture inside `box` (the whole picture if smaller)."""
    top, bottom, left, right = box
    pic = rgb[top:bottom, left:right]
    h, w = pic.shape[:2]
    s = min(size, h, w)
    y = (h - s) // 2
    xs = sorted({int(x) for x in np.linspace(0, w - s, 3)})
    return [pic[y : y + s, x : x + s] for x in xs]


IQA_PROMPTS = ("Good photo.", "Bad photo.")


def clip_iqa(model: Any, frames: list[np.ndarray], batch_size: int, txt: np.ndarray) -> float:
    """CLIP-IQA: mean over frames of softmax(100 x cos) for "Good photo." against "Bad photo."

    `txt`: the two prompts' embeddings (`model.texts(IQA_PROMPTS)`, made once per worker)."""
    img = model.images(frames, batch_size)
    logits = 100.0 * img @ txt.T
    logits -= logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    return float((p[:, 0] / p.sum(axis=1)).mean())


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
