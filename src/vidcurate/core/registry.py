"""Stage registry: name -> class, imported lazily so a light install never imports torch.

Module paths follow registry keys (`stages/score/motion.py` is `score.motion`). Later issues
add their stages to `_BUILTIN`; third-party stages can call `register`.
"""

from __future__ import annotations

import difflib
import importlib
import os
from importlib.metadata import entry_points

from vidcurate.core.errors import ConfigError
from vidcurate.core.stage import Stage

_BUILTIN: dict[str, str] = {
    "probe": "vidcurate.stages.probe:Prober",
    "filter": "vidcurate.stages.filter:RowFilter",
    "score": "vidcurate.stages.score:ScoreStage",
    "score.motion": "vidcurate.stages.score.motion:MotionStage",
    "score.camera": "vidcurate.stages.score.camera:CameraStage",
    "score.ocr": "vidcurate.stages.score.ocr:OcrStage",
    "score.nsfw": "vidcurate.stages.score.nsfw:NsfwStage",
    "score.quality": "vidcurate.stages.score.quality:QualityStage",
    "split": "vidcurate.stages.split:SceneSplitter",
    "cut": "vidcurate.stages.cut:ClipCutter",
    "caption": "vidcurate.stages.caption:VlmCaptioner",
    "caption.clean": "vidcurate.stages.caption.clean:CaptionCleaner",
    "caption.refine": "vidcurate.stages.caption.refine:CaptionRefiner",
    "curate.motion": "vidcurate.stages.curate.motion:MotionCurator",
    "curate.agents": "vidcurate.stages.curate.agents:AgentSplitter",
    "curate.visual": "vidcurate.stages.curate.visual:VisualMotionCurator",
}
_LOADED: dict[str, type[Stage]] = {}
_PLUGINS_READ = False


def _read_plugins() -> None:
    """Third-party stages: the `vidcurate.stages` entry-point group and $VIDCURATE_STAGES.

    $VIDCURATE_STAGES is a comma list of `name=module:Class`; spawned workers see it too.
    """
    global _PLUGINS_READ
    if _PLUGINS_READ:
        return
    _PLUGINS_READ = True
    for ep in entry_points(group="vidcurate.stages"):
        _BUILTIN.setdefault(ep.name, ep.value)
    for item in filter(None, (x.strip() for x in os.environ.get("VIDCURATE_STAGES", "").split(","))):
        name, sep, target = item.partition("=")
        if not sep or ":" not in target:
            raise ConfigError(f"VIDCURATE_STAGES: '{item}' is not of the form name=module:Class")
        _BUILTIN[name.strip()] = target.strip()


def register(name: str, target: str | type[Stage]) -> None:
    """Add a stage: a class, or "module:Class" to import on first use."""
    if isinstance(target, str):
        _BUILTIN[name] = target
        _LOADED.pop(name, None)
    else:
        _LOADED[name] = target
        _BUILTIN.setdefault(name, f"{target.__module__}:{target.__qualname__}")


def names() -> list[str]:
    _read_plugins()
    return sorted(_BUILTIN)


def get(name: str) -> type[Stage]:
    """The stage class for `name`; a ConfigError with suggestions when there is none."""
    if name in _LOADED:
        return _LOADED[name]
    _read_plugins()
    target = _BUILTIN.get(name)
    if target is None:
        close = difflib.get_close_matches(name, names(), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ConfigError(f"unknown stage '{name}'{hint}; available: {', '.join(names())}")
    module, _, attr = target.partition(":")
    try:
        cls = getattr(importlib.import_module(module), attr)
    except ImportError as e:
        raise ConfigError(
            f"stage '{name}' needs a package that is not installed ({e.name or e}); "
            "install the matching extra, e.g. pip install 'vidcurate[ml]'"
        ) from e
    _LOADED[name] = cls
    return cls
