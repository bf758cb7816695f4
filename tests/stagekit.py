"""Small stages for engine tests, importable by spawned workers (tests/ is on PYTHONPATH)."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa
from pydantic import Field

from vidcurate.core.errors import RowError
from vidcurate.core.stage import Columns, RowStage, StageConfig, StageContext
from vidcurate.io import proc


class DigestConfig(StageConfig):
    sleep_s: float = Field(0.0, ge=0)
    fail_on: str | None = None  # substring of a path that raises RowError
    crash_on: str | None = None  # substring of a path that raises a plain exception
    die_on: str | None = None  # substring of a path that kills the worker process
    salt: str = ""
    setup_log: str | None = None  # file that each setup() appends its pid to
    teardown_log: str | None = None  # file that each teardown() appends its pid to
    child_s: float = 0.0  # start a child process (`sleep`) that lives this long, per row
    child_log: str | None = None  # file the child pids are appended to
    memory_error_if: str | None = None  # raise MemoryError while this file exists
    write_bytes: int = 0  # write a file this big per row under the run's output (a file-size limit fails it)
    trace_log: str | None = None  # file each row appends "<pid> <start> <end> <stage> <file>" to


class Digest(RowStage[DigestConfig]):
    """Adds `digest` (sha1 of the file's bytes + salt): deterministic, and slow on demand."""

    name: ClassVar[str] = "test.digest"
    columns: ClassVar[Columns] = {"digest": pa.string()}

    def setup(self, ctx: StageContext) -> None:
        super().setup(ctx)
        log = self.config.setup_log
        if log:
            with open(log, "a") as f:
                f.write(f"{os.getpid()}\n")

    def teardown(self) -> None:
        log = self.config.teardown_log
        if log:
            with open(log, "a") as f:
                f.write(f"{os.getpid()}\n")

    def process_row(self, row: dict[str, Any]) -> dict[str, Any]:
        cfg = self.config
        t0 = time.time()
        try:
            return self._digest(row)
        finally:
            if cfg.trace_log:
                with open(cfg.trace_log, "a") as f:
                    f.write(f"{os.getpid()} {t0} {time.time()} {self.context.stage} {os.path.basename(row['path'])}\n")

    def _digest(self, row: dict[str, Any]) -> dict[str, Any]:
        cfg = self.config
        if cfg.sleep_s:
            time.sleep(cfg.sleep_s)
        if cfg.child_s:
            child = proc.popen(["sleep", str(cfg.child_s)])
            if cfg.child_log:
                with open(cfg.child_log, "a") as f:
                    f.write(f"{child.pid}\n")
            child.wait()
        if cfg.memory_error_if and os.path.exists(cfg.memory_error_if):
            raise MemoryError("test: no memory")
        if cfg.write_bytes:
            out = self.context.output_dir("media") / f"{row['id']}.bin"
            with open(out, "wb") as f:
                f.write(b"\0" * cfg.write_bytes)
            self.context.record(out)
        if cfg.fail_on and cfg.fail_on in row["path"]:
            raise RowError("bad_row", f"{os.path.basename(row['path'])}: refused by test")
        if cfg.die_on and cfg.die_on in row["path"]:
            os._exit(3)
        if cfg.crash_on and cfg.crash_on in row["path"]:
            raise ZeroDivisionError("boom")
        with open(row["path"], "rb") as f:
            digest = hashlib.sha1(f.read() + cfg.salt.encode()).hexdigest()
        return {"digest": digest}


class ExplodeConfig(StageConfig):
    n: int = 3


class Explode(RowStage[ExplodeConfig]):
    """Creates `n` child rows per input row (a splitter)."""

    name: ClassVar[str] = "test.explode"
    columns: ClassVar[Columns] = {"child": pa.int64()}

    def process_row(self, row: dict[str, Any]) -> list[dict[str, Any]]:
        return [{"child": i, "id": f"{row['id']}-{i}"} for i in range(self.config.n)]


class Barrier(Digest):
    """A digest that starts only once every shard of the stage before it is done."""

    name: ClassVar[str] = "test.barrier"
    columns: ClassVar[Columns] = {"digest2": pa.string()}
    barrier: ClassVar[bool] = True

    def _digest(self, row: dict[str, Any]) -> dict[str, Any]:
        return {"digest2": super()._digest(row)["digest"]}


STAGES = "test.digest=stagekit:Digest,test.explode=stagekit:Explode,test.barrier=stagekit:Barrier"


def register(monkeypatch: Any) -> None:
    """Register these stages as plugins, in this process and in the workers a run spawns (tests/ on PYTHONPATH)."""
    monkeypatch.setenv("VIDCURATE_STAGES", STAGES)
    here = str(Path(__file__).resolve().parent)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([here, os.environ.get("PYTHONPATH", "")]))
    from vidcurate.core import registry

    registry.stages.reload_plugins()


def kill_mid_stage(cmd: list[str], env: dict[str, str], stage_dir: Path, after_parts: int) -> int:
    """Start `cmd` in its own process group, SIGKILL it once `stage_dir` holds `after_parts` parts.

    Returns how many parts were done when the kill landed.
    """
    proc_ = subprocess.Popen(cmd, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline and len(list(stage_dir.glob("part-*.parquet"))) < after_parts:
        time.sleep(0.02)
    os.killpg(proc_.pid, signal.SIGKILL)
    proc_.wait()
    return len(list(stage_dir.glob("part-*.parquet")))
