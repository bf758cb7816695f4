"""Engines run a recipe: `local` (process pool, the default) and `ray` (actors on a cluster)."""

from __future__ import annotations

from typing import Any

from vidcurate.core.recipe import Recipe


def create(recipe: Recipe, out: Any, *, kind: str | None = None, **kwargs: Any) -> Any:
    """The engine named by `kind` (or the recipe's `engine.kind`), built with the same arguments."""
    kind = kind or recipe.engine.kind
    if kind == "ray":
        from vidcurate.engines.ray import RayEngine

        return RayEngine(recipe, out, **kwargs)
    from vidcurate.engines.local import LocalEngine

    return LocalEngine(recipe, out, **kwargs)
