"""The units of work the orchestrator hands to executors, and what comes back.

A `ShardTask` says: run this configured stage over this shard's input part and write these
parts. It is plain data (pickled to pool workers and Ray actors). `ShardStats` rides along in the
part's Parquet metadata, so a resumed run reports what an earlier invocation did, and its `key`
says which input the part was made from: a part whose key no longer matches is redone.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pyarrow.parquet as pq

from vidcurate.core.recipe import StageSpec

STATS_KEY = b"vidcurate.stats"


@dataclass
class ShardStats:
    """What one stage did to one shard."""

    shard: int
    rows_in: int = 0
    rows_out: int = 0
    rejected: int = 0
    errors: dict[str, int] = field(default_factory=dict)  # new row errors by kind
    seconds: float = 0.0
    key: str = ""  # fingerprint of the stage config and the shard's input this part was made from
    files: list[str] = field(default_factory=list)  # files the stage recorded writing for this shard
    llm: dict[str, int] = field(default_factory=dict)  # what an LLM stage sent for this shard (calls, tokens...)
    resumed: bool = False

    def to_json(self) -> bytes:
        d = asdict(self)
        d.pop("resumed")
        return json.dumps(d).encode()

    @classmethod
    def from_parquet(cls, path: Path) -> ShardStats:
        meta = pq.read_schema(path).metadata or {}
        raw = meta.get(STATS_KEY)
        if raw is None:
            n = pq.read_metadata(path).num_rows
            return cls(shard=-1, rows_in=n, rows_out=n, resumed=True)
        data = json.loads(raw)
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known, resumed=True)

    def add(self, other: ShardStats) -> None:
        """Sum another piece of the same shard into this one (row-by-row retries)."""
        self.rows_in += other.rows_in
        self.rows_out += other.rows_out
        self.rejected += other.rejected
        self.seconds += other.seconds
        self.files += other.files
        for k, v in other.errors.items():
            self.errors[k] = self.errors.get(k, 0) + v
        for k, v in other.llm.items():
            self.llm[k] = self.llm.get(k, 0) + v


@dataclass(frozen=True)
class ShardTask:
    """Run `spec` over one shard. `rows` limits it to a slice of the input (isolating a crash)."""

    spec: StageSpec
    dirname: str  # the stage's folder in the run
    stage_key: str  # identifies the configured stage: workers build and set it up once per key
    shard: int
    src: Path
    dest: Path
    rejected: Path
    key: str  # stored with the part: the input it was made from
    rows: tuple[int, int] | None = None

    @property
    def label(self) -> str:
        rows = f" rows {self.rows[0]}-{self.rows[1] - 1}" if self.rows else ""
        return f"{self.dirname} shard {self.shard}{rows}"


@dataclass
class Outcome:
    """How a task ended: stats, or the error that stopped it, or the worker dying under it."""

    task: ShardTask
    stats: ShardStats | None = None
    error: BaseException | None = None
    died: str | None = None  # why the worker is gone (exit code, signal), when it died
