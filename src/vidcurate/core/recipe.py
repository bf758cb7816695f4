"""Recipes: a YAML list of stages with their parameters, validated when loaded.

    name: default
    engine: {workers: 2, shard_size: 32}
    stages:
      - probe: {decode_check: ends}
      - filter: {drop_errors: true, dmin: 1.0}
      - export: {format: llamafactory, name: clips}   # after the stages: runs on the final manifest

A wrong stage name or parameter is reported as one line naming the stage, the key and what is
allowed, never as a pydantic dump. A recipe is a file, or the name of one that ships with the
package (`vidcurate run default ...` works from any folder).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from vidcurate.core import registry
from vidcurate.core.errors import ConfigError
from vidcurate.core.stage import Stage, StageConfig


class EngineOptions(BaseModel):
    """Engine settings a recipe may fix; command-line flags override them."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["local", "ray"] = "local"
    workers: int | None = None
    shard_size: int | None = None
    address: str | None = None  # Ray cluster address ("auto" joins a running cluster)


@dataclass(frozen=True)
class StageSpec:
    """One configured stage of a recipe, at position `index` (0-based)."""

    index: int
    name: str
    config: StageConfig

    def build(self) -> Stage:
        return registry.get(self.name)(self.config)

    def fingerprint(self, upstream: str) -> str:
        """Changes when this stage's config or anything upstream of it changes."""
        blob = json.dumps([upstream, self.name, self.config.model_dump(mode="json")], sort_keys=True)
        return hashlib.sha1(blob.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class ExportSpec:
    """An export step: a format and its typed options (validated by the format's own model)."""

    index: int  # position among the recipe's steps (0-based)
    format: str
    options: BaseModel

    def fingerprint(self) -> str:
        blob = json.dumps([self.format, self.options.model_dump(mode="json")], sort_keys=True)
        return hashlib.sha1(blob.encode()).hexdigest()[:16]


@dataclass
class Recipe:
    name: str
    stages: list[StageSpec]
    engine: EngineOptions = field(default_factory=EngineOptions)
    source: str = "<memory>"
    exports: list[ExportSpec] = field(default_factory=list)


def format_validation_error(where: str, cls: type[BaseModel], err: ValidationError) -> str:
    """One line per problem: the key, what is wrong, and what is allowed."""
    allowed = ", ".join(cls.model_fields) or "(none)"
    parts = []
    for e in err.errors():
        key = ".".join(str(x) for x in e["loc"]) or "(config)"
        if e["type"] == "extra_forbidden":
            parts.append(f"unknown key '{key}' (allowed: {allowed})")
        elif e["type"] == "missing":
            parts.append(f"missing key '{key}'")
        else:
            parts.append(f"key '{key}': {e['msg']} (got {e.get('input')!r})")
    return f"{where}: " + "; ".join(parts)


def build_config(stage_name: str, params: Any, where: str) -> StageConfig:
    cls = registry.get(stage_name).Config
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise ConfigError(f"{where}: parameters must be a mapping of key: value, got {params!r}")
    try:
        return cls(**params)
    except ValidationError as e:
        raise ConfigError(format_validation_error(where, cls, e)) from None


def parse_recipe(data: Any, source: str = "<memory>") -> Recipe:
    """Validate a recipe already loaded from YAML (a dict)."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: a recipe is a mapping with a 'stages' list")
    unknown = set(data) - {"name", "description", "engine", "stages"}
    if unknown:
        raise ConfigError(
            f"{source}: unknown top-level key '{sorted(unknown)[0]}' (allowed: name, description, engine, stages)"
        )
    raw_stages = data.get("stages")
    if not isinstance(raw_stages, list) or not raw_stages:
        raise ConfigError(f"{source}: 'stages' must be a non-empty list")
    specs: list[StageSpec] = []
    exports: list[ExportSpec] = []
    for i, item in enumerate(raw_stages):
        params: Any
        if isinstance(item, str):
            name, params = item, {}
        elif isinstance(item, dict) and len(item) == 1:
            ((name, params),) = item.items()
        else:
            raise ConfigError(f"{source}: stage {i + 1}: write each stage as '- name: {{params}}' (got {item!r})")
        where = f"{source}: stage {i + 1} '{name}'"
        if name == "export":
            exports.append(build_export(i, params, where))
            continue
        if exports:
            raise ConfigError(f"{where}: export steps come after every stage (they read the final manifest)")
        try:
            config = build_config(str(name), params, where)
        except ConfigError as e:
            msg = str(e)
            raise ConfigError(msg if msg.startswith(source) else f"{source}: stage {i + 1}: {msg}") from None
        specs.append(StageSpec(index=i, name=str(name), config=config))
    try:
        engine = EngineOptions(**(data.get("engine") or {}))
    except ValidationError as e:
        raise ConfigError(format_validation_error(f"{source}: engine", EngineOptions, e)) from None
    except TypeError:
        raise ConfigError(f"{source}: 'engine' must be a mapping") from None
    if not specs:
        raise ConfigError(f"{source}: the recipe has export steps but no stage")
    name = str(data.get("name") or Path(source).stem)
    return Recipe(name=name, stages=specs, engine=engine, source=source, exports=exports)


def build_export(index: int, params: Any, where: str) -> ExportSpec:
    """An export step's format and options, validated by the format's own options model."""
    if not isinstance(params, dict) or not isinstance(params.get("format"), str):
        raise ConfigError(f"{where}: give the format, e.g. '- export: {{format: llamafactory}}'")
    rest = {k: v for k, v in params.items() if k != "format"}
    fmt = params["format"]
    cls = registry.exporters.get(fmt).Options
    try:
        return ExportSpec(index, fmt, cls(**rest))
    except ValidationError as e:
        raise ConfigError(format_validation_error(f"{where} {fmt}", cls, e)) from None


def packaged_recipes() -> list[str]:
    """Names of the recipes that ship with the package."""
    root = resources.files("vidcurate") / "recipes"
    return sorted(p.name.removesuffix(".yaml") for p in root.iterdir() if p.name.endswith(".yaml"))


def resolve_recipe(ref: str | Path) -> Path:
    """A recipe file: `ref` itself when it exists, else the packaged recipe of that name."""
    p = Path(ref)
    if p.exists() or p.suffix in (".yaml", ".yml") or len(p.parts) > 1:
        return p
    if str(ref) in packaged_recipes():
        return Path(str(resources.files("vidcurate") / "recipes" / f"{ref}.yaml"))
    raise ConfigError(
        f"no recipe file {ref!r} and no packaged recipe of that name (packaged: {', '.join(packaged_recipes())})"
    )


def load_recipe(path: str | Path) -> Recipe:
    """Read and validate a recipe file (or a packaged recipe by name)."""
    p = resolve_recipe(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"cannot read recipe {p}: {e.strerror or e}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{p}:{at} is not valid YAML ({getattr(e, 'problem', e)})") from None
    return parse_recipe(data, source=str(p))
