"""Engines run a recipe: `local` (worker processes, the default) and `ray` (actors on a cluster).

Both are the same orchestrator (`engines/orchestrator.py`) on a different executor, so their
outputs are identical shard for shard and resume the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vidcurate.core.recipe import Recipe
from vidcurate.engines.orchestrator import Engine


def create(
    recipe: Recipe, out: str | Path, *, kind: str | None = None, address: str | None = None, **kwargs: Any
) -> Engine:
    """The engine named by `kind` (or the recipe's `engine.kind`), built with the same arguments."""
    kind = kind or recipe.engine.kind
    if kind == "ray":
        from vidcurate.engines.ray import RayEngine

        return RayEngine(recipe, out, address=address, **kwargs)
    return Engine(recipe, out, **kwargs)
