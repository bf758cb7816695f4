"""The split stage's parameters (one model for every detector; each field says which detector reads it)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from vidcurate.core.stage import StageConfig

Detector = Literal["content", "adaptive", "transnetv2", "stride"]


class SplitConfig(StageConfig):
    """Which detector, and how cuts become clips. Times are seconds."""

    detector: Detector = Field("content", description="content | adaptive | transnetv2 | stride")
    threshold: float | None = Field(
        None,
        ge=0,
        description="cut threshold in the detector's units: content 27 (PySceneDetect's HSV change, 0-255), "
        "adaptive 3.0 (score over its neighbours'), transnetv2 0.5 (probability)",
    )
    min_scene_s: float = Field(
        0.6, ge=0, description="a cut closer than this to the previous one is ignored (PySceneDetect: 15 frames)"
    )
    max_clip_s: float | None = Field(None, gt=0, description="longer scenes are split into equal windows")
    min_clip_s: float = Field(0.0, ge=0, description="shorter clips are rejected")
    trim_s: float = Field(0.0, ge=0, description="frames this close to a cut are dropped from both clips")
    fade_threshold: float | None = Field(
        None, ge=0, le=255, description="mean brightness below which a frame is black: fades through black "
        "become cuts and black frames are trimmed from clip ends (off when unset)"
    )  # fmt: skip
    window_s: float = Field(10.0, gt=0, description="stride: window length")
    luma_only: bool = Field(
        False,
        description="content/adaptive: compare brightness only (faster; blind to equally bright colours)",
    )
    analysis_width: int = Field(256, ge=16, description="content/adaptive: frames are downscaled to this width")
    adaptive_window: int = Field(2, ge=1, description="adaptive: frames each side in the rolling average")
    adaptive_min_content: float = Field(15.0, ge=0, description="adaptive: minimum content score for a cut")
    ranges: int = Field(
        0,
        ge=0,
        description="content/adaptive: time ranges of one long video scanned side by side (0: the worker's share "
        "of the cores, at least 2)",
    )
    ranges_min_s: float = Field(
        300.0, gt=0, description="content/adaptive: spans at least this long are scanned in ranges (same cuts)"
    )
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="transnetv2: where the model runs")
    batch_windows: int = Field(8, ge=1, description="transnetv2: 100-frame windows per inference batch")

    @model_validator(mode="after")
    def _consistent(self) -> SplitConfig:
        if self.max_clip_s is not None and self.max_clip_s < self.min_clip_s:
            raise ValueError(f"max_clip_s ({self.max_clip_s}) must be >= min_clip_s ({self.min_clip_s})")
        if self.detector == "transnetv2" and self.threshold is not None and not 0 < self.threshold < 1:
            raise ValueError(f"transnetv2 threshold is a probability in (0, 1), got {self.threshold}")
        return self
