"""Running one stage over one shard: the unit of work of every executor.

Reads the shard's input part, holds back error rows from stages that should not see them, runs
the stage, checks its declared outputs, puts the rows back in order, moves rejected rows to their
own part, and writes both parts atomically and durably — the rejected part first, so a main part
on disk means the shard is done. The stats ride along in the Parquet metadata so a resumed run can
still report them. An environment fault (disk full, out of memory) propagates: nothing is
committed, and the run stops.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from vidcurate.core import schema
from vidcurate.core.errors import VidcurateError, raise_if_fatal, row_error
from vidcurate.core.stage import Stage
from vidcurate.engines.tasks import STATS_KEY, ShardStats
from vidcurate.io.fs import atomic_path

ROW = "__row"
# Parts are scratch between stages: written once, read once. LZ4 without dictionary pages writes
# about 2.3x faster than zstd with them (measured on a 50k-row, 20-column shard: 20 ms vs 48 ms);
# the files a user keeps (manifest, rejected, exports) stay zstd.
PART_WRITE: dict[str, Any] = {"compression": "lz4", "use_dictionary": False}


class StageContractError(VidcurateError):
    """A stage returned something its declaration does not allow (a bug in the stage)."""


def _error_mask(table: pa.Table) -> pa.ChunkedArray | None:
    if "error" not in table.column_names:
        return None
    return pc.is_valid(table.column("error"))


def run_stage(stage: Stage[Any], batch: pa.Table) -> pa.Table:
    """Apply `stage` to `batch`; a crash on the whole batch is retried row by row."""
    try:
        return stage.process(batch)
    except Exception as e:
        raise_if_fatal(e)
        if batch.num_rows <= 1:
            return _crashed(stage, batch, e)
    pieces = []
    for i in range(batch.num_rows):
        one = batch.slice(i, 1)
        try:
            pieces.append(stage.process(one))
        except Exception as e:
            pieces.append(_crashed(stage, one, e))
    return schema.concat(pieces)


def _crashed(stage: Stage[Any], batch: pa.Table, exc: BaseException) -> pa.Table:
    err = row_error(stage.name, exc, kind="crash", context="stage crashed on this row")
    rows = [{**r, **err} for r in batch.to_pylist()]
    return schema.from_rows(rows, like=batch.schema)


def process_shard(stage: Stage[Any], table: pa.Table) -> tuple[pa.Table, pa.Table | None, ShardStats]:
    """Run the stage on one shard's rows; returns (kept rows, rejected rows or None, stats)."""
    t0 = time.perf_counter()
    stats = ShardStats(shard=-1, rows_in=table.num_rows)
    had_error = _error_mask(table)
    table = table.append_column(ROW, pa.array(range(table.num_rows), pa.int64()))
    held = None
    if not stage.sees_errors and had_error is not None and pc.any(had_error).as_py():
        held = table.filter(had_error)
        work = table.filter(pc.invert(had_error))
    else:
        work = table
    out = run_stage(stage, work) if work.num_rows or stage.sees_errors else work
    out = _check_outputs(stage, out)
    if held is not None and held.num_rows:
        out = schema.concat([out, held])
        if ROW in out.column_names:
            out = out.take(pc.sort_indices(out, sort_keys=[(ROW, "ascending")]))
    stats.errors = _new_errors(out, had_error)
    rejected = None
    if schema.REJECT in out.column_names:
        mask = pc.is_valid(out.column(schema.REJECT))
        if pc.any(mask).as_py():
            rejected = out.filter(mask)
            reason = rejected.column(schema.REJECT)
            rejected = rejected.drop_columns([schema.REJECT]).append_column("reject_reason", reason)
            out = out.filter(pc.invert(mask))
        out = out.drop_columns([schema.REJECT])
    if ROW in out.column_names:
        out = out.drop_columns([ROW])
    if rejected is not None and ROW in rejected.column_names:
        rejected = rejected.drop_columns([ROW])
    stats.rows_out = out.num_rows
    stats.rejected = 0 if rejected is None else rejected.num_rows
    stats.seconds = time.perf_counter() - t0
    return schema.conform(out), (schema.conform(rejected) if rejected is not None else None), stats


def _new_errors(out: pa.Table, had_error: pa.ChunkedArray | None) -> dict[str, int]:
    """Error kinds of the rows that were fine coming in and carry an error going out (Arrow only)."""
    if "error_kind" not in out.column_names:
        return {}
    kind = out.column("error_kind")
    new = pc.is_valid(kind) if pa.types.is_null(kind.type) else pc.fill_null(pc.not_equal(kind, ""), False)
    if had_error is not None and ROW in out.column_names:
        before = pc.take(had_error, out.column(ROW))
        new = pc.and_(new, pc.invert(pc.fill_null(before, False)))
    kinds = pc.value_counts(kind.filter(new))
    return {k.as_py(): int(c.as_py()) for k, c in zip(kinds.field("values"), kinds.field("counts"), strict=True)}


def _check_outputs(stage: Stage[Any], out: pa.Table) -> pa.Table:
    """Every declared output column must exist; it may be all-null only if every row failed."""
    if not isinstance(out, pa.Table):
        raise StageContractError(f"stage '{stage.name}' returned {type(out).__name__}, not a pyarrow Table")
    declared = stage.output_columns()
    missing = [c for c in declared if c not in out.column_names]
    if not missing:
        return out
    err = _error_mask(out)
    all_failed = out.num_rows == 0 or (err is not None and pc.all(err).as_py())
    if not all_failed:
        raise StageContractError(
            f"stage '{stage.name}' declares column(s) {', '.join(missing)} but did not produce them"
        )
    for c in missing:
        out = out.append_column(c, pa.nulls(out.num_rows, type=declared[c]))
    return out


def write_part(table: pa.Table, path: Path, stats: ShardStats | None = None) -> None:
    """Write a part file atomically and durably, with the shard's stats in its metadata."""
    meta = dict(table.schema.metadata or {})
    if stats is not None:
        meta[STATS_KEY] = stats.to_json()
    table = table.replace_schema_metadata(meta)
    with atomic_path(path, durable=True) as tmp:
        pq.write_table(table, tmp, **PART_WRITE)


def read_input(src: Path, rows: tuple[int, int] | None = None) -> pa.Table:
    """A shard's input part (or a slice of its rows), with known columns at their types."""
    table = schema.conform(pq.read_table(src))
    if rows is not None:
        table = table.slice(rows[0], rows[1] - rows[0])
    return table


def failed_rows(stage_name: str, table: pa.Table, why: str) -> tuple[pa.Table, ShardStats]:
    """Every healthy row of `table` marked as an error (the worker running them died)."""
    rows = [r if r.get("error") else {**r, **row_error(stage_name, _Died(why))} for r in table.to_pylist()]
    out = schema.from_rows(rows, like=table.schema) if rows else table
    stats = ShardStats(shard=-1, rows_in=table.num_rows, rows_out=out.num_rows)
    healthy = sum(1 for r in table.to_pylist() if not r.get("error"))
    if healthy:
        stats.errors = {f"{stage_name}:worker_died": healthy}
    return schema.conform(out), stats


class _Died(VidcurateError):
    kind = "worker_died"
