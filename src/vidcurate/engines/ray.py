"""Ray actors as an executor: the orchestrator's shards, resume and outputs, run on a Ray cluster.

Actors are workers like the local pool's processes: an actor builds a stage and calls `setup()`
the first time it runs one of its shards, keeps it, and tears it down when the run ends. A stage
that needs a GPU (`Stage.needs()`) gets actors holding its GPU share when the cluster has GPUs, so a
CPU stage and a GPU stage run side by side. The run folder must be on storage every node sees (NFS, a mounted bucket).
A dead actor (node lost, segfault) comes back as a `died` outcome, like a dead pool worker: the
orchestrator redoes that shard row by row on fresh actors.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vidcurate.core.errors import ConfigError
from vidcurate.core.recipe import Recipe
from vidcurate.engines.orchestrator import Engine
from vidcurate.engines.plan import StagePlan
from vidcurate.engines.tasks import Outcome, ShardTask
from vidcurate.engines.worker import Worker, portable_error, rebuild_error
from vidcurate.io.runfolder import RunFolder


class ShardActor:
    """A Ray actor: one worker holding the stages it set up."""

    def __init__(self, folder: str, index: int) -> None:
        self.worker = Worker(RunFolder(folder), index)

    def run(self, task: ShardTask) -> tuple[str, Any]:
        try:
            return "ok", self.worker.run(task)
        except Exception as e:
            return "error", portable_error(e)

    def close(self) -> None:
        self.worker.close()


@dataclass
class _Pool:
    """Actors of one kind: any CPU stage, or one GPU stage (actors holding a GPU share)."""

    options: dict[str, float]
    limit: int
    actors: list[Any] = field(default_factory=list)
    idle: list[Any] = field(default_factory=list)
    queue: deque[ShardTask] = field(default_factory=deque)


class RayActors:
    """Worker actors, like the local pool's processes: each can run any stage and keeps what it set up.

    CPU stages share one pool of one-CPU actors (as many as the cluster has CPUs, or `workers`). A
    stage that needs a GPU gets its own pool of actors holding its GPU share when the cluster has
    GPUs (a CPU-only cluster runs it in the CPU pool). A task waits in its pool's queue when every
    actor of that pool is busy, so no actor ever waits for resources an idle actor holds.
    """

    def __init__(self, folder: RunFolder, plans: list[StagePlan], address: str | None, workers: int | None) -> None:
        try:
            import ray
        except ImportError:
            raise ConfigError("the ray engine needs Ray: pip install 'vidcurate[ray]'") from None
        self.ray = ray
        self.started = not ray.is_initialized()
        if self.started:
            env = {"env_vars": {k: v for k, v in os.environ.items() if k.startswith("VIDCURATE_") or k == "PYTHONPATH"}}
            ray.init(
                address=address,
                num_cpus=None if address else (workers or os.cpu_count() or 1),
                include_dashboard=False,
                log_to_driver=False,
                runtime_env=env,
            )
        self.folder = str(folder.path)
        cluster = ray.cluster_resources()
        gpus_total = cluster.get("GPU", 0.0)
        cpus_total = max(1, int(cluster.get("CPU", 1)))
        self.pool_of: dict[str, str] = {}
        self.pools: dict[str, _Pool] = {}
        for p in plans:
            needs = p.stage.needs()
            if needs.gpus > 0 and gpus_total > 0:
                name = f"gpu:{p.stage_key}"
                limit = max(1, int(gpus_total / needs.gpus))
                if needs.max_workers is not None:
                    limit = min(limit, needs.max_workers)
                self.pools[name] = _Pool({"num_cpus": 1.0, "num_gpus": needs.gpus}, limit)
                self.pool_of[p.stage_key] = name
            else:
                self.pool_of[p.stage_key] = "cpu"
        gpu_actors = sum(pool.limit for pool in self.pools.values())
        self.pools["cpu"] = _Pool({"num_cpus": 1.0, "num_gpus": 0.0}, max(1, (workers or cpus_total) - gpu_actors))
        self.total = sum(pool.limit for pool in self.pools.values())
        self.running: dict[Any, tuple[Any, ShardTask]] = {}
        self._next = 0

    @property
    def slots(self) -> int:
        return self.total

    def free(self) -> int:
        return self.total - len(self.running) - sum(len(p.queue) for p in self.pools.values())

    def submit(self, task: ShardTask) -> None:
        pool = self.pools[self.pool_of[task.stage_key]]
        pool.queue.append(task)
        self._dispatch(pool)

    def _dispatch(self, pool: _Pool) -> None:
        while pool.queue:
            if pool.idle:
                actor = pool.idle.pop()
            elif len(pool.actors) < pool.limit:
                cls = self.ray.remote(num_cpus=pool.options["num_cpus"], num_gpus=pool.options["num_gpus"])(ShardActor)
                actor = cls.remote(self.folder, self._next)
                self._next += 1
                pool.actors.append(actor)
            else:
                return
            task = pool.queue.popleft()
            self.running[actor.run.remote(task)] = (actor, task)

    def wait(self) -> list[Outcome]:
        from ray.exceptions import RayActorError

        if not self.running:
            return []
        ready, _ = self.ray.wait(list(self.running), num_returns=1)
        out = []
        for ref in ready:
            actor, task = self.running.pop(ref)
            pool = self.pools[self.pool_of[task.stage_key]]
            try:
                status, payload = self.ray.get(ref)
            except RayActorError as e:
                pool.actors.remove(actor)
                out.append(Outcome(task, died=f"the Ray actor died ({type(e).__name__})"))
            else:
                pool.idle.append(actor)
                if status == "ok":
                    out.append(Outcome(task, stats=payload))
                else:
                    out.append(Outcome(task, error=rebuild_error(payload[0], payload[1], task)))
            self._dispatch(pool)
        return out

    def _all_actors(self) -> list[Any]:
        return [a for pool in self.pools.values() for a in pool.actors]

    def close(self) -> None:
        refs = [a.close.remote() for a in self._all_actors()]
        try:
            if refs:
                self.ray.get(refs, timeout=120)
        except Exception:
            pass
        self.kill()

    def kill(self) -> None:
        for a in self._all_actors():
            self.ray.kill(a)
        for pool in self.pools.values():
            pool.actors, pool.idle = [], []
            pool.queue.clear()
        if self.started:
            self.ray.shutdown()
            self.started = False


def ray_executor(address: str | None, workers: int | None) -> Callable[[RunFolder, int, list[StagePlan]], RayActors]:
    """The executor factory the orchestrator calls once it knows the plan."""

    def make(folder: RunFolder, _workers: int, plans: list[StagePlan]) -> RayActors:
        return RayActors(folder, plans, address, workers)

    return make


def RayEngine(recipe: Recipe, out: str | Path, *, address: str | None = None, **kwargs: Any) -> Engine:
    """The orchestrator on Ray actors (named like the engine class it replaced)."""
    executor = ray_executor(address or recipe.engine.address, kwargs.get("workers") or recipe.engine.workers)
    return Engine(recipe, out, executor=executor, **kwargs)
