"""Small stages for engine tests, importable by spawned workers (tests/ is on PYTHONPATH)."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from vidcurate.core.errors import RowError
from vidcurate.core.stage import RowStage, StageConfig


class DigestConfig(StageConfig):
    sleep_s: float = Field(0.0, ge=0)
    fail_on: str | None = None  # substring of a path that raises RowError
    crash_on: str | None = None  # substring of a path that raises a plain exception
    die_on: str | None = None  # substring of a path that kills the worker process
    salt: str = ""
    setup_log: str | None = None  # file that each setup() appends its pid to


class Digest(RowStage):
    """Adds `digest` (sha1 of the file's bytes + salt): deterministic, and slow on demand."""

    name: ClassVar[str] = "test.digest"
    Config: ClassVar[type[StageConfig]] = DigestConfig
    provides: ClassVar[tuple[str, ...]] = ("digest",)

    def setup(self) -> None:
        log = self.config.setup_log  # type: ignore[attr-defined]
        if log:
            with open(log, "a") as f:
                f.write(f"{os.getpid()}\n")

    def process_row(self, row: dict[str, Any]) -> dict[str, Any]:
        cfg: DigestConfig = self.config  # type: ignore[assignment]
        if cfg.sleep_s:
            time.sleep(cfg.sleep_s)
        if cfg.fail_on and cfg.fail_on in row["path"]:
            raise RowError("bad_row", f"{os.path.basename(row['path'])}: refused by test")
        if cfg.die_on and cfg.die_on in row["path"]:
            os._exit(3)
        if cfg.crash_on and cfg.crash_on in row["path"]:
            raise ZeroDivisionError("boom")
        with open(row["path"], "rb") as f:
            digest = hashlib.sha1(f.read() + cfg.salt.encode()).hexdigest()
        return {"digest": digest}


class Explode(RowStage):
    """Creates `n` child rows per input row (a splitter)."""

    name: ClassVar[str] = "test.explode"

    class Config(StageConfig):
        n: int = 3

    provides: ClassVar[tuple[str, ...]] = ("child",)

    def process_row(self, row: dict[str, Any]) -> list[dict[str, Any]]:
        return [{"child": i, "id": f"{row['id']}-{i}"} for i in range(self.config.n)]  # type: ignore[attr-defined]


STAGES = "test.digest=stagekit:Digest,test.explode=stagekit:Explode"


def kill_mid_stage(cmd: list[str], env: dict[str, str], stage_dir: Path, after_parts: int) -> int:
    """Start `cmd` in its own process group, SIGKILL it once `stage_dir` holds `after_parts` parts.

    Returns how many parts were done when the kill landed.
    """
    proc = subprocess.Popen(cmd, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline and len(list(stage_dir.glob("part-*.parquet"))) < after_parts:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return len(list(stage_dir.glob("part-*.parquet")))
