"""The local engine: shards of the manifest through a process pool, one stage at a time.

Layout of a run folder (everything in it is ours; nothing outside it is ever touched):

    out/.vidcurate-run            marker: this folder is a vidcurate run
    out/00-source/part-*.parquet  the input, sharded (folder ingest or a manifest file)
    out/01-probe/part-*.parquet   one part per shard per stage, written temp + rename
    out/02-filter/rejected/...    rows a stage rejected, with the reason
    out/manifest.parquet          the last stage's rows, combined
    out/rejected.parquet          every rejected row, with `rejected_by` and `reject_reason`
    out/summary.json              rows in/out, errors by kind, seconds per stage

Resume: a shard whose part exists is done. `_stage.json` holds the fingerprint of the stage's
config and everything upstream; when it changes, that stage and the ones after it are redone.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import math
import os
import re
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from vidcurate.core import schema
from vidcurate.core.errors import ConfigError
from vidcurate.core.recipe import Recipe, StageSpec
from vidcurate.core.stage import Stage
from vidcurate.engines import shard as sh
from vidcurate.io import ingest
from vidcurate.io import manifest as mio

MARKER = ".vidcurate-run"
SOURCE_DIR = "00-source"
STAGE_DIR_RE = re.compile(r"^\d{2}-[a-z0-9_.]+$")
MAX_AUTO_SHARD = 256


@dataclass
class StageReport:
    name: str
    dirname: str
    rows_in: int = 0
    rows_out: int = 0
    rejected: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0  # summed shard processing time
    wall_s: float = 0.0  # wall time in this invocation
    shards: int = 0
    resumed_shards: int = 0


@dataclass
class RunSummary:
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

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


# --- worker side ---------------------------------------------------------------------------------

_WORKER_STAGES: dict[str, Stage] = {}


def _worker_execute(
    spec: StageSpec, key: str, src: str, dest: str, rej: str, shard: int, run_dir: str | None = None
) -> sh.ShardStats:
    """Build (once per worker and stage) and run a stage on one shard."""
    stage = _WORKER_STAGES.get(key)
    if stage is None:
        stage = spec.build()
        stage.run_dir = Path(run_dir) if run_dir else None
        stage.setup()
        _WORKER_STAGES.clear()  # one stage at a time: free the previous stage's models
        _WORKER_STAGES[key] = stage
    return sh.execute(stage, Path(src), Path(dest), Path(rej), shard)


# --- the engine ----------------------------------------------------------------------------------


class LocalEngine:
    """Runs a recipe on one machine. `workers <= 1` runs in this process (handy for debugging)."""

    def __init__(
        self,
        recipe: Recipe,
        out: str | Path,
        *,
        workers: int | None = None,
        shard_size: int | None = None,
        overwrite: bool = False,
        console: Console | None = None,
        progress: bool = True,
    ) -> None:
        self.recipe = recipe
        self.out = Path(out).resolve()
        self.workers = workers or recipe.engine.workers or os.cpu_count() or 1
        self.shard_size = shard_size or recipe.engine.shard_size
        self.overwrite = overwrite
        self.console = console or Console(stderr=True)
        self.progress = progress
        self._pool: ProcessPoolExecutor | None = None

    # -- public ------------------------------------------------------------------------------

    def run(self, input_path: str | Path) -> RunSummary:
        t0 = time.perf_counter()
        src = Path(input_path).resolve()
        self._check_paths(src)
        self._prepare_out()
        with self._lock(), self._pool_scope():
            n_shards, source_rows, fp, columns = self._source(src)
            self._check_columns(columns)
            self._remove_stale_dirs()
            reports = []
            upstream_dir = self.out / SOURCE_DIR
            with self._progress_bar() as progress:
                for spec in self.recipe.stages:
                    fp = spec.fingerprint(fp)
                    reports.append(self._run_stage(spec, fp, upstream_dir, n_shards, progress))
                    upstream_dir = self.out / spec.dirname
            summary = self._finish(src, upstream_dir, n_shards, source_rows, reports, time.perf_counter() - t0)
        return summary

    # -- safety --------------------------------------------------------------------------------

    def _check_paths(self, src: Path) -> None:
        if not src.exists():
            raise ConfigError(f"input {src} does not exist")
        if src.is_dir():
            if self.out == src or src in self.out.parents:
                raise ConfigError(
                    f"output folder {self.out} is inside the input folder {src}; "
                    "choose an output folder outside the videos"
                )
        elif self.out == src or self.out in src.parents:
            own = {self.out / "manifest.parquet", self.out / "rejected.parquet"}
            if src in own or any(STAGE_DIR_RE.match(p.name) for p in src.parents if self.out in p.parents):
                raise ConfigError(f"input {src} is one of this run's own outputs; copy it elsewhere first")

    def _prepare_out(self) -> None:
        if self.out.exists() and not self.out.is_dir():
            raise ConfigError(f"output {self.out} exists and is not a folder")
        if self.out.is_dir() and any(self.out.iterdir()) and not (self.out / MARKER).exists():
            raise ConfigError(
                f"output folder {self.out} is not empty and is not a vidcurate run folder; "
                "choose a new or empty folder (nothing in it was touched)"
            )
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / MARKER).write_text("vidcurate run folder: stage outputs live here\n")
        if self.overwrite:
            for d in self._own_stage_dirs():
                _clear_stage_dir(d)

    def _own_stage_dirs(self) -> list[Path]:
        """Stage folders this engine made (matching name and holding a _stage.json)."""
        return sorted(
            d for d in self.out.iterdir() if d.is_dir() and STAGE_DIR_RE.match(d.name) and (d / "_stage.json").exists()
        )

    def _remove_stale_dirs(self) -> None:
        keep = {SOURCE_DIR} | {s.dirname for s in self.recipe.stages}
        for d in self._own_stage_dirs():
            if d.name not in keep:
                _clear_stage_dir(d)

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        with open(self.out / ".lock", "w") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise ConfigError(f"another vidcurate run is using {self.out}") from None
            yield

    # -- source ---------------------------------------------------------------------------------

    def _source(self, src: Path) -> tuple[int, int, str, list[str]]:
        """Shard the input into 00-source; reuse it when the input has not changed."""
        d = self.out / SOURCE_DIR
        if src.is_dir():
            table = ingest.ingest_table(src)
            fp = _table_fingerprint(table, ["id", "path", "error"])
            n_rows = table.num_rows
        else:
            fp = _file_fingerprint(src)
            table = None
            n_rows = _count_rows(src)
        fp = hashlib.sha1(json.dumps([fp, str(src)]).encode()).hexdigest()[:16]
        meta = _read_stage_meta(d)
        if meta and meta.get("fingerprint") == fp and meta.get("complete"):
            cols = pq.read_schema(d / sh.part_name(0)).names if meta["shards"] else ["id", "path"]
            return meta["shards"], meta["rows"], fp, cols
        # the input changed (or was never sharded): every stage downstream is stale
        for sd in self._own_stage_dirs():
            _clear_stage_dir(sd)
        size = self.shard_size or max(1, min(MAX_AUTO_SHARD, math.ceil(n_rows / (self.workers * 4)) or 1))
        _write_stage_meta(d, {"fingerprint": fp, "complete": False, "stage": "source", "input": str(src)})
        batches = iter([table]) if table is not None else mio.iter_manifest(src)
        n_shards, seen, cols = 0, {}, ["id", "path"]
        ids_seen: set[str] = set()  # ids name clip files later: a duplicate would overwrite one
        for piece in _rechunk(batches, size):
            piece = mio.ensure_ids(piece, seen)
            for row_id in piece.column("id").to_pylist():
                if row_id in ids_seen:
                    raise ConfigError(
                        f"input {src}: id '{row_id}' appears more than once; ids must be unique "
                        "(drop the id column to have stable ids derived from each row)"
                    )
                ids_seen.add(row_id)
            cols = piece.column_names
            sh.write_part(schema.conform(piece), d / sh.part_name(n_shards))
            n_shards += 1
        _write_stage_meta(
            d,
            {
                "fingerprint": fp,
                "complete": True,
                "stage": "source",
                "input": str(src),
                "shards": n_shards,
                "rows": n_rows,
                "shard_size": size,
            },
        )
        return n_shards, n_rows, fp, cols

    def _check_columns(self, source_cols: list[str]) -> None:
        """Each stage's inputs must come from the source or an earlier stage."""
        have = set(source_cols) | {"error", "error_kind"}
        for spec in self.recipe.stages:
            stage = spec.build()
            need = [c for c in stage.required_columns() if c not in have]
            if need:
                raise ConfigError(
                    f"{self.recipe.source}: stage {spec.index + 1} '{spec.name}' needs column(s) "
                    f"{', '.join(need)}, which neither the input nor an earlier stage provides"
                )
            have |= set(stage.provides)

    # -- stages ---------------------------------------------------------------------------------

    def _run_stage(self, spec: StageSpec, fp: str, upstream: Path, n_shards: int, progress: Progress) -> StageReport:
        d = self.out / spec.dirname
        meta = _read_stage_meta(d)
        if meta and meta.get("fingerprint") != fp:
            # config (or something upstream) changed: this stage and those after are stale
            idx = spec.index
            for later in self.recipe.stages[idx:]:
                _clear_stage_dir(self.out / later.dirname)
        _clean_tmp(d)
        _write_stage_meta(
            d,
            {
                "fingerprint": fp,
                "stage": spec.name,
                "config": spec.config.model_dump(mode="json"),
                "complete": False,
                "shards": n_shards,
            },
        )
        report = StageReport(name=spec.name, dirname=spec.dirname, shards=n_shards)
        todo, stats = [], []
        for i in range(n_shards):
            part = d / sh.part_name(i)
            if part.exists():
                stats.append(sh.ShardStats.from_parquet(part))
            else:
                todo.append(i)
        report.resumed_shards = len(stats)
        total_rows = sum(_part_rows(upstream / sh.part_name(i)) for i in range(n_shards))
        task = progress.add_task(spec.dirname, total=max(total_rows, 1))
        progress.advance(task, sum(s.rows_in for s in stats))
        t0 = time.perf_counter()
        key = f"{spec.dirname}:{fp}"

        def args(i: int) -> tuple[Any, ...]:
            return (
                spec,
                key,
                str(upstream / sh.part_name(i)),
                str(d / sh.part_name(i)),
                str(d / "rejected" / sh.part_name(i)),
                i,
                str(self.out),
            )

        if self._in_process(todo):
            for i in todo:
                s = _worker_execute(*args(i))
                stats.append(s)
                progress.advance(task, s.rows_in)
        else:
            stats.extend(self._run_pool(spec, todo, args, lambda s: progress.advance(task, s.rows_in)))
        progress.update(task, completed=max(total_rows, 1))
        report.wall_s = time.perf_counter() - t0
        for s in stats:
            report.rows_in += s.rows_in
            report.rows_out += s.rows_out
            report.rejected += s.rejected
            report.seconds += s.seconds
            for k, v in s.errors.items():
                report.errors[k] = report.errors.get(k, 0) + v
        _clean_tmp(d)  # temp files of a worker that died mid-shard
        meta = _read_stage_meta(d) or {}
        meta["complete"] = True
        _write_stage_meta(d, meta)
        return report

    def _run_pool(self, spec: StageSpec, todo: list[int], args: Any, on_done: Any) -> list[sh.ShardStats]:
        """Run shards in the pool; if a worker dies, isolate the shard that kills it."""
        results: list[sh.ShardStats] = []
        done: set[int] = set()
        try:
            futures: dict[Future[sh.ShardStats], int] = {
                self._get_pool().submit(_worker_execute, *args(i)): i for i in todo
            }
            for fut in as_completed(futures):
                s = fut.result()
                results.append(s)
                done.add(futures[fut])
                on_done(s)
            return results
        except BrokenProcessPool:
            self._reset_pool()
        # a worker died (segfault, OOM kill): redo the rest one shard at a time to find the culprit
        for i in todo:
            if i in done or (self.out / spec.dirname / sh.part_name(i)).exists():
                if i not in done:
                    results.append(sh.ShardStats.from_parquet(self.out / spec.dirname / sh.part_name(i)))
                continue
            try:
                s = self._get_pool().submit(_worker_execute, *args(i)).result()
            except BrokenProcessPool:
                self._reset_pool()
                a = args(i)
                s = sh.failed_shard(
                    spec.name,
                    Path(a[2]),
                    Path(a[3]),
                    i,
                    "the worker process died on this shard (crash or out of memory)",
                )
            results.append(s)
            on_done(s)
        return results

    # -- pool -----------------------------------------------------------------------------------

    def _in_process(self, todo: list[int]) -> bool:
        """One worker or one shard: no pool (cheaper, and debuggers work)."""
        return self.workers <= 1 or len(todo) <= 1

    @contextlib.contextmanager
    def _pool_scope(self) -> Iterator[None]:
        try:
            yield
        finally:
            self._reset_pool()
            _WORKER_STAGES.clear()  # stages run in this process release their models/connections

    def _get_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=get_context("spawn"))
        return self._pool

    def _reset_pool(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def _progress_bar(self) -> Progress:
        return Progress(
            TextColumn("[bold]{task.description:<16}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("rows"),
            TimeElapsedColumn(),
            console=self.console,
            disable=not self.progress,
            transient=False,
        )

    # -- outputs --------------------------------------------------------------------------------

    def _finish(
        self, src: Path, last: Path, n_shards: int, source_rows: int, reports: list[StageReport], wall: float
    ) -> RunSummary:
        manifest = self.out / "manifest.parquet"
        rows_final, errors = _combine([last / sh.part_name(i) for i in range(n_shards)], manifest, count_errors=True)
        rejected_parts = []
        for spec in self.recipe.stages:
            rej = self.out / spec.dirname / "rejected"
            rejected_parts += [(p, spec.dirname) for p in sorted(rej.glob("part-*.parquet"))] if rej.is_dir() else []
        rejected = self.out / "rejected.parquet"
        rows_rej, _ = _combine([p for p, _ in rejected_parts], rejected, tags=[t for _, t in rejected_parts])
        summary = RunSummary(
            out=str(self.out),
            input=str(src),
            recipe=self.recipe.source,
            source_rows=source_rows,
            stages=reports,
            manifest=str(manifest),
            rejected=str(rejected),
            rows_final=rows_final,
            rows_rejected=rows_rej,
            errors_final=errors,
            wall_s=wall,
        )
        with mio.atomic_path(self.out / "summary.json") as tmp:
            tmp.write_text(json.dumps(summary.to_json(), indent=2))
        return summary


# --- helpers -------------------------------------------------------------------------------------


def _combine(
    parts: list[Path], dest: Path, *, tags: list[str] | None = None, count_errors: bool = False
) -> tuple[int, dict[str, int]]:
    """Stream parts into one Parquet file (schemas unified); returns rows and error kinds."""
    parts = [p for p in parts if p.exists()]
    errors: Counter[str] = Counter()
    schemas = [pq.read_schema(p) for p in parts]
    if tags is not None:
        schemas = [
            s.append(pa.field("rejected_by", pa.string())) if "rejected_by" not in s.names else s for s in schemas
        ]
    target = schema.unify(schemas) if schemas else pa.schema([("id", pa.string()), ("path", pa.string())])
    target = schema.settle_nulls(target)
    n = 0
    with mio.atomic_path(dest) as tmp, pq.ParquetWriter(tmp, target, compression="zstd") as w:
        for k, p in enumerate(parts):
            t = pq.read_table(p)
            if tags is not None:
                t = t.append_column("rejected_by", pa.array([tags[k]] * t.num_rows, pa.string()))
            t = schema.align(t, target)
            if count_errors and "error_kind" in t.column_names:
                errors.update(x for x in t.column("error_kind").to_pylist() if x)
            w.write_table(t)
            n += t.num_rows
    return n, dict(errors)


def _rechunk(batches: Any, size: int) -> Iterator[pa.Table]:
    """Regroup a stream of tables into tables of exactly `size` rows (the last may be short)."""
    buf: list[pa.Table] = []
    have = 0
    for t in batches:
        start = 0
        while start < t.num_rows:
            take = min(size - have, t.num_rows - start)
            buf.append(t.slice(start, take))
            have += take
            start += take
            if have == size:
                yield schema.concat(buf)
                buf, have = [], 0
    if have:
        yield schema.concat(buf)


def _count_rows(src: Path) -> int:
    if mio.manifest_format(src) == "parquet":
        return pq.read_metadata(src).num_rows
    return mio.read_manifest(src).num_rows


def _part_rows(p: Path) -> int:
    try:
        return pq.read_metadata(p).num_rows
    except (OSError, pa.ArrowInvalid):
        return 0


def _table_fingerprint(table: pa.Table, cols: list[str]) -> str:
    h = hashlib.sha1()
    for c in cols:
        if c in table.column_names:
            h.update(json.dumps(table.column(c).to_pylist()).encode())
    return h.hexdigest()[:16]


def _file_fingerprint(p: Path) -> str:
    h = hashlib.sha1()
    with open(p, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


def _read_stage_meta(d: Path) -> dict[str, Any] | None:
    try:
        return json.loads((d / "_stage.json").read_text())
    except (OSError, json.JSONDecodeError):
        return None


def _write_stage_meta(d: Path, meta: dict[str, Any]) -> None:
    d.mkdir(parents=True, exist_ok=True)
    with mio.atomic_path(d / "_stage.json") as tmp:
        tmp.write_text(json.dumps(meta, indent=2, sort_keys=True))


def _clean_tmp(d: Path) -> None:
    """Temp files of shards that were in flight when a run was killed."""
    if not d.is_dir():
        return
    for p in list(d.glob(".part-*.tmp")) + list(d.glob("rejected/.part-*.tmp")):
        p.unlink(missing_ok=True)


def _clear_stage_dir(d: Path) -> None:
    """Remove only the files this engine writes in a stage folder (never an rmtree)."""
    if not d.is_dir():
        return
    for pattern in (
        "part-*.parquet",
        ".part-*.tmp",
        "rejected/part-*.parquet",
        "rejected/.part-*.tmp",
        "_stage.json",
        "._stage.json.*.tmp",
    ):
        for p in d.glob(pattern):
            p.unlink(missing_ok=True)
    for sub in (d / "rejected", d):
        with contextlib.suppress(OSError):
            sub.rmdir()  # only if empty
