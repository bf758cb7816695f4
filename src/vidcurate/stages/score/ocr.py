"""On-screen text with RapidOCR (PP-OCRv4 detection + recognition, ONNX models in the wheel).

A few frames spread over the clip are decoded at most `max_side` pixels on the longer side and
the detector runs at that size (`det_limit_side_len`, limit type "max": it never upscales). The
defaults of RapidOCR upscale the shorter side to 736 px, which costs ~300 ms a frame; at 640 px
a frame without text costs ~40 ms (detection only), one with a few lines ~100-300 ms, since each
box found is also recognised. The angle classifier is off (video text is upright).

- `ocr_area_ratio`: largest share of a frame covered by text boxes (union of the boxes).
- `ocr_num_boxes`: most text boxes found in one frame.
- `ocr_text`: the distinct strings read, in reading order, first frame first (None with
  `recognize: false`, or when nothing was read).
"""

from __future__ import annotations

from typing import Any, ClassVar

import cv2
import numpy as np
import pyarrow as pa
from pydantic import Field

from vidcurate.core.errors import ConfigError
from vidcurate.core.frames import Frames, FrameSpec
from vidcurate.core.scorer import FrameScorer, ScorerConfig, import_model_package
from vidcurate.core.stage import Columns


class OcrConfig(ScorerConfig):
    frames: int = Field(3, ge=1, description="frames spread over the clip")
    max_side: int = Field(640, ge=64, description="longer side the frames are decoded and detected at")
    recognize: bool = Field(True, description="read the text (ocr_text); false: detection only, ~2x faster")
    min_score: float = Field(0.5, ge=0, le=1, description="recognition confidence a box needs to count")
    threads: int = Field(1, ge=1, description="onnxruntime threads (the engine already runs one worker per core)")
    max_text_chars: int = Field(500, ge=1, description="ocr_text is cut to this length")


class OcrScorer(FrameScorer[OcrConfig]):
    """Text on screen: area covered, number of boxes, and the words read."""

    name: ClassVar[str] = "ocr"
    columns: ClassVar[Columns] = {"ocr_area_ratio": pa.float64(), "ocr_num_boxes": pa.int64(), "ocr_text": pa.string()}
    packages: ClassVar[tuple[tuple[str, str], ...]] = (("rapidocr_onnxruntime", "rapidocr-onnxruntime"),)
    _engine: Any = None

    def frame_spec(self) -> FrameSpec:
        cfg = self.config
        return FrameSpec(num=cfg.frames, max_side=cfg.max_side)

    def setup(self) -> None:
        if self._engine is not None:
            return
        cfg = self.config
        mod = import_model_package(self.name, "rapidocr_onnxruntime", "rapidocr-onnxruntime")
        try:
            self._engine = mod.RapidOCR(
                det_limit_side_len=cfg.max_side,
                det_limit_type="max",
                text_score=cfg.min_score,
                intra_op_num_threads=cfg.threads,
                inter_op_num_threads=1,
            )
        except Exception as e:  # a model file missing or unreadable inside the package
            raise ConfigError(
                f"scorer 'ocr': cannot load the RapidOCR models ({type(e).__name__}: {e}); "
                "reinstall rapidocr-onnxruntime"
            ) from None

    def score(self, frames: Frames) -> dict[str, Any]:
        cfg = self.config
        out = self.empty()
        if not len(frames):
            return out
        areas, counts, texts = [], [], []
        for rgb in frames.data:
            boxes, words = self.read(rgb)
            areas.append(box_area_ratio(boxes, rgb.shape[0], rgb.shape[1]))
            counts.append(len(boxes))
            texts += [w for w in words if w and w not in texts]
        out["ocr_area_ratio"] = float(max(areas))
        out["ocr_num_boxes"] = int(max(counts))
        if cfg.recognize and texts:
            out["ocr_text"] = " ".join(texts)[: cfg.max_text_chars]
        return out

    def read(self, rgb: np.ndarray) -> tuple[list[np.ndarray], list[str]]:
        """Text boxes (4x2 corner arrays) of one RGB frame, and the strings read in them."""
        cfg = self.config
        bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)  # PP-OCR models were trained on BGR input
        result, _ = self._engine(bgr, use_det=True, use_cls=False, use_rec=cfg.recognize)
        if not result:
            return [], []
        if cfg.recognize:
            return [np.asarray(r[0], np.float32) for r in result], [str(r[1]).strip() for r in result]
        return [np.asarray(r, np.float32) for r in result], []


def box_area_ratio(boxes: list[np.ndarray], height: int, width: int) -> float:
    """Share of the frame inside the union of the quadrilaterals (overlaps counted once)."""
    if not boxes:
        return 0.0
    mask = np.zeros((height, width), np.uint8)
    for b in boxes:  # one call per box: several polygons in one fillPoly overlap by the even-odd rule
        cv2.fillPoly(mask, [np.round(b).astype(np.int32).reshape(-1, 1, 2)], 1)
    return float(mask.mean())
