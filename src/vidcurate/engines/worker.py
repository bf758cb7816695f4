"""What runs inside a worker (a pool process, a Ray actor, or the main process).

A `Worker` builds each configured stage the first time a task needs it, calls `setup(ctx)` once,
keeps it for later shards, and calls `teardown()` on every stage it set up when the executor
closes. `pool_main` is a pool process's whole life: it dies with its parent (even on SIGKILL),
leaves Ctrl+C to the main process, runs the tasks it is sent, and reports each result or error.
"""

from __future__ import annotations

import logging
import os
import signal
import traceback
from multiprocessing.connection import Connection
from typing import Any

from vidcurate.core.errors import ConfigError, EnvironmentFault, VidcurateError, fault_of
from vidcurate.core.stage import Stage, StageContext
from vidcurate.engines.shard import process_shard, read_input, write_part
from vidcurate.engines.tasks import ShardStats, ShardTask
from vidcurate.io import heap
from vidcurate.io.proc import die_with_parent
from vidcurate.io.runfolder import RunFolder
from vidcurate.llm.usage import summarize

log = logging.getLogger("vidcurate.engine")


class WorkerError(VidcurateError):
    """A stage raised something that is neither a row error nor a known fault (a bug)."""


class Worker:
    """Stages set up in one worker, by stage key."""

    def __init__(self, folder: RunFolder | None, index: int = 0, device: str = "auto") -> None:
        self.folder = folder
        self.index = index
        self.device = device
        self.stages: dict[str, Stage[Any]] = {}

    def stage(self, task: ShardTask) -> Stage[Any]:
        stage = self.stages.get(task.stage_key)
        if stage is None:
            stage = task.spec.build()
            stage.setup(StageContext(stage=task.dirname, worker=self.index, device=self.device, outputs=self.folder))
            self.stages[task.stage_key] = stage
            heap.freeze()  # models and modules are here to stay: full collections skip them from now on
        return stage

    def run(self, task: ShardTask) -> ShardStats:
        """Run one task and commit its parts (rejected first: the main part is the commit)."""
        stage = self.stage(task)
        if stage.barrier:  # a global step: it sees every shard of its input, not only its own
            stage.context.upstream = tuple(sorted(task.src.parent.glob("part-*.parquet")))
        kept, rejected, stats = process_shard(stage, read_input(task.src, task.rows))
        stats.shard = task.shard
        stats.key = task.key
        stats.files = stage.context.take_written()
        stats.llm = summarize([t for t in (kept, rejected) if t is not None]).get(stage.name, {})
        if rejected is not None:
            write_part(rejected, task.rejected)
        else:
            task.rejected.unlink(missing_ok=True)
        write_part(kept, task.dest, stats)
        return stats

    def close(self) -> None:
        """Tear down every stage set up here, once; a failing teardown does not stop the others."""
        stages, self.stages = self.stages, {}
        for key, stage in stages.items():
            try:
                stage.teardown()
            except Exception as e:
                log.warning("teardown of %s failed: %s", key, e)


def portable_error(exc: BaseException) -> tuple[str, str]:
    """An exception as (kind, message) that survives pickling: config, fault or bug."""
    if isinstance(exc, ConfigError):
        return "config", str(exc)
    fault = fault_of(exc)
    if fault is not None:
        return "fault", str(fault)
    tb = traceback.format_exception(type(exc), exc, exc.__traceback__)
    return "bug", f"{type(exc).__name__}: {exc}\n{''.join(tb[-6:])}"


def rebuild_error(kind: str, message: str, task: ShardTask) -> BaseException:
    if kind == "config":
        return ConfigError(message)
    if kind == "fault":
        return EnvironmentFault(f"{message} (in {task.label}; nothing of that shard was kept)")
    return WorkerError(f"{task.label}: {message}")


def pool_main(conn: Connection, folder: str | None, index: int, device: str, parent: int, workers: int = 1) -> None:
    """A pool process: run the tasks sent on `conn` until told to stop (None)."""
    die_with_parent(parent)
    os.environ["VIDCURATE_WORKERS"] = str(workers)  # how many share the cores (stages size their threads by it)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is the main process's to handle
    worker = Worker(RunFolder(folder) if folder else None, index, device)
    try:
        while True:
            try:
                task = conn.recv()
            except EOFError:
                return
            if task is None:
                return
            try:
                conn.send(("ok", worker.run(task)))
            except BaseException as e:
                conn.send(("error", portable_error(e)))
    finally:
        worker.close()
        conn.close()
