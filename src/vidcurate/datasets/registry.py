"""Dataset converters by name (`vidcurate convert NAME`), from the one component registry.

CLI names use dashes (``activitynet-qa``); modules use underscores (``datasets/activitynet_qa.py``).
Other packages add converters through the `vidcurate.datasets` entry-point group or `register`.
"""

from __future__ import annotations

from typing import Any

from vidcurate.core import registry
from vidcurate.core.errors import ConfigError


def register(name: str, target: Any, *, override: bool = False) -> None:
    """Add a converter: a class, or "module:Class" imported on first use."""
    registry.datasets.register(name, target, override=override)


def names() -> list[str]:
    return sorted(registry.datasets.names())


def get(name: str) -> Any:
    """The converter class for `name` (underscores accepted); a ConfigError with suggestions if none."""
    return registry.datasets.get(name)


def describe() -> list[tuple[str, str]]:
    """``(name, one-line description)`` for `vidcurate convert --list`."""
    out = []
    for n in names():
        try:
            out.append((n, get(n).description))
        except ConfigError as e:
            out.append((n, f"(unavailable: {e})"))
    return out
