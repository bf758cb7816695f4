"""Executors run shard tasks: in this process, on a pool of worker processes, or on Ray actors.

The orchestrator only sees the `Executor` protocol: `submit` a task when `free()` says a slot is
open, `wait` for outcomes as they come, `close` at the end (every worker tears its stages down).

`ProcessPool` keeps one pipe per worker process instead of a shared queue, so it always knows
which task a worker held: when a worker dies (segfault, OOM kill), only that task comes back as
`died` and the other workers carry on; the pool starts a fresh process for the next task. Workers
die with the main process, even when it is killed with SIGKILL (`io.proc.die_with_parent`).
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
from collections import deque
from multiprocessing.connection import wait
from typing import Any, Protocol

from vidcurate.engines.tasks import Outcome, ShardTask
from vidcurate.engines.worker import Worker, pool_main, portable_error, rebuild_error
from vidcurate.io.runfolder import RunFolder


class Executor(Protocol):
    """Runs shard tasks; the orchestrator decides which and when."""

    @property
    def slots(self) -> int:
        """How many tasks run at once at most."""

    def free(self) -> int:
        """How many more tasks can be submitted now."""

    def submit(self, task: ShardTask) -> None: ...

    def wait(self) -> list[Outcome]:
        """Block until at least one task ends; its outcome(s)."""

    def close(self) -> None:
        """Stop the workers; each tears down the stages it set up."""


class InProcess:
    """Tasks run one at a time in this process (one worker, or a debugger attached)."""

    def __init__(self, folder: RunFolder | None, device: str = "auto") -> None:
        self.worker = Worker(folder, 0, device)
        self.queue: deque[ShardTask] = deque()

    @property
    def slots(self) -> int:
        return 1

    def free(self) -> int:
        return 0 if self.queue else 1

    def submit(self, task: ShardTask) -> None:
        self.queue.append(task)

    def wait(self) -> list[Outcome]:
        task = self.queue.popleft()
        try:
            return [Outcome(task, stats=self.worker.run(task))]
        except BaseException as e:
            if not isinstance(e, Exception):
                raise  # KeyboardInterrupt, SystemExit: not a task's outcome
            kind, message = portable_error(e)
            return [Outcome(task, error=rebuild_error(kind, message, task))]

    def close(self) -> None:
        self.worker.close()


class _Proc:
    """One pool worker: its process, its end of the pipe, the task it holds."""

    def __init__(self, ctx: Any, folder: str | None, index: int, device: str, workers: int) -> None:
        self.conn, child = ctx.Pipe(duplex=True)
        self.proc = ctx.Process(
            target=pool_main,
            args=(child, folder, index, device, os.getpid(), workers),
            daemon=True,
            name=f"vidcurate-w{index}",
        )
        self.proc.start()
        child.close()
        self.task: ShardTask | None = None


class ProcessPool:
    """`workers` spawned processes, each running one task at a time."""

    def __init__(self, workers: int, folder: RunFolder | None, device: str = "auto") -> None:
        self.workers = max(1, workers)
        self.folder = str(folder.path) if folder is not None else None
        self.device = device
        self._ctx = mp.get_context("spawn")
        self._procs: list[_Proc] = []
        self._next_index = 0

    @property
    def slots(self) -> int:
        return self.workers

    def free(self) -> int:
        return self.workers - sum(1 for p in self._procs if p.task is not None)

    def submit(self, task: ShardTask) -> None:
        idle = next((p for p in self._procs if p.task is None), None)
        if idle is None:
            if len(self._procs) >= self.workers:
                raise RuntimeError("no free worker: check free() before submit()")
            idle = _Proc(self._ctx, self.folder, self._next_index, self.device, self.workers)
            self._next_index += 1
            self._procs.append(idle)
        idle.task = task
        idle.conn.send(task)

    def wait(self) -> list[Outcome]:
        busy = [p for p in self._procs if p.task is not None]
        if not busy:
            return []
        handles: list[Any] = [p.conn for p in busy] + [p.proc.sentinel for p in busy]
        ready = set(wait(handles))
        out: list[Outcome] = []
        for p in busy:
            task = p.task
            assert task is not None
            if p.conn in ready:
                try:
                    status, payload = p.conn.recv()
                except (EOFError, OSError):
                    status, payload = "died", None
                if status == "ok":
                    out.append(Outcome(task, stats=payload))
                    p.task = None
                    continue
                if status == "error":
                    out.append(Outcome(task, error=rebuild_error(payload[0], payload[1], task)))
                    p.task = None
                    continue
            if p.conn in ready or p.proc.sentinel in ready:
                p.proc.join(timeout=5)
                out.append(Outcome(task, died=_exit_reason(p.proc.exitcode)))
                self._drop(p)
        return out

    def _drop(self, p: _Proc) -> None:
        p.conn.close()
        if p.proc.is_alive():
            p.proc.kill()
            p.proc.join(timeout=5)
        self._procs.remove(p)

    def close(self) -> None:
        """Ask every worker to stop (they tear down their stages), then make sure they are gone."""
        for p in self._procs:
            with contextlib.suppress(BrokenPipeError, OSError):
                p.conn.send(None)
        for p in self._procs:
            p.proc.join(timeout=30)
            if p.proc.is_alive():
                p.proc.kill()
                p.proc.join(timeout=5)
            p.conn.close()
        self._procs = []

    def kill(self) -> None:
        """Stop every worker now (the run is being interrupted)."""
        for p in self._procs:
            if p.proc.is_alive():
                p.proc.kill()
        for p in self._procs:
            p.proc.join(timeout=5)
            p.conn.close()
        self._procs = []


def _exit_reason(code: int | None) -> str:
    if code is None:
        return "the worker process stopped answering"
    if code < 0:
        import signal

        try:
            return f"the worker process was killed by {signal.Signals(-code).name} (crash or out of memory)"
        except ValueError:
            return f"the worker process was killed by signal {-code}"
    return f"the worker process exited with code {code} (crash or out of memory)"
