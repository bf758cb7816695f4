"""The `split` stage: one video row in, one row per single-shot clip out.

Clips are virtual: a clip row keeps the parent's `path` and names its span (`start_s`/`end_s`
from presentation timestamps, `start_frame`/`end_frame` as decoded frame indices, end exclusive);
later stages decode just that span, and `cut` turns it into a file when asked. Clip ids derive
from the parent id and the span, so a rerun gives the same ids. A clip that is too short, black,
or trimmed away is not dropped silently: it is rejected with the reason.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field, model_validator

from vidcurate.core import schema
from vidcurate.core.stage import Resources, RowStage, StageConfig
from vidcurate.stages.split.detectors import frames_before, scan
from vidcurate.stages.split.spans import plan_clips

if TYPE_CHECKING:
    from vidcurate.stages.split.transnet import TransNetV2Runner

Detector = Literal["content", "adaptive", "transnetv2", "stride"]

CLIP_COLUMNS = (
    "parent_id",
    "start_s",
    "end_s",
    "start_frame",
    "end_frame",
    "num_frames",
    "duration_s",
    "split_score",
)


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
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="transnetv2: where the model runs")
    batch_windows: int = Field(8, ge=1, description="transnetv2: 100-frame windows per inference batch")

    @model_validator(mode="after")
    def _consistent(self) -> SplitConfig:
        if self.max_clip_s is not None and self.max_clip_s < self.min_clip_s:
            raise ValueError(f"max_clip_s ({self.max_clip_s}) must be >= min_clip_s ({self.min_clip_s})")
        if self.detector == "transnetv2" and self.threshold is not None and not 0 < self.threshold < 1:
            raise ValueError(f"transnetv2 threshold is a probability in (0, 1), got {self.threshold}")
        return self


class SceneSplitter(RowStage):
    """Splits each video row into clip rows (see the module docstring)."""

    name: ClassVar[str] = "split"
    Config: ClassVar[type[StageConfig]] = SplitConfig
    resources: ClassVar[Resources] = Resources(cpus=1.0)

    def needs(self) -> Resources:
        """TransNetV2 asks the Ray engine for a GPU share unless told to stay on the CPU."""
        cfg = self.config
        if cfg.detector == "transnetv2" and cfg.device != "cpu":  # type: ignore[attr-defined]
            return Resources(cpus=1.0, gpus=0.25, gpu_mem_gb=1.0)
        return self.resources
    requires: ClassVar[tuple[str, ...]] = ("id", "path")
    provides: ClassVar[tuple[str, ...]] = CLIP_COLUMNS

    def __init__(self, config: StageConfig | None = None) -> None:
        super().__init__(config)
        self._transnet: TransNetV2Runner | None = None

    def setup(self) -> None:
        cfg: SplitConfig = self.config  # type: ignore[assignment]
        if cfg.detector == "transnetv2" and self._transnet is None:
            from vidcurate.stages.split.transnet import TransNetV2Runner

            self._transnet = TransNetV2Runner(cfg.device, cfg.batch_windows)

    def process_row(self, row: dict[str, Any]) -> dict[str, Any] | list[dict[str, Any]]:
        cfg: SplitConfig = self.config  # type: ignore[assignment]
        if row.get("media") == "image":
            return {k: row.get(k) for k in CLIP_COLUMNS}  # nothing to split; the row passes unchanged
        if cfg.detector == "transnetv2":
            self.setup()  # a no-op after the first call; lets process() work without the engine
        path, parent = row["path"], row["id"]
        start_s, end_s = row.get("start_s"), row.get("end_s")
        found = scan(path, cfg, start_s=start_s, end_s=end_s, transnet=self._transnet)
        base = row.get("start_frame")
        if base is None:
            base = frames_before(path, start_s) if start_s else 0
        clips = plan_clips(
            found.times,
            found.boundaries,
            min_scene_s=0.0 if cfg.detector == "stride" else cfg.min_scene_s,
            max_clip_s=cfg.max_clip_s,
            min_clip_s=cfg.min_clip_s,
            trim_s=cfg.trim_s,
            black=found.black,
        )
        t = found.times
        out: list[dict[str, Any]] = []
        for c in clips:
            first, stop = base + c.start, base + c.end
            out.append(
                {
                    "id": schema.stable_id(parent, "clip", first, stop),
                    "parent_id": parent,
                    "start_s": float(t[c.start]),
                    "end_s": float(t[c.end]),
                    "start_frame": first,
                    "end_frame": stop,
                    "num_frames": c.end - c.start,
                    "num_frames_src": "counted",
                    "duration_s": float(t[c.end] - t[c.start]),
                    "duration_src": "timestamps",
                    "split_score": c.score,
                    schema.REJECT: None if c.reject is None else f"split: {c.reject}",
                }
            )
        return out
