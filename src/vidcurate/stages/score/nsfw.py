"""Nudity with NudeNet's detector (a YOLOv8n ONNX model shipped inside the `nudenet` wheel).

The model scores, for each of ~2,100 anchor boxes on a 320x320 input, 18 classes ("FACE_FEMALE",
"BELLY_COVERED", "FEMALE_BREAST_EXPOSED", ...). `nsfw_prob` is the highest score of an
exposed-and-explicit class (`classes`) over every anchor of every sampled frame: the confidence
of the most certain explicit detection. NudeNet itself reports detections from 0.2 up.

We run the model ourselves (same preprocessing as `nudenet.NudeDetector`: pad to a square at the
bottom/right, resize to 320, RGB in [0, 1]) to batch the frames of a clip in one call and keep
the raw class scores instead of thresholded, NMS-filtered boxes.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any, ClassVar

import cv2
import numpy as np
import pyarrow as pa
from pydantic import Field, field_validator

from vidcurate.core.errors import ConfigError
from vidcurate.core.frames import Frames, FrameSpec
from vidcurate.core.scorer import INSTALL_HINT, FrameScorer, ScorerConfig, import_model_package
from vidcurate.core.stage import Columns

# Output order of nudenet 3.4's 320n.onnx (nudenet/nudenet.py); checked against the model at setup.
LABELS = (
    "FEMALE_GENITALIA_COVERED",
    "FACE_FEMALE",
    "BUTTOCKS_EXPOSED",
    "FEMALE_BREAST_EXPOSED",
    "FEMALE_GENITALIA_EXPOSED",
    "MALE_BREAST_EXPOSED",
    "ANUS_EXPOSED",
    "FEET_EXPOSED",
    "BELLY_COVERED",
    "FEET_COVERED",
    "ARMPITS_COVERED",
    "ARMPITS_EXPOSED",
    "FACE_MALE",
    "BELLY_EXPOSED",
    "MALE_GENITALIA_EXPOSED",
    "ANUS_COVERED",
    "FEMALE_BREAST_COVERED",
    "BUTTOCKS_COVERED",
)
EXPLICIT = (
    "BUTTOCKS_EXPOSED",
    "FEMALE_BREAST_EXPOSED",
    "FEMALE_GENITALIA_EXPOSED",
    "MALE_GENITALIA_EXPOSED",
    "ANUS_EXPOSED",
)
INPUT = 320


class NsfwConfig(ScorerConfig):
    frames: int = Field(3, ge=1, description="frames spread over the clip")
    classes: tuple[str, ...] = Field(EXPLICIT, description="NudeNet classes that count as NSFW")
    threads: int = Field(1, ge=1, description="onnxruntime threads")

    @field_validator("classes")
    @classmethod
    def _known(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [c for c in v if c not in LABELS]
        if unknown or not v:
            bad = unknown[0] if unknown else "(none given)"
            raise ValueError(f"unknown class {bad}; choose from {', '.join(LABELS)}")
        return v


class NsfwScorer(FrameScorer[NsfwConfig]):
    """Probability that a clip shows nudity (max over frames of NudeNet's explicit classes)."""

    name: ClassVar[str] = "nsfw"
    columns: ClassVar[Columns] = {"nsfw_prob": pa.float64()}
    packages: ClassVar[tuple[tuple[str, str], ...]] = (("nudenet", "nudenet"), ("onnxruntime", "onnxruntime"))
    _session: Any = None

    def frame_spec(self) -> FrameSpec:
        cfg = self.config
        return FrameSpec(num=cfg.frames, max_side=INPUT)

    def setup(self) -> None:
        if self._session is not None:
            return
        cfg = self.config
        ort = import_model_package(self.name, "onnxruntime", "onnxruntime")
        model = model_path()
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = cfg.threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        try:
            session = ort.InferenceSession(str(model), sess_options=opts, providers=["CPUExecutionProvider"])
        except Exception as e:
            msg = f"scorer 'nsfw': cannot load {model} ({type(e).__name__}: {e}); reinstall nudenet"
            raise ConfigError(msg) from None
        channels = session.get_outputs()[0].shape[1]
        if channels != 4 + len(LABELS):
            raise ConfigError(
                f"scorer 'nsfw': {model} has {channels - 4} classes, expected {len(LABELS)} "
                "(a nudenet release other than 3.4?): pip install 'nudenet>=3.4,<3.5'"
            )
        self._session = session

    def score(self, frames: Frames) -> dict[str, Any]:
        cfg = self.config
        if not len(frames):
            return self.empty()
        batch = np.stack([preprocess(f) for f in frames.data])
        (raw,) = self._session.run(None, {self._session.get_inputs()[0].name: batch})
        return {"nsfw_prob": nsfw_prob(raw, cfg.classes)}


def model_path() -> Path:
    """320n.onnx inside the installed nudenet package (found without importing it)."""
    spec = importlib.util.find_spec("nudenet")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"scorer 'nsfw' needs the package nudenet: {INSTALL_HINT}")
    path = Path(next(iter(spec.submodule_search_locations))) / "320n.onnx"
    if not path.is_file():
        raise ConfigError(f"scorer 'nsfw': the NudeNet model {path} is missing; reinstall nudenet")
    return path


def preprocess(rgb: np.ndarray) -> np.ndarray:
    """(3, 320, 320) float32 in [0, 1]: padded to a square at the bottom/right, then resized."""
    h, w = rgb.shape[:2]
    side = max(h, w)
    square = cv2.copyMakeBorder(rgb, 0, side - h, 0, side - w, cv2.BORDER_CONSTANT, value=(0, 0, 0))
    img = cv2.resize(square, (INPUT, INPUT), interpolation=cv2.INTER_LINEAR)
    return np.ascontiguousarray(img.transpose(2, 0, 1), dtype=np.float32) / 255.0


def nsfw_prob(raw: np.ndarray, classes: tuple[str, ...] = EXPLICIT) -> float:
    """Highest score of `classes` over frames and anchors; raw is (frames, 4 + classes, anchors)."""
    rows = [4 + LABELS.index(c) for c in classes]
    if raw.ndim != 3 or raw.shape[1] != 4 + len(LABELS) or raw.shape[0] == 0:
        raise ValueError(f"NudeNet output of shape {raw.shape}, expected (frames, {4 + len(LABELS)}, anchors)")
    return float(np.clip(raw[:, rows, :].max(), 0.0, 1.0))
