"""The Ray engine: the local engine's shards, resume and outputs, with shards run on Ray actors.

Every stage runs on an actor pool sized by `workers` (default: the cluster's CPUs divided by the
stage's CPUs); each actor builds its stage and calls `setup()` once, then runs shards. The GPUs
a configured stage needs (`Stage.needs()`) become the actor's `num_gpus` when the cluster has
GPUs, so a GPU stage gets a GPU per actor (or a fraction). The run folder must be on storage
every node sees (NFS, a mounted bucket); the output is the same as the local engine's, shard for
shard. A dead actor (node lost, segfault)
marks only its shard's rows as errors, like the local engine's dead worker.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from vidcurate.core.errors import ConfigError, VidcurateError
from vidcurate.core.recipe import StageSpec
from vidcurate.engines import shard as sh
from vidcurate.engines.local import LocalEngine, _worker_execute


class _ShardWorker:
    """A Ray actor: holds one configured stage (set up once) and runs shards on it."""

    def run(self, *args: Any) -> sh.ShardStats:
        return _worker_execute(*args)


class RayEngine(LocalEngine):
    """Runs a recipe on a Ray cluster (or a local Ray instance when `address` is None)."""

    def __init__(self, *args: Any, address: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.address = address or self.recipe.engine.address
        self._explicit_workers = kwargs.get("workers") or self.recipe.engine.workers

    @contextlib.contextmanager
    def _pool_scope(self) -> Iterator[None]:
        try:
            import ray
        except ImportError:
            raise ConfigError("the ray engine needs Ray: pip install 'vidcurate[ray]'") from None
        started = not ray.is_initialized()
        if started:
            env = {"env_vars": {k: v for k, v in os.environ.items() if k in ("VIDCURATE_STAGES", "PYTHONPATH")}}
            ray.init(
                address=self.address,
                num_cpus=None if self.address else self.workers,
                include_dashboard=False,
                log_to_driver=False,
                runtime_env=env,
            )
        try:
            yield
        finally:
            if started:
                ray.shutdown()

    def _in_process(self, todo: list[int]) -> bool:
        return not todo

    def _run_pool(
        self, spec: StageSpec, todo: list[int], args: Callable[[int], tuple[Any, ...]], on_done: Callable[[Any], None]
    ) -> list[sh.ShardStats]:
        import ray
        from ray.exceptions import RayActorError, RayTaskError

        res = spec.build().needs()
        cpus = max(res.cpus, 0.01)
        gpus = res.gpus if ray.cluster_resources().get("GPU", 0) > 0 else 0.0  # CPU-only cluster: run on CPU
        n = self._explicit_workers or max(1, int(ray.cluster_resources().get("CPU", 1) // cpus))
        n = max(1, min(n, len(todo)))
        actor_cls = ray.remote(num_cpus=cpus, num_gpus=gpus)(_ShardWorker)
        actors = [actor_cls.remote() for _ in range(n)]
        pending = list(todo)
        running: dict[Any, tuple[Any, int]] = {}
        results: list[sh.ShardStats] = []

        def feed(actor: Any) -> None:
            if pending:
                i = pending.pop(0)
                running[actor.run.remote(*args(i))] = (actor, i)

        for a in actors:
            feed(a)
        while running:
            ready, _ = ray.wait(list(running), num_returns=1)
            ref = ready[0]
            actor, i = running.pop(ref)
            try:
                s = ray.get(ref)
            except RayTaskError as e:  # the stage raised (a config error): stop like the local engine
                cause = getattr(e, "cause", None)
                raise (cause if isinstance(cause, VidcurateError) else e) from None
            except RayActorError:
                a = args(i)
                s = sh.failed_shard(spec.name, Path(a[2]), Path(a[3]), i, "the Ray actor died on this shard")
                actor = actor_cls.remote()
            results.append(s)
            on_done(s)
            feed(actor)
        for a in actors:
            ray.kill(a)
        return results
