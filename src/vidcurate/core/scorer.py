"""The frame-scorer contract: a component that looks at pixels but never decodes.

A `FrameScorer` declares the frames it wants (`frame_spec()`, which may depend on its config) and
the typed columns it writes (`columns`, collected into the schema). The `score` stage decodes each
clip once for all its scorers and hands each a read-only `Frames`; `score` returns every declared
column (None where it cannot tell). Scorers register by name (`core.registry.scorers`, or the
`vidcurate.scorers` entry-point group); each is also a stage of its own (`score.<name>`).

    class SharpnessScorer(FrameScorer[SharpnessConfig]):
        name = "sharpness"
        columns = {"sharpness": pa.float64()}
        def frame_spec(self): return FrameSpec(num=4, max_side=512, gray=True)
        def score(self, frames): return {"sharpness": ...}
"""

from __future__ import annotations

import importlib
import importlib.util
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar, Generic, TypeVar, cast, get_args, get_origin

from vidcurate.core import schema
from vidcurate.core.errors import ConfigError
from vidcurate.core.frames import Frames, FrameSpec
from vidcurate.core.stage import Columns, Resources, StageConfig

INSTALL_HINT = "pip install 'vidcurate[ml]'"


class ScorerConfig(StageConfig):
    """Base of every scorer's parameters (unknown keys are errors)."""


S = TypeVar("S", bound=ScorerConfig)


class FrameScorer(ABC, Generic[S]):
    """One score family computed from decoded frames. Subclasses set the class variables."""

    name: ClassVar[str]
    Config: ClassVar[type[ScorerConfig]] = ScorerConfig
    columns: ClassVar[Columns] = {}
    # (module to import, package to install) for scorers that need an optional package
    packages: ClassVar[tuple[tuple[str, str], ...]] = ()
    resources: ClassVar[Resources] = Resources()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "Config" not in cls.__dict__:
            for base in getattr(cls, "__orig_bases__", ()):
                args = [a for a in get_args(base) if isinstance(a, type) and issubclass(a, ScorerConfig)]
                if get_origin(base) is not None and args:
                    cls.Config = args[0]
                    break
        if cls.__dict__.get("columns"):
            schema.declare(f"scorer {cls.__dict__.get('name', cls.__qualname__)}", cls.columns)

    def __init__(self, config: S | None = None) -> None:
        self.config: S = config if config is not None else cast(S, self.Config())
        self.spec: FrameSpec = self.frame_spec()  # the frames this configured scorer gets

    @abstractmethod
    def frame_spec(self) -> FrameSpec:
        """The frames this configured scorer needs."""

    def reads(self) -> tuple[str, ...]:
        """Manifest columns this configured scorer reads from `Frames.row` (a caption to compare with)."""
        return ()

    def needs(self) -> Resources:
        """What one worker running this scorer needs (a model on a GPU, say)."""
        return self.resources

    def check(self) -> None:
        """Fail early, with what to install, when an optional package is missing (no import)."""
        for module, package in self.packages:
            if importlib.util.find_spec(module) is None:
                raise ConfigError(f"scorer '{self.name}' needs the package {package}: {INSTALL_HINT}")

    def setup(self) -> None:
        """Load models once per worker."""

    def teardown(self) -> None:
        """Release models (called once per worker, after the last clip)."""

    @abstractmethod
    def score(self, frames: Frames) -> dict[str, Any]:
        """Columns for one clip. `frames.data` is read-only; an empty clip gives Nones."""

    def score_batch(self, clips: Sequence[Frames]) -> list[dict[str, Any]]:
        """Columns for several clips at once; models override this to batch their inference."""
        return [self.score(f) for f in clips]

    def empty(self) -> dict[str, Any]:
        """Every column as None: what a clip gets when this scorer cannot score it."""
        return dict.fromkeys(self.columns)


def import_model_package(scorer: str, module: str, package: str) -> Any:
    """Import a model package in `setup`; a missing or broken one becomes a one-line ConfigError."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        msg = f"scorer '{scorer}' cannot import {module} ({e}); install {package}: {INSTALL_HINT}"
        raise ConfigError(msg) from None
