"""`score.<name>`: any registered scorer as a stage of its own, made on demand (no code per scorer).

It decodes each clip for itself; recipes should prefer the fused `score` stage, which decodes
once for several scorers.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from vidcurate.core import registry
from vidcurate.stages.score.runner import SingleScorerStage


@cache
def single_scorer_stage(scorer: str) -> type[SingleScorerStage]:
    """The stage class `score.<scorer>` (the same class on every call, so it pickles by name)."""
    cls: Any = registry.scorers.get(scorer)
    doc = (cls.__doc__ or scorer).strip().splitlines()[0]
    attrs = {
        "name": f"score.{scorer}",
        "Config": cls.Config,
        "scorer": cls,
        "__doc__": f"{doc} (alone; prefer `score` with several scorers)",
        "__module__": __name__,
    }
    return type(f"{cls.__name__}Stage", (SingleScorerStage,), attrs)
