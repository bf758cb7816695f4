"""Dataset converters by name (`vidcurate convert NAME`): name -> "module:Class", imported on use.

CLI names use dashes (``activitynet-qa``); modules use underscores (``datasets/activitynet_qa.py``).
Other packages add converters with :func:`register`.
"""

from __future__ import annotations

import difflib
import importlib

from vidcurate.core.errors import ConfigError
from vidcurate.datasets.base import Converter

_BUILTIN: dict[str, str] = {
    "activitynet-captions": "vidcurate.datasets.activitynet_captions:ActivityNetCaptions",
    "activitynet-qa": "vidcurate.datasets.activitynet_qa:ActivityNetQA",
    "caltech101": "vidcurate.datasets.caltech101:Caltech101",
    "cinepile": "vidcurate.datasets.cinepile:CinePile",
    "clevrer": "vidcurate.datasets.clevrer:Clevrer",
    "didemo": "vidcurate.datasets.didemo:DiDeMo",
    "egotaskqa": "vidcurate.datasets.egotaskqa:EgoTaskQA",
    "finevideo": "vidcurate.datasets.finevideo:FineVideo",
    "flickr30k": "vidcurate.datasets.flickr:Flickr30k",
    "flickr5k": "vidcurate.datasets.flickr:Flickr5k",
    "internvid": "vidcurate.datasets.internvid:InternVid",
    "koala36m": "vidcurate.datasets.koala36m:Koala36M",
    "llamafactory": "vidcurate.datasets.llamafactory:LlamaFactory",
    "llava-video-178k": "vidcurate.datasets.llava_video_178k:LlavaVideo178K",
    "mini-imagenet": "vidcurate.datasets.mini_imagenet:MiniImageNet",
    "moviechat": "vidcurate.datasets.moviechat:MovieChat",
    "mscoco2014": "vidcurate.datasets.mscoco2014:MSCOCO2014",
    "msrvtt": "vidcurate.datasets.msrvtt:MSRVTT",
    "nextqa": "vidcurate.datasets.nextqa:NExTQA",
    "openvid": "vidcurate.datasets.openvid:OpenVid",
    "panda70m": "vidcurate.datasets.panda70m:Panda70M",
    "perceptiontest": "vidcurate.datasets.perceptiontest:PerceptionTest",
    "sharegptvideo": "vidcurate.datasets.sharegptvideo:ShareGPTVideo",
    "star": "vidcurate.datasets.star:STAR",
    "videochat2": "vidcurate.datasets.videochat2:VideoChat2",
    "vript": "vidcurate.datasets.vript:Vript",
    "webvid": "vidcurate.datasets.webvid:WebVid",
}
_LOADED: dict[str, type[Converter]] = {}


def register(name: str, target: str | type[Converter]) -> None:
    """Add a converter: a class, or "module:Class" imported on first use."""
    if isinstance(target, str):
        _BUILTIN[name] = target
        _LOADED.pop(name, None)
    else:
        _LOADED[name] = target
        _BUILTIN[name] = f"{target.__module__}:{target.__qualname__}"


def names() -> list[str]:
    return sorted(_BUILTIN)


def get(name: str) -> type[Converter]:
    """The converter class for `name` (underscores accepted); a ConfigError with suggestions if none."""
    key = name.strip().lower().replace("_", "-")
    if key in _LOADED:
        return _LOADED[key]
    target = _BUILTIN.get(key)
    if target is None:
        close = difflib.get_close_matches(key, list(_BUILTIN), n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else " (see `vidcurate convert --list`)"
        raise ConfigError(f"unknown dataset '{name}'{hint}")
    module, _, attr = target.partition(":")
    try:
        cls = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as e:
        raise ConfigError(f"dataset '{key}': cannot load {target} ({e})") from None
    _LOADED[key] = cls
    return cls


def describe() -> list[tuple[str, str]]:
    """``(name, one-line description)`` for `vidcurate convert --list`."""
    out = []
    for n in names():
        try:
            out.append((n, get(n).description))
        except ConfigError as e:
            out.append((n, f"(unavailable: {e})"))
    return out
