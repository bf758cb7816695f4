"""One registry for every kind of component: stages, scorers, datasets, exporters, models.

A name maps to "module:Class", imported on first use, so a light install never imports torch
and a recipe loads without importing any stage. Built-ins are listed in `BUILTIN` (module paths
follow names: `score.motion` is `stages/score/motion.py`). Other packages add components through
the entry-point group of the kind (`vidcurate.stages`, `vidcurate.scorers`, `vidcurate.datasets`,
`vidcurate.exporters`, `vidcurate.models`), through `$VIDCURATE_STAGES` & co. (a comma list of
`name=module:Class`, seen by spawned workers too), or by calling `register`.

A plugin may not silently replace a built-in: it is an error unless the name is listed in
`$VIDCURATE_ALLOW_OVERRIDE` (`stage:probe,scorer:motion`); `vidcurate stages` shows overrides.
Each kind may also derive components it does not list: `score.<scorer>` is the one-scorer stage of
any registered scorer, with no code of its own.
"""

from __future__ import annotations

import difflib
import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, Generic, TypeVar

from vidcurate.core.errors import ConfigError

T = TypeVar("T")

INSTALL_HINT = "install the matching extra, e.g. pip install 'vidcurate[ml]'"


@dataclass(frozen=True)
class Entry:
    """Where a component comes from."""

    name: str
    target: str  # "module:Class"
    origin: str  # builtin | entry point <dist> | $VAR | register()
    overrides: str | None = None  # the built-in target it replaces, when it does


class Registry(Generic[T]):
    """name -> component class of one kind, resolved lazily."""

    def __init__(
        self,
        kind: str,
        builtins: dict[str, str],
        *,
        normalise: Callable[[str], str] = lambda n: n,
        derive: Callable[[str], type[T] | None] | None = None,
        unknown: Callable[[str, list[str]], str] | None = None,
    ) -> None:
        self.kind = kind
        self.group = f"vidcurate.{kind}s"
        self.env = f"VIDCURATE_{kind.upper()}S"
        self._builtins = dict(builtins)
        self._entries: dict[str, Entry] = {n: Entry(n, t, "builtin") for n, t in builtins.items()}
        self._loaded: dict[str, type[T]] = {}
        self._normalise = normalise
        self._derive = derive
        self._unknown = unknown
        self._plugins_read = False

    # -- adding --------------------------------------------------------------------------------

    def register(self, name: str, target: str | type[T], *, override: bool = False, origin: str = "register()") -> None:
        """Add a component: a class, or "module:Class" to import on first use."""
        name = self._normalise(name)
        text = target if isinstance(target, str) else f"{target.__module__}:{target.__qualname__}"
        builtin = self._builtins.get(name)
        replaces = builtin if builtin is not None and builtin != text else None
        if replaces is not None and not (override or _override_allowed(self.kind, name)):
            raise ConfigError(
                f"{origin} would replace the built-in {self.kind} '{name}' ({builtin}) with {text}; "
                f"rename it, or allow it with VIDCURATE_ALLOW_OVERRIDE={self.kind}:{name}"
            )
        self._entries[name] = Entry(name, text, origin, replaces)
        self._loaded.pop(name, None)
        if not isinstance(target, str):
            self._loaded[name] = target

    def _read_plugins(self) -> None:
        if self._plugins_read:
            return
        self._plugins_read = True
        for ep in entry_points(group=self.group):
            dist = getattr(getattr(ep, "dist", None), "name", None) or "?"
            self.register(ep.name, ep.value, origin=f"entry point {self.group}:{ep.name} (package {dist})")
        for item in filter(None, (x.strip() for x in os.environ.get(self.env, "").split(","))):
            name, sep, target = item.partition("=")
            if not sep or ":" not in target:
                raise ConfigError(f"{self.env}: '{item}' is not of the form name=module:Class")
            self.register(name.strip(), target.strip(), origin=f"${self.env}")

    def reload_plugins(self) -> None:
        """Read entry points and the environment again (tests, or after installing a plugin)."""
        self._plugins_read = False
        registered = {n: e for n, e in self._entries.items() if e.origin == "register()"}
        self._entries = {n: Entry(n, t, "builtin") for n, t in self._builtins.items()} | registered
        self._loaded = {n: c for n, c in self._loaded.items() if n in registered}
        self._read_plugins()

    # -- looking up ----------------------------------------------------------------------------

    def names(self) -> list[str]:
        """Built-ins in their listed order, then plugins in the order they were found."""
        self._read_plugins()
        return list(self._entries)

    def entries(self) -> list[Entry]:
        self._read_plugins()
        return list(self._entries.values())

    def __contains__(self, name: str) -> bool:
        self._read_plugins()
        return self._normalise(name) in self._entries

    def get(self, name: str) -> type[T]:
        """The class for `name`; a ConfigError with suggestions when there is none."""
        key = self._normalise(name)
        if key in self._loaded:
            return self._loaded[key]
        self._read_plugins()
        entry = self._entries.get(key)
        if entry is None:
            derived = self._derive(key) if self._derive is not None else None
            if derived is not None:
                self._loaded[key] = derived
                return derived
            if self._unknown is not None:
                raise ConfigError(self._unknown(name, self.names()))
            close = difflib.get_close_matches(key, self.names(), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ConfigError(f"unknown {self.kind} '{name}'{hint}; available: {', '.join(sorted(self.names()))}")
        cls = _import(entry.target, f"{self.kind} '{key}'")
        self._loaded[key] = cls
        return cls

    def load_all(self) -> list[type[T]]:
        """Import every component that loads (their columns join the schema); others are skipped."""
        out = []
        for n in self.names():
            try:
                out.append(self.get(n))
            except ConfigError:
                continue
        return out


def _override_allowed(kind: str, name: str) -> bool:
    allowed = {x.strip() for x in os.environ.get("VIDCURATE_ALLOW_OVERRIDE", "").split(",") if x.strip()}
    return f"{kind}:{name}" in allowed or name in allowed


def _import(target: str, what: str) -> Any:
    module, _, attr = target.partition(":")
    try:
        return getattr(importlib.import_module(module), attr)
    except ImportError as e:
        raise ConfigError(f"{what} needs a package that is not installed ({e.name or e}); {INSTALL_HINT}") from None
    except AttributeError as e:
        raise ConfigError(f"{what}: cannot load {target} ({e})") from None


# --- the kinds -------------------------------------------------------------------------------------

BUILTIN_STAGES: dict[str, str] = {
    "probe": "vidcurate.stages.probe:Prober",
    "filter": "vidcurate.stages.filter:RowFilter",
    "score": "vidcurate.stages.score:ScoreStage",
    "split": "vidcurate.stages.split:SceneSplitter",
    "cut": "vidcurate.stages.cut:ClipCutter",
    "caption": "vidcurate.stages.caption:VlmCaptioner",
    "caption.clean": "vidcurate.stages.caption.clean:CaptionCleaner",
    "caption.refine": "vidcurate.stages.caption.refine:CaptionRefiner",
    "curate.motion": "vidcurate.stages.curate.motion:MotionCurator",
    "curate.agents": "vidcurate.stages.curate.agents:AgentExtractor",
    "curate.visual": "vidcurate.stages.curate.visual:VisualMotionCurator",
    "download": "vidcurate.stages.download.stage:Downloader",
    "track": "vidcurate.stages.track.stage:Tracker",
    "tracks.import": "vidcurate.stages.track.importer:TrackImporter",
    "qa.template": "vidcurate.stages.qa.template:TemplateQA",
    "qa.llm": "vidcurate.stages.qa.llm:TrackQA",
    "dedup.exact": "vidcurate.stages.dedup.exact:ExactDedup",
    "dedup.phash": "vidcurate.stages.dedup.phash:PhashDedup",
    "dedup.semantic": "vidcurate.stages.dedup.semantic:SemanticDedup",
}

BUILTIN_SCORERS: dict[str, str] = {
    "motion": "vidcurate.stages.score.motion:MotionScorer",
    "camera": "vidcurate.stages.score.camera:CameraScorer",
    "ocr": "vidcurate.stages.score.ocr:OcrScorer",
    "nsfw": "vidcurate.stages.score.nsfw:NsfwScorer",
    "quality": "vidcurate.stages.score.quality:QualityScorer",
    "aesthetic": "vidcurate.stages.score.aesthetic:AestheticScorer",
    "clip_match": "vidcurate.stages.score.clip_match:ClipMatchScorer",
    "embed": "vidcurate.stages.score.embed:EmbedScorer",
    "segment": "vidcurate.stages.score.segment:SegmentScorer",
    "phash": "vidcurate.stages.score.phash:PhashScorer",
}

BUILTIN_EXPORTERS: dict[str, str] = {
    "llava": "vidcurate.export.llava:LlavaExporter",
    "llamafactory": "vidcurate.export.llamafactory:LlamaFactoryExporter",
    "webdataset": "vidcurate.export.webdataset:WebDatasetExporter",
    "opensora": "vidcurate.export.opensora:OpenSoraExporter",
    "parquet": "vidcurate.export.parquet:ParquetExporter",
    "frames": "vidcurate.export.frames:FramesExporter",
}

BUILTIN_DATASETS: dict[str, str] = {
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
    "llava": "vidcurate.datasets.llava:Llava",
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

BUILTIN_MODELS: dict[str, str] = {
    name: f"vidcurate.models.catalog:{attr}"
    for name, attr in (
        ("clip-vit-large-patch14", "CLIP_VIT_L14"),
        ("clip-vit-base-patch32", "CLIP_VIT_B32"),
        ("siglip-base-patch16-224", "SIGLIP_B16"),
        ("laion-aesthetic-v2", "LAION_AESTHETIC"),
        ("mask2former-swin-tiny-coco-panoptic", "MASK2FORMER_COCO"),
        ("nudenet-320n", "NUDENET"),
        ("transnetv2", "TRANSNETV2"),
        ("brisque", "BRISQUE"),
        ("pp-ocrv4", "PP_OCR"),
    )
}

SINGLE_SCORER_STAGE = "vidcurate.stages.score.single:single_scorer_stage"  # makes `score.<scorer>` stages


def _one_scorer_stage(name: str) -> Any:
    """`score.<scorer>`: the scorer as a stage of its own, for any registered scorer."""
    family, dot, scorer = name.partition(".")
    if family != "score" or not dot or scorer not in scorers:
        return None
    return _import(SINGLE_SCORER_STAGE, f"stage '{name}'")(scorer)


def _unknown_format(name: str, names: list[str]) -> str:
    near = difflib.get_close_matches(name, names, n=1)
    hint = f"; did you mean {near[0]!r}?" if near else ""
    return f"unknown export format {name!r}{hint} (formats: {', '.join(names)})"


def _unknown_dataset(name: str, names: list[str]) -> str:
    close = difflib.get_close_matches(name.strip().lower().replace("_", "-"), names, n=3)
    hint = f" (did you mean {', '.join(close)}?)" if close else " (see `vidcurate convert --list`)"
    return f"unknown dataset '{name}'{hint}"


def _unknown_scorer(name: str, names: list[str]) -> str:
    return f"unknown scorer '{name}' (available: {', '.join(names)})"


stages: Registry[Any] = Registry("stage", BUILTIN_STAGES, derive=_one_scorer_stage)
scorers: Registry[Any] = Registry("scorer", BUILTIN_SCORERS, unknown=_unknown_scorer)
exporters: Registry[Any] = Registry("exporter", BUILTIN_EXPORTERS, unknown=_unknown_format)
datasets: Registry[Any] = Registry(
    "dataset", BUILTIN_DATASETS, normalise=lambda n: n.strip().lower().replace("_", "-"), unknown=_unknown_dataset
)
models: Registry[Any] = Registry("model", BUILTIN_MODELS)
KINDS: dict[str, Registry[Any]] = {
    "stage": stages,
    "scorer": scorers,
    "dataset": datasets,
    "exporter": exporters,
    "model": models,
}


def load_columns() -> None:
    """Import every stage and scorer, so the schema knows each column they declare (CSV reads)."""
    stages.load_all()
    scorers.load_all()


# The stage registry's functions, as the rest of the code base calls them.
def names() -> list[str]:
    return sorted(stages.names())


def get(name: str) -> Any:
    return stages.get(name)


def register(name: str, target: Any, *, override: bool = False) -> None:
    stages.register(name, target, override=override)
