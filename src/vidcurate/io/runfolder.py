"""The run folder: the one module that knows where a run keeps what.

    out/.vidcurate-run            marker: this folder is a vidcurate run (and nothing else may be in
                                  a folder the engine takes over)
    out/.lock                     held (flock) by the run using the folder
    out/00-source/part-*.parquet  the input, sharded
    out/NN-<stage>/part-*.parquet one part per shard per stage; `_stage.json` holds the fingerprint
    out/NN-<stage>/rejected/...   rows the stage rejected, with the reason
    out/manifest.parquet          the last stage's rows, combined
    out/rejected.parquet          every rejected row, with `rejected_by` and `reject_reason`
    out/summary.json              rows in/out, errors by kind, seconds per stage (`RunSummary`)
    out/clips/, out/thumbs/ ...   files stages and the report write (`output_dir(kind)`)
    out/.scratch/                 scratch space of a run (emptied when a run starts, removed when it ends)
    out/.written.jsonl            every file a stage recorded writing (what cleanup may remove)

The engine, the report, the viewer, the summary and the stages' context all ask this module for
paths; nothing else spells a file name of the run.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from vidcurate.core.errors import ConfigError
from vidcurate.io.fs import TMP_MARK, atomic_path, clean_temp

MARKER = ".vidcurate-run"
LOCK = ".lock"
SOURCE = "00-source"
STAGE_META = "_stage.json"
MANIFEST = "manifest.parquet"
REJECTED = "rejected.parquet"
SUMMARY = "summary.json"
LEDGER = ".written.jsonl"
TMP = ".scratch"
STAGE_DIR_RE = re.compile(r"^\d{2}-[a-z0-9_.]+$")
OUTPUT_KINDS = ("clips", "thumbs", "crops", "media", "export", "signatures")


class StageReport(BaseModel):
    """One stage of a run as the summary reports it."""

    name: str  # registry name, e.g. "filter"
    dirname: str  # its folder in the run, e.g. "02-filter"
    rows_in: int = 0
    rows_out: int = 0
    rejected: int = 0
    errors: dict[str, int] = Field(default_factory=dict)  # new row errors by kind
    seconds: float = 0.0  # summed shard processing time (all workers)
    wall_s: float = 0.0  # wall time in this invocation
    shards: int = 0
    resumed_shards: int = 0  # shards whose part was already there and still valid
    llm: dict[str, int] = Field(default_factory=dict)  # LLM requests this invocation sent (calls, cache hits...)
    llm_all: dict[str, int] = Field(default_factory=dict)  # the same over every shard, resumed ones included


class RunSummary(BaseModel):
    """What `summary.json` holds: the funnel of a finished run."""

    out: str
    input: str
    recipe: str
    source_rows: int
    stages: list[StageReport]
    manifest: str
    rejected: str
    rows_final: int
    rows_rejected: int
    errors_final: dict[str, int]
    wall_s: float
    exports: list[dict[str, Any]] = Field(default_factory=list)
    downloads: list[dict[str, Any]] = Field(default_factory=list)  # yield per dataset (the download stage)

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class StageDir:
    """One stage's folder: its part files, rejected parts and `_stage.json`."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def name(self) -> str:
        return self.path.name

    def part(self, shard: int) -> Path:
        return self.path / part_name(shard)

    def rejected_part(self, shard: int) -> Path:
        return self.path / "rejected" / part_name(shard)

    def rejected_parts(self) -> list[Path]:
        d = self.path / "rejected"
        return sorted(d.glob("part-*.parquet")) if d.is_dir() else []

    def read_meta(self) -> dict[str, Any] | None:
        return read_json(self.path / STAGE_META)

    def write_meta(self, meta: dict[str, Any]) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        with atomic_path(self.path / STAGE_META, durable=True) as tmp:
            tmp.write_text(json.dumps(meta, indent=2, sort_keys=True))

    def drop_shard(self, shard: int) -> None:
        """Forget one shard's output (its input changed): the rejected part, then the part."""
        self.rejected_part(shard).unlink(missing_ok=True)
        self.part(shard).unlink(missing_ok=True)

    def clean_tmp(self) -> None:
        """Temp files of shards that were in flight when a run was killed."""
        clean_temp(self.path)
        clean_temp(self.path / "rejected")

    def clear(self) -> None:
        """Remove only the files the engine writes here (never an rmtree: a user's notes stay)."""
        if not self.path.is_dir():
            return
        for pattern in ("part-*.parquet", "rejected/part-*.parquet", STAGE_META):
            for p in self.path.glob(pattern):
                p.unlink(missing_ok=True)
        self.clean_tmp()
        for sub in (self.path / "rejected", self.path):
            with contextlib.suppress(OSError):
                sub.rmdir()  # only if empty


class RunFolder:
    """A run's output folder. Cheap to make and to pickle (it is a path)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).resolve()

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    # -- fixed files ---------------------------------------------------------------------------

    @property
    def manifest(self) -> Path:
        return self.path / MANIFEST

    @property
    def rejected(self) -> Path:
        return self.path / REJECTED

    @property
    def summary_path(self) -> Path:
        return self.path / SUMMARY

    @property
    def tmp_dir(self) -> Path:
        return self.path / TMP

    def output_dir(self, kind: str) -> Path:
        """Where files of one kind go (`clips`, `thumbs`, ...): a folder of the run."""
        if kind not in OUTPUT_KINDS:
            raise ConfigError(f"unknown output kind {kind!r} (kinds: {', '.join(OUTPUT_KINDS)})")
        return self.path / kind

    def report_path(self) -> Path:
        return self.path / "report.html"

    # -- stages --------------------------------------------------------------------------------

    @staticmethod
    def stage_dirname(index: int, name: str) -> str:
        """`index` is 0-based among the recipe's stages; folder 00 is the source."""
        return f"{index + 1:02d}-{name}"

    def source(self) -> StageDir:
        return StageDir(self.path / SOURCE)

    def stage(self, dirname: str) -> StageDir:
        return StageDir(self.path / dirname)

    def stage_dirs(self) -> list[StageDir]:
        """Stage folders this engine made (matching name and holding a `_stage.json`)."""
        if not self.path.is_dir():
            return []
        return [
            StageDir(d)
            for d in sorted(self.path.iterdir())
            if d.is_dir() and STAGE_DIR_RE.match(d.name) and (d / STAGE_META).exists()
        ]

    def stage_meta(self, dirname: str) -> dict[str, Any]:
        return self.stage(dirname).read_meta() or {}

    # -- ownership and the lock ----------------------------------------------------------------

    def is_run(self) -> bool:
        return (self.path / MARKER).exists()

    def check_takeable(self) -> None:
        """Refuse a file, or a non-empty folder that is not a run (checked before anything is written)."""
        if self.path.exists() and not self.path.is_dir():
            raise ConfigError(f"output {self.path} exists and is not a folder")
        if self.path.is_dir() and not self.is_run() and any(p.name != LOCK for p in self.path.iterdir()):
            raise ConfigError(
                f"output folder {self.path} is not empty and is not a vidcurate run folder; "
                "choose a new or empty folder (nothing in it was touched)"
            )

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the run's lock (another run on this folder is refused), then mark the folder ours."""
        self.check_takeable()
        self.path.mkdir(parents=True, exist_ok=True)
        with open(self.path / LOCK, "a") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise ConfigError(f"another vidcurate run is using {self.path}; nothing was changed") from None
            self.check_takeable()  # it may have changed while we waited for nothing
            (self.path / MARKER).write_text("vidcurate run folder: stage outputs live here\n")
            yield

    def reset_tmp(self, *, keep: bool = True) -> None:
        """Empty the run's scratch folder (what a killed run left there); `keep=False` removes it."""
        shutil.rmtree(self.tmp_dir, ignore_errors=True)  # ours alone: never holds a user's file
        if keep:
            self.tmp_dir.mkdir(parents=True, exist_ok=True)

    # -- files the run wrote -------------------------------------------------------------------

    def record_written(self, paths: Iterable[str]) -> None:
        """Append files a stage wrote to the ledger (what end-of-run cleanup may remove)."""
        items = [str(p) for p in paths]
        if not items:
            return
        with open(self.path / LEDGER, "a", encoding="utf-8") as f:
            for p in items:
                f.write(json.dumps(p) + "\n")

    def written(self) -> list[str]:
        """Every file the run recorded writing, in order, once each."""
        try:
            lines = (self.path / LEDGER).read_text(encoding="utf-8").splitlines()
        except OSError:
            return []
        out: dict[str, None] = {}
        for line in lines:
            with contextlib.suppress(json.JSONDecodeError):
                value = json.loads(line)
                if isinstance(value, str):
                    out[value] = None
        return list(out)

    def prune_written(self, referenced: set[str]) -> list[str]:
        """Remove recorded files no row references any more; the ledger keeps the rest. Returns those removed."""
        removed, kept = [], []
        for p in self.written():
            if p in referenced:
                kept.append(p)
                continue
            path = Path(p)
            if path.is_file() and not path.is_symlink():
                path.unlink(missing_ok=True)
                removed.append(p)
        with atomic_path(self.path / LEDGER) as tmp:
            tmp.write_text("".join(json.dumps(p) + "\n" for p in kept), encoding="utf-8")
        return removed

    def clean_temp_files(self) -> int:
        """Temp files of killed writers: in stage folders, output folders and beside recorded files."""
        dirs = {sd.path for sd in self.stage_dirs()} | {self.source().path}
        dirs |= {self.path / k for k in OUTPUT_KINDS}
        dirs |= {Path(p).parent for p in self.written()}
        n = 0
        for d in dirs:
            n += clean_temp(d) + clean_temp(d / "rejected")
        return n

    # -- summary -------------------------------------------------------------------------------

    def write_summary(self, summary: RunSummary) -> None:
        with atomic_path(self.summary_path, durable=True) as tmp:
            tmp.write_text(json.dumps(summary.to_json(), indent=2))

    def read_summary(self) -> dict[str, Any]:
        """summary.json as a dict (empty when missing or unreadable: a run still in progress)."""
        return read_json(self.summary_path) or {}


def part_name(shard: int) -> str:
    return f"part-{shard:05d}.parquet"


def is_temp_name(name: str) -> bool:
    return name.startswith(".") and TMP_MARK in name


def read_json(p: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(p.read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None
