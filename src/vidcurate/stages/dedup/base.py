"""A dedup stage: a global match over every shard, then each shard's rows marked (and the copies dropped).

The stage is a barrier (`Stage.barrier`): its shard tasks start once every shard of the stage
before it is done, and each reads the signatures of the whole input (`StageContext.upstream`).
The match itself runs once per run: the first task to need it computes it under a lock and leaves
it in the run's scratch folder; the others, in this or another worker process (or Ray actor), read
it. Groups are named after the member kept (highest resolution, then longest, then the higher
`score_column`, then the smaller id), so both engines and every shard order give the same answer.
Without a run (a stage used from Python) the batch is the whole input.

Columns: `dup_group` (the kept id, for every member of a group of two or more), `dup_keep`
(True for the member kept and for rows without duplicates), `dup_of` (the kept id, for the others).
With `drop` (the default) the others go to rejected.parquet with the reason (their `dup_of` names
the row kept).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
from abc import abstractmethod
from pathlib import Path
from typing import ClassVar, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import Field

from vidcurate.core import schema
from vidcurate.core.stage import Columns, Stage, StageConfig
from vidcurate.io.fs import atomic_path
from vidcurate.stages.dedup.groups import decide

POLICY = ("width", "height", "duration_s", "start_s", "end_s")


class DedupConfig(StageConfig):
    drop: bool = Field(True, description="move the copies to rejected.parquet (else only mark them)")
    score_column: str | None = Field(None, description="a column that breaks ties after resolution and length")


C = TypeVar("C", bound=DedupConfig)


class DedupStage(Stage[C]):
    barrier: ClassVar[bool] = True
    reads_media: ClassVar[bool] = False
    columns: ClassVar[Columns] = {"dup_group": pa.string(), "dup_keep": pa.bool_(), "dup_of": pa.string()}
    _cache: tuple[str, dict[str, tuple[str, bool, str | None]]] | None = None

    reason: ClassVar[str] = "duplicate of a kept row (dup_of)"

    @abstractmethod
    def signature_columns(self) -> tuple[str, ...]:
        """The columns the match reads."""

    @abstractmethod
    def pairs(self, table: pa.Table) -> np.ndarray:
        """(a, b) row-index pairs of `table` that are duplicates."""

    def required_columns(self) -> tuple[str, ...]:
        return ("id", *self.signature_columns())

    # -- the global match ---------------------------------------------------------------------

    def _wanted(self, names: list[str]) -> list[str]:
        extra = [*POLICY, *([self.config.score_column] if self.config.score_column else []), "error"]
        return [c for c in dict.fromkeys(["id", *self.signature_columns(), *extra]) if c in names]

    def universe(self, batch: pa.Table) -> pa.Table:
        parts = self.context.upstream
        if not parts:
            table = batch.select(self._wanted(batch.column_names))
        else:
            tables = [pq.read_table(p, columns=self._wanted(pq.read_schema(p).names)) for p in parts]
            table = schema.concat(tables) if tables else batch.select(self._wanted(batch.column_names))
        if "error" in table.column_names:
            table = table.filter(pc.is_null(table.column("error")))
        return table

    def _key(self, batch: pa.Table) -> str:
        h = hashlib.sha1(json.dumps([self.name, self.config.model_dump(mode="json")], sort_keys=True).encode())
        for p in self.context.upstream:
            st = p.stat()
            h.update(f"{p}|{st.st_size}|{st.st_mtime_ns}".encode())
        if not self.context.upstream:
            h.update("\x1f".join(map(str, batch.column("id").to_pylist())).encode())
        return h.hexdigest()[:16]

    def match(self, batch: pa.Table) -> dict[str, tuple[str, bool, str | None]]:
        key = self._key(batch)
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        scratch = self.context.tmp_dir if self.context.upstream else None
        result = self._compute(batch) if scratch is None else self._shared(Path(scratch), key, batch)
        self._cache = (key, result)
        return result

    def _compute(self, batch: pa.Table) -> dict[str, tuple[str, bool, str | None]]:
        table = self.universe(batch)
        rows = table.select([c for c in table.column_names if c not in self.signature_columns()]).to_pylist()
        return decide(rows, self.pairs(table), self.config.score_column)

    def _shared(self, scratch: Path, key: str, batch: pa.Table) -> dict[str, tuple[str, bool, str | None]]:
        """Computed by one task of the run, read by the others (a lock file serialises the first)."""
        scratch.mkdir(parents=True, exist_ok=True)
        done = scratch / f"dedup-{key}.parquet"
        with open(scratch / f"dedup-{key}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                if not done.exists():
                    result = self._compute(batch)
                    ids = list(result)
                    t = pa.table(
                        {
                            "id": ids,
                            "group": [result[i][0] for i in ids],
                            "keep": [result[i][1] for i in ids],
                            "of": [result[i][2] for i in ids],
                        }
                    )
                    with atomic_path(done) as tmp:
                        pq.write_table(t, tmp)
                    return result
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
        t = pq.read_table(done)
        cols = [t.column(c).to_pylist() for c in ("id", "group", "keep", "of")]
        return {i: (g, k, o) for i, g, k, o in zip(*cols, strict=True)}

    # -- this shard ---------------------------------------------------------------------------

    def process(self, batch: pa.Table) -> pa.Table:
        found = self.match(batch)
        ids = batch.column("id").to_pylist()
        got = [found.get(str(i)) for i in ids]
        out = batch
        for name, values in (
            ("dup_group", [g[0] if g else None for g in got]),
            ("dup_keep", [g[1] if g else True for g in got]),
            ("dup_of", [g[2] if g else None for g in got]),
        ):
            arr = pa.array(values, type=self.columns[name])
            out = (
                out.set_column(out.column_names.index(name), name, arr)
                if name in out.column_names
                else out.append_column(name, arr)
            )
        if self.config.drop:
            why = f"{self.name}: {self.reason}"
            reason = [why if g and not g[1] else None for g in got]
            if any(reason):
                arr = pa.array(reason, pa.string())
                if schema.REJECT in out.column_names:
                    out = out.set_column(out.column_names.index(schema.REJECT), schema.REJECT, arr)
                else:
                    out = out.append_column(schema.REJECT, arr)
        return out
