"""The end of a run: the last stage's parts become `manifest.parquet`, every rejected part
`rejected.parquet`, the funnel `summary.json`; files the run wrote that no row references any
more are removed; the recipe's export steps run on the combined manifest (a barrier: they need
every row).
"""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from vidcurate.core import schema
from vidcurate.core.recipe import Recipe
from vidcurate.engines.exports import run_exports
from vidcurate.engines.shard import write_part
from vidcurate.engines.tasks import ShardStats
from vidcurate.io.fs import atomic_path
from vidcurate.io.runfolder import RunFolder, RunSummary, StageDir, StageReport

if TYPE_CHECKING:
    from vidcurate.engines.plan import StagePlan
    from vidcurate.engines.source import SourceInfo

FILE_COLUMNS = ("path",)  # columns whose values are files a row references
# Row groups of the combined files stay small enough that a report of a big run can sample whole
# groups and read only those (`report/data.py`); larger shards are split.
GROUP_ROWS = 16_384


def commit_shard(d: StageDir, shard: int, kept: list[pa.Table], rejected: list[pa.Table], stats: ShardStats) -> None:
    """Write a shard's part from pieces (rejected part first: the main part is the commit)."""
    if rejected:
        write_part(schema.conform(schema.concat(rejected)), d.rejected_part(shard))
    else:
        d.rejected_part(shard).unlink(missing_ok=True)
    write_part(schema.conform(schema.concat(kept)), d.part(shard), stats)


def combine_parts(
    parts: list[Path], dest: Path, *, tags: list[str] | None = None, watch: set[str] | None = None
) -> tuple[int, dict[str, int], set[str]]:
    """Stream parts into one Parquet file (schemas unified).

    Returns the rows written, error kinds counted, and which of the `watch` files the rows reference.
    """
    parts = [p for p in parts if p.exists()]
    errors: Counter[str] = Counter()
    seen: set[str] = set()
    schemas = [pq.read_schema(p) for p in parts]
    if tags is not None:
        schemas = [
            s.append(pa.field("rejected_by", pa.string())) if "rejected_by" not in s.names else s for s in schemas
        ]
    target = schema.unify(schemas) if schemas else pa.schema([("id", pa.string()), ("path", pa.string())])
    target = schema.settle_nulls(target)
    n = 0
    with atomic_path(dest, durable=True) as tmp, pq.ParquetWriter(tmp, target, compression="zstd") as w:
        for k, p in enumerate(parts):
            t = pq.read_table(p)
            if tags is not None:
                t = t.append_column("rejected_by", pa.array([tags[k]] * t.num_rows, pa.string()))
            t = schema.align(t, target)
            if "error_kind" in t.column_names:
                errors.update(x for x in t.column("error_kind").to_pylist() if x)
            if watch:
                for c in FILE_COLUMNS:
                    if c in t.column_names:
                        seen.update(v for v in t.column(c).to_pylist() if v in watch)
            w.write_table(t, row_group_size=GROUP_ROWS)
            n += t.num_rows
    return n, dict(errors), seen


def finish(
    folder: RunFolder,
    recipe: Recipe,
    src: Path,
    plans: list[StagePlan],
    source: SourceInfo,
    reports: list[StageReport],
    t0: float,
) -> RunSummary:
    """Combine, summarise, prune unreferenced files; the summary is written last."""
    watch = set(folder.written())
    last = folder.stage(plans[-1].dirname) if plans else folder.source()
    rejected_parts: list[tuple[Path, str]] = []
    for p in plans:
        rejected_parts += [(r, p.dirname) for r in folder.stage(p.dirname).rejected_parts()]
    # the two files are independent and Parquet encoding releases the GIL: write them side by side
    with ThreadPoolExecutor(2, thread_name_prefix="combine") as pool:
        kept = pool.submit(combine_parts, [last.part(i) for i in range(source.shards)], folder.manifest, watch=watch)
        rej = pool.submit(
            combine_parts,
            [p for p, _ in rejected_parts],
            folder.rejected,
            tags=[t for _, t in rejected_parts],
            watch=watch,
        )
        (rows_final, errors, seen), (rows_rej, _, seen_rej) = kept.result(), rej.result()
    if watch:
        folder.prune_written(seen | seen_rej)
    exports = run_exports(folder, recipe.exports)
    summary = RunSummary(
        out=str(folder.path),
        input=str(src),
        recipe=recipe.source,
        source_rows=source.rows,
        stages=reports,
        manifest=str(folder.manifest),
        rejected=str(folder.rejected),
        rows_final=rows_final,
        rows_rejected=rows_rej,
        errors_final=errors,
        wall_s=time.perf_counter() - t0,
        exports=exports,
        downloads=download_yield(folder),
    )
    folder.write_summary(summary)
    folder.reset_tmp(keep=False)
    return summary


def download_yield(folder: RunFolder) -> list[dict[str, Any]]:
    """Per dataset (`source`): rows asked for, fetched, bytes, and the reasons of the others."""
    import duckdb

    files = [p for p in (folder.manifest, folder.rejected) if p.is_file()]
    if not files or not any("download_bytes" in pq.read_schema(p).names for p in files):
        return []
    with duckdb.connect() as con:
        parts = " UNION ALL BY NAME ".join(f"SELECT * FROM read_parquet('{str(p).replace(chr(39), chr(39) * 2)}')"
                                          for p in files)  # fmt: skip
        names = {n for p in files for n in pq.read_schema(p).names}
        src = "coalesce(source, '')" if "source" in names else "''"
        kind = "error_kind" if "error_kind" in names else "NULL::VARCHAR"
        rows = con.execute(
            f"SELECT {src} AS source, count(*) AS asked, count(download_bytes) AS fetched, "
            f"coalesce(sum(download_bytes), 0) AS bytes, list({kind}) FILTER (WHERE {kind} LIKE 'download:%') "
            f"FROM ({parts}) GROUP BY 1 ORDER BY 1"
        ).fetchall()
    out = []
    for source, asked, fetched, nbytes, kinds in rows:
        reasons: dict[str, int] = {}
        for k in kinds or []:
            reasons[k.split(":", 1)[1]] = reasons.get(k.split(":", 1)[1], 0) + 1
        out.append({"source": source, "asked": asked, "fetched": fetched, "bytes": int(nbytes), "not_fetched": reasons})
    return out
