"""The `score` stage: any subset of the frame scorers, each clip decoded once for all of them.

    - score:
        scorers:
          motion: {fps: 2, max_side: 256}
          camera: {}
          quality: {frames: 8}
          ocr: {frames: 2}
          nsfw: {frames: 2}

A list of names (`scorers: [motion, quality]`) takes every scorer's defaults. Each scorer is also
a stage of its own (`score.motion`, `score.ocr`, ...) with the scorer's parameters, decoding
again each time it runs; the fused stage is what recipes should use.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import Field, SerializeAsAny, ValidationError, field_validator

from vidcurate.core.errors import ConfigError
from vidcurate.core.stage import StageConfig
from vidcurate.stages.score.runner import DEFAULT_MAX_FRAMES, ScorerStage
from vidcurate.stages.score.scorer import SCORERS, FrameScorer, ScorerConfig, scorer_class

__all__ = ["ScoreConfig", "ScoreStage"]

DEFAULT_SCORERS = ("motion", "camera", "quality")  # no model files: cheap anywhere


def parse_scorers(value: Any) -> dict[str, ScorerConfig]:
    """`{name: params}` or `[name, ...]` -> validated configs; one readable line on a mistake."""
    if isinstance(value, (list, tuple)):
        value = {str(name): {} for name in value}
    if not isinstance(value, Mapping) or not value:
        raise ValueError(f"give a mapping of scorer name to parameters, from: {', '.join(SCORERS)}")
    out: dict[str, ScorerConfig] = {}
    for name, params in value.items():
        try:
            cls = scorer_class(str(name))
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
            allowed = ", ".join(cls.Config.model_fields)
            problems = "; ".join(
                f"unknown key '{'.'.join(map(str, x['loc']))}' (allowed: {allowed})"
                if x["type"] == "extra_forbidden"
                else f"key '{'.'.join(map(str, x['loc']))}': {x['msg']} (got {x.get('input')!r})"
                for x in e.errors()
            )
            raise ValueError(f"scorer '{name}': {problems}") from None
    return out


class ScoreConfig(StageConfig):
    """Which scorers to run on each clip, with their parameters."""

    scorers: dict[str, SerializeAsAny[ScorerConfig]] = Field(
        default_factory=lambda: parse_scorers(list(DEFAULT_SCORERS)),
        description=f"scorer name -> parameters; names: {', '.join(SCORERS)}",
    )
    max_frames: int = Field(
        DEFAULT_MAX_FRAMES, ge=2, description="most frames one scorer gets per clip; fps sampling thins beyond it"
    )

    @field_validator("scorers", mode="before")
    @classmethod
    def _parse(cls, v: Any) -> dict[str, ScorerConfig]:
        return parse_scorers(v)


class ScoreStage(ScorerStage):
    """Scores each clip with several frame scorers from one decode (motion, camera, ocr, nsfw, quality)."""

    name: ClassVar[str] = "score"
    Config: ClassVar[type[StageConfig]] = ScoreConfig

    def build_scorers(self) -> list[FrameScorer]:
        cfg: ScoreConfig = self.config  # type: ignore[assignment]
        return [scorer_class(name)(params) for name, params in cfg.scorers.items()]
