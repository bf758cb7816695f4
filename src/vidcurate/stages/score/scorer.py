"""The frame-scorer contract and the scorer registry.

A `FrameScorer` looks at pixels but never decodes: it declares the frames it wants (`frames`, a
`FrameSpec` that may depend on its config), and the `score` stage hands it a read-only `Frames`
decoded once for all scorers of the stage. `score` returns plain columns named
`<family>_<metric>`; a scorer returns every column it declares (None where it cannot tell).

The registry maps a scorer name to "module:Class" and imports lazily, so a recipe that asks only
for `motion` never imports onnxruntime.
"""

from __future__ import annotations

import importlib
import importlib.util
from abc import ABC, abstractmethod
from typing import Any, ClassVar

from vidcurate.core.errors import ConfigError
from vidcurate.core.frames import Frames, FrameSpec
from vidcurate.core.stage import StageConfig

SCORERS: dict[str, str] = {
    "motion": "vidcurate.stages.score.motion:MotionScorer",
    "camera": "vidcurate.stages.score.camera:CameraScorer",
    "ocr": "vidcurate.stages.score.ocr:OcrScorer",
    "nsfw": "vidcurate.stages.score.nsfw:NsfwScorer",
    "quality": "vidcurate.stages.score.quality:QualityScorer",
}

INSTALL_HINT = "pip install 'vidcurate[ml]'"


class ScorerConfig(StageConfig):
    """Base of every scorer's parameters (unknown keys are errors)."""


class FrameScorer(ABC):
    """One score family computed from decoded frames. Subclasses set the class variables."""

    name: ClassVar[str]
    Config: ClassVar[type[ScorerConfig]] = ScorerConfig
    columns: ClassVar[tuple[str, ...]] = ()
    # (module to import, package to install) for scorers that need an optional package
    packages: ClassVar[tuple[tuple[str, str], ...]] = ()

    def __init__(self, config: ScorerConfig | None = None) -> None:
        self.config = config if config is not None else self.Config()
        self.frames: FrameSpec = self.frame_spec()

    @abstractmethod
    def frame_spec(self) -> FrameSpec:
        """The frames this configured scorer needs."""

    def check(self) -> None:
        """Fail early, with what to install, when an optional package is missing (no import)."""
        for module, package in self.packages:
            if importlib.util.find_spec(module) is None:
                raise ConfigError(f"scorer '{self.name}' needs the package {package}: {INSTALL_HINT}")

    def setup(self) -> None:  # noqa: B027 - optional hook
        """Load models once per worker."""

    @abstractmethod
    def score(self, frames: Frames) -> dict[str, Any]:
        """Columns for one clip. `frames.data` is read-only; an empty clip gives Nones."""

    def empty(self) -> dict[str, Any]:
        """Every column as None: what a clip gets when this scorer cannot score it."""
        return dict.fromkeys(self.columns)


def scorer_class(name: str) -> type[FrameScorer]:
    """The scorer class registered as `name`; a ConfigError naming the choices otherwise."""
    target = SCORERS.get(name)
    if target is None:
        raise ConfigError(f"unknown scorer '{name}' (available: {', '.join(SCORERS)})")
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def import_model_package(scorer: str, module: str, package: str) -> Any:
    """Import a model package in `setup`; a missing or broken one becomes a one-line ConfigError."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        msg = f"scorer '{scorer}' cannot import {module} ({e}); install {package}: {INSTALL_HINT}"
        raise ConfigError(msg) from None
