"""The engine: plan a run, schedule its shard tasks on an executor, combine the outputs.

Scheduling is per shard, not per stage: as soon as a shard's part is written for one stage, that
shard is ready for the next, so a CPU stage and a GPU or LLM stage run at the same time and the
first finished rows appear early. Among ready tasks the deepest stage goes first (the pipeline
drains instead of piling up parts). A barrier stage (`Stage.barrier`, e.g. a global dedup match)
starts only once every shard of the stage before it is done. GPU stages run at most one shard per
GPU at a time (`Resources.max_workers` caps any stage).

A shard that an earlier stage expanded (a long video split into many clips) runs as row ranges
on every worker for stages that read media (`engines/pieces.py`).

Failures: a row error is data; a worker that dies takes only its task with it, and that shard is
then redone one row at a time so the row that kills the worker is found and marked; a config
error, an environment fault or a stage bug stops the run after the tasks in flight end, with one
line, leaving every committed shard for the rerun to resume.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from rich.console import Console

from vidcurate.core.errors import ConfigError
from vidcurate.core.recipe import Recipe
from vidcurate.core.stage import Stage
from vidcurate.engines import combine
from vidcurate.engines.executors import Executor, InProcess, ProcessPool
from vidcurate.engines.pieces import Pieces, fan_out, fans_out, merge, piece_outcome, piece_tasks
from vidcurate.engines.plan import StagePlan, apply, plan
from vidcurate.engines.progress import RunProgress
from vidcurate.engines.source import SourceInfo, shard_input
from vidcurate.engines.tasks import ShardStats, ShardTask
from vidcurate.io.runfolder import STAGE_DIR_RE, RunFolder, RunSummary, StageReport

ExecutorFactory = Callable[[RunFolder, int, list[StagePlan]], Executor]


def local_executor(folder: RunFolder, workers: int, plans: list[StagePlan]) -> Executor:
    """A process pool, or this process when one worker (or one task) is all there is to run.

    One shard left can still be many tasks: a stage after another may get it expanded (a resumed
    run that stopped while scoring the clips of one long video) and run it as pieces.
    """
    todo = sum(len(p.todo) for p in plans)
    pieces = any(p.todo and fans_out(p.stage) for p in plans[1:])
    if workers <= 1 or (todo <= 1 and not pieces):
        return InProcess(folder)
    return ProcessPool(workers, folder)


class Engine:
    """Runs a recipe on an executor. `workers <= 1` runs in this process (handy for debugging)."""

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
        executor: ExecutorFactory = local_executor,
    ) -> None:
        self.recipe = recipe
        self.folder = RunFolder(out)
        self.out = self.folder.path
        self.workers = workers or recipe.engine.workers or os.cpu_count() or 1
        self.shard_size = shard_size or recipe.engine.shard_size
        self.overwrite = overwrite
        self.console = console or Console(stderr=True)
        self.progress = progress
        self.make_executor = executor

    # -- public --------------------------------------------------------------------------------

    def run(self, input_path: str | Path) -> RunSummary:
        t0 = time.perf_counter()
        src = Path(input_path).resolve()
        self._check_paths(src)
        with self.folder.locked():
            if self.overwrite:
                for d in self.folder.stage_dirs():
                    d.clear()  # the source too: it is cheap to shard again
            self.folder.reset_tmp()
            self.folder.clean_temp_files()
            stages = [spec.build() for spec in self.recipe.stages]
            source = shard_input(
                src,
                self.folder,
                workers=self.workers,
                shard_size=self.shard_size,
                stat_media=any(s.reads_media for s in stages),
            )
            self._check_columns(source.schema, stages)
            plans = plan(self.recipe, self.folder, source, stages)
            self._remove_stale_dirs(plans)
            for p in plans:
                if p.todo:
                    p.stage.preflight()  # what would fail every row (an LLM server that is not there)
            apply(plans, self.folder, source.shards)
            reports = self._execute(plans, source)
            summary = combine.finish(self.folder, self.recipe, src, plans, source, reports, t0)
        return summary

    def dry_run(self, input_path: str | Path) -> tuple[SourceInfo, list[StagePlan]]:
        """What `run` would do, computed without writing anything or running a stage."""
        src = Path(input_path).resolve()
        self._check_paths(src)
        self.folder.check_takeable()
        stages = [spec.build() for spec in self.recipe.stages]
        stat = any(s.reads_media for s in stages)
        source = shard_input(
            src, self.folder, workers=self.workers, shard_size=self.shard_size, stat_media=stat, write=False
        )
        self._check_columns(source.schema, stages)
        plans = plan(self.recipe, self.folder, source, stages)
        if self.overwrite:
            for p in plans:
                p.todo = dict.fromkeys(range(source.shards), "--overwrite")
                p.done = {}
        return source, plans

    # -- checks --------------------------------------------------------------------------------

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
            own = {self.folder.manifest, self.folder.rejected}
            if src in own or any(STAGE_DIR_RE.match(p.name) for p in src.parents if self.out in p.parents):
                raise ConfigError(f"input {src} is one of this run's own outputs; copy it elsewhere first")

    def _check_columns(self, source: dict[str, pa.DataType], stages: list[Stage[Any]]) -> None:
        """Each stage's inputs must come from the source or an earlier stage (checked before any work)."""
        have = {**source, "error": pa.string(), "error_kind": pa.string()}
        for spec, stage in zip(self.recipe.stages, stages, strict=True):
            need = [c for c in stage.required_columns() if c not in have]
            if need:
                raise ConfigError(
                    f"{self.recipe.source}: stage {spec.index + 1} '{spec.name}' needs column(s) "
                    f"{', '.join(need)}, which neither the input nor an earlier stage provides"
                )
            try:
                stage.check_input(have)
            except ConfigError as e:
                raise ConfigError(f"{self.recipe.source}: stage {spec.index + 1} '{spec.name}': {e}") from None
            have |= dict(stage.output_columns())

    def _remove_stale_dirs(self, plans: list[StagePlan]) -> None:
        keep = {p.dirname for p in plans} | {self.folder.source().name}
        for d in self.folder.stage_dirs():
            if d.name not in keep:
                d.clear()

    # -- scheduling ----------------------------------------------------------------------------

    def _execute(self, plans: list[StagePlan], source: SourceInfo) -> list[StageReport]:
        n = source.shards
        done: list[dict[int, ShardStats]] = [dict(p.done) for p in plans]
        running: list[int] = [0] * len(plans)
        caps = [_cap(p.stage) for p in plans]
        isolating: dict[tuple[int, int], Pieces] = {}  # shards run as row ranges (`pieces.py`)
        queued: list[ShardTask] = []  # their tasks, run first
        tmp = self.folder.tmp_dir
        started = [0.0] * len(plans)
        ended = [0.0] * len(plans)
        failure: BaseException | None = None
        executor = self.make_executor(self.folder, self.workers, plans)
        bar = RunProgress(self.console, [p.dirname for p in plans], n, enabled=self.progress)
        for k, p in enumerate(plans):
            bar.resumed(k, len(p.done), sum(s.rows_in for s in p.done.values()))
        in_flight: set[tuple[int, int]] = set()

        def upstream(k: int, s: int) -> Path:
            return self.folder.source().part(s) if k == 0 else self.folder.stage(plans[k - 1].dirname).part(s)

        def ready(k: int, s: int) -> bool:
            if s in done[k] or (k, s) in in_flight or (k, s) in isolating:
                return False
            if k == 0:
                return True
            if plans[k].stage.barrier and len(done[k - 1]) < n:
                return False
            return s in done[k - 1]

        def next_task() -> ShardTask | None:
            for t in queued:
                k = _stage_index(plans, t)
                if running[k] < caps[k]:
                    queued.remove(t)
                    return t
            for k in range(len(plans) - 1, -1, -1):
                if running[k] >= caps[k]:
                    continue
                for s in range(n):
                    if ready(k, s):
                        p = plans[k]
                        d = self.folder.stage(p.dirname)
                        task = ShardTask(
                            p.spec, p.dirname, p.stage_key, s, upstream(k, s), d.part(s), d.rejected_part(s), p.keys[s]
                        )
                        # source shards never exceed the shard size: only a later stage's input can
                        cut = fan_out(task, source.shard_size) if k > 0 and fans_out(p.stage) else None
                        if cut is None:
                            in_flight.add((k, s))
                            return task
                        isolating[(k, s)] = cut  # an expanded shard: its rows go to every worker
                        queued.extend(piece_tasks(task, cut, tmp))
                        return next_task()
            return None

        try:
            while any(len(d) < n for d in done):
                if failure is None:
                    while executor.free() > 0:
                        task = next_task()
                        if task is None:
                            break
                        k = _stage_index(plans, task)
                        if not started[k]:
                            started[k] = time.perf_counter()
                        running[k] += 1
                        executor.submit(task)
                if sum(running) == 0:
                    break
                for o in executor.wait():
                    k = _stage_index(plans, o.task)
                    running[k] -= 1
                    ended[k] = time.perf_counter()
                    key = (k, o.task.shard)
                    if o.task.rows is not None:
                        queued.extend(piece_outcome(o, isolating[key], plans[k].spec.name, tmp))
                        if not isolating[key].left:
                            done[k][o.task.shard] = merge(self.folder, plans[k].dirname, isolating.pop(key), o.task)
                            bar.shard_done(k, done[k][o.task.shard].rows_in)
                        elif o.error is not None and failure is None:
                            failure = o.error
                        continue
                    in_flight.discard(key)
                    if o.stats is not None:
                        self.folder.record_written(o.stats.files)
                        done[k][o.task.shard] = o.stats
                        bar.shard_done(k, o.stats.rows_in)
                    elif o.died is not None:  # find the row that kills the worker: one row per task
                        isolating[key] = Pieces.of(pq.read_metadata(o.task.src).num_rows, 1)
                        queued.extend(piece_tasks(o.task, isolating[key], tmp))
                    elif failure is None:
                        failure = o.error
        except BaseException:
            kill = getattr(executor, "kill", None)
            if kill is not None:
                kill()
            else:
                executor.close()
            bar.stop()
            raise
        executor.close()
        bar.stop()
        if failure is not None:
            raise failure
        if any(len(d) < n for d in done):
            raise RuntimeError("the scheduler stopped with shards left to do (a bug in vidcurate)")
        return [self._report(p, done[k], ended[k] - started[k] if started[k] else 0.0) for k, p in enumerate(plans)]

    # -- reports -------------------------------------------------------------------------------

    def _report(self, p: StagePlan, done: dict[int, ShardStats], wall: float) -> StageReport:
        r = StageReport(name=p.spec.name, dirname=p.dirname, shards=len(p.keys), resumed_shards=len(p.done))
        r.wall_s = wall
        for i, s in done.items():
            for k, v in s.llm.items():
                r.llm_all[k] = r.llm_all.get(k, 0) + v
                if i not in p.done:
                    r.llm[k] = r.llm.get(k, 0) + v
            r.rows_in += s.rows_in
            r.rows_out += s.rows_out
            r.rejected += s.rejected
            r.seconds += s.seconds
            for k, v in s.errors.items():
                r.errors[k] = r.errors.get(k, 0) + v
        meta = self.folder.stage_meta(p.dirname)
        meta["complete"] = len(done) == len(p.keys)
        self.folder.stage(p.dirname).write_meta(meta)
        return r


def _stage_index(plans: list[StagePlan], task: ShardTask) -> int:
    for k, p in enumerate(plans):
        if p.dirname == task.dirname:
            return k
    raise KeyError(task.dirname)


def _cap(stage: Stage[Any]) -> int:
    """How many shards of a stage may run at once in the local engine."""
    needs = stage.needs()
    if needs.max_workers is not None:
        return max(1, needs.max_workers)
    if needs.gpus > 0:
        gpus = gpu_count()
        return max(1, int(gpus / needs.gpus)) if gpus else 1 << 30
    return 1 << 30


def gpu_count() -> int:
    """NVIDIA GPUs visible to this process (device files, honouring CUDA_VISIBLE_DEVICES), no import."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return len([v for v in visible.split(",") if v.strip() and v.strip() != "-1"])
    try:
        return len([n for n in os.listdir("/dev") if n.startswith("nvidia") and n[6:].isdigit()])
    except OSError:
        return 0
