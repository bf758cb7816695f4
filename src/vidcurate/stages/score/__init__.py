"""The `score` stage: any subset of the frame scorers, each clip decoded once for all of them.

    - score:
        scorers:
          motion: {fps: 2, max_side: 256}
          camera: {}
          quality: {frames: 8}
          ocr: {frames: 2}
          nsfw: {frames: 2}

A list of names (`scorers: [motion, quality]`) takes every scorer's defaults. Scorers come from the
scorer registry (built-ins and the `vidcurate.scorers` entry-point group). Each scorer is also a
stage of its own (`score.motion`, `score.ocr`, ...) with the scorer's parameters, decoding again
each time it runs; the fused stage is what recipes should use.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import Field, SerializeAsAny, ValidationError, field_validator

from vidcurate.core import registry
from vidcurate.core.errors import ConfigError
from vidcurate.core.recipe import format_validation_error
from vidcurate.core.scorer import FrameScorer, ScorerConfig
from vidcurate.core.stage import StageConfig
from vidcurate.stages.score.runner import DEFAULT_MAX_FRAMES, ScorerStage

__all__ = ["ScoreConfig", "ScoreStage"]

DEFAULT_SCORERS = ("motion", "camera", "quality")  # no model files: cheap anywhere


def parse_scorers(value: Any) -> dict[str, ScorerConfig]:
    """`{name: params}` or `[name, ...]` -> validated configs; one readable line on a mistake."""
    if isinstance(value, (list, tuple)):
        value = {str(name): {} for name in value}
    if not isinstance(value, Mapping) or not value:
        raise ValueError(f"give a mapping of scorer name to parameters, from: {', '.join(registry.scorers.names())}")
    out: dict[str, ScorerConfig] = {}
    for name, params in value.items():
        try:
            cls = registry.scorers.get(str(name))
        except ConfigError as e:
            raise ValueError(str(e)) from None
        if isinstance(params, cls.Config):
            out[str(name)] = params
            continue
        if params is not None and not isinstance(params, Mapping):
            raise ValueError(f"scorer '{name}': parameters must be a mapping, got {params!r}")
        try:
            out[str(name)] = cls.Config(**dict(params or {}))
        except ValidationError as e:
            raise ValueError(format_validation_error(f"scorer '{name}'", cls.Config, e)) from None
    return out


class ScoreConfig(StageConfig):
    """Which scorers to run on each clip, with their parameters."""

    scorers: dict[str, SerializeAsAny[ScorerConfig]] = Field(
        default_factory=lambda: parse_scorers(list(DEFAULT_SCORERS)),
        description="scorer name -> parameters; names: " + ", ".join(registry.BUILTIN_SCORERS),
    )
    max_frames: int = Field(
        DEFAULT_MAX_FRAMES, ge=2, description="most frames one scorer gets per clip; fps sampling thins beyond it"
    )

    @field_validator("scorers", mode="before")
    @classmethod
    def _parse(cls, v: Any) -> dict[str, ScorerConfig]:
        return parse_scorers(v)


class ScoreStage(ScorerStage[ScoreConfig]):
    """Scores each clip with several frame scorers from one decode (motion, camera, ocr, nsfw, quality)."""

    name: ClassVar[str] = "score"

    def __init__(self, config: ScoreConfig | None = None) -> None:
        super().__init__(config)
        self.max_frames = self.config.max_frames

    def build_scorers(self) -> list[FrameScorer[Any]]:
        return [registry.scorers.get(name)(params) for name, params in self.config.scorers.items()]
