"""What a report shows, read from a run folder: the funnel, histograms, thresholds, examples, errors.

Everything is computed with DuckDB straight over the run's Parquet files, so a manifest of millions of
rows costs a few column scans, never a table in memory. Thresholds come from the stages' own configs
(`_stage.json`): the filter flags and the simple comparisons of a `where` predicate.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import Field

from vidcurate.core.errors import ConfigError
from vidcurate.io.runfolder import RunFolder, StageReport
from vidcurate.report.thresholds import Threshold, parse_where, thresholds  # noqa: F401 - the report's API

# Past this many rows, distributions and examples come from a block sample of about this many rows
# (scaled back up, and said so on the page): the report stays under a second whatever the run's size.
SAMPLE_ROWS = 200_000
# A run's files hold one row group per shard (256 rows by default): with at least this many, the
# sample is whole row groups picked at random, and the report reads only those.
MIN_GROUPS_TO_PICK = 32
# Probe facts worth a histogram in the main grid, after the scores.
MAIN_FACTS = ("duration_s", "fps", "num_frames", "width", "height", "aspect_ratio")
# Bookkeeping numbers (spans, indices, container details): their histograms go under "more columns".
DETAIL_COLUMNS = frozenset(
    [
        "start_s",
        "end_s",
        "start_frame",
        "end_frame",
        "source_start_s",
        "source_end_s",
        "source_start_frame",
        "source_end_frame",
        "coded_width",
        "coded_height",
        "rotation",
        "sar",
        "bit_rate",
        "size_bytes",
        "decoded_frames",
        "decode_errors",
        "answer_index",
    ]
)


class StageInfo(StageReport):
    """A stage as summary.json reports it, plus its config and rejected rows by reason."""

    config: dict[str, Any] = Field(default_factory=dict)
    reasons: list[tuple[str, int]] = Field(default_factory=list)  # rejected rows by reason


@dataclass
class Group:
    """Rejected rows sharing a stage and a reason: a few examples and how many there are."""

    stage: str
    reason: str
    total: int
    rows: list[dict[str, Any]]


@dataclass
class Run:
    """A run folder opened for reading: its summary, stages and two Parquet files."""

    dir: Path
    summary: dict[str, Any]
    stages: list[StageInfo]
    manifest: Path | None
    rejected: Path | None
    con: duckdb.DuckDBPyConnection
    kept_columns: list[str]
    rejected_columns: list[str]
    types: dict[str, pa.DataType]
    _sampled: bool = False  # the temporary table `_sample` exists
    _samples: dict[str, tuple[str, float]] = field(default_factory=dict)
    _files: dict[Path, pq.ParquetFile] = field(default_factory=dict)

    @property
    def columns(self) -> list[str]:
        return list(dict.fromkeys(self.kept_columns + self.rejected_columns))

    def close(self) -> None:
        self.con.close()
        for f in self._files.values():
            f.close()
        self._files.clear()

    def count(self, view: str) -> int:
        files = {"kept": [self.manifest], "rej": [self.rejected], "allrows": [self.manifest, self.rejected]}
        if view in files:  # the files' footers know: no scan
            return sum(self._file(p).metadata.num_rows for p in files[view] if p is not None)
        return int(self.con.execute(f"SELECT count(*) FROM {view}").fetchall()[0][0])

    def sampled(self, view: str) -> tuple[str, float]:
        """`view`, or (past SAMPLE_ROWS) a seeded block sample of it, and the share of its rows kept.

        The sample of all rows is drawn once into a temporary table (at most about SAMPLE_ROWS
        rows, whatever the run's size); every histogram and example query then reads memory.
        """
        if view in self._samples:
            return self._samples[view]
        total = self.count(view)
        if total <= SAMPLE_ROWS:
            return view, 1.0
        if not self._sampled:
            share = SAMPLE_ROWS / self.count("allrows")
            kept = self._sample_of("kept", self.manifest, share)
            rej = self._sample_of("rej", self.rejected, share)
            self.con.execute(
                f"CREATE TEMP TABLE _sample AS SELECT 'kept' AS _status, * FROM {kept} "
                f"UNION ALL BY NAME SELECT 'rejected' AS _status, * FROM {rej}"
            )
            self._sampled = True
        if view == "allrows":
            src = "_sample"
        else:
            cols = self.kept_columns if view == "kept" else self.rejected_columns
            status = "kept" if view == "kept" else "rejected"
            names = ", ".join(f'"{_qi(c)}"' for c in cols)
            src = f"(SELECT {names} FROM _sample WHERE _status = '{status}')"
        got = self.count(src)
        self._samples[view] = src, (got / total if got else 1.0)
        return self._samples[view]

    def _file(self, path: Path) -> pq.ParquetFile:
        """The file with its footer parsed once (a big run's footer lists thousands of row groups)."""
        if path not in self._files:
            self._files[path] = pq.ParquetFile(path)
        return self._files[path]

    def _sample_of(self, view: str, path: Path | None, share: float) -> str:
        """A seeded block sample of one file: whole row groups when there are many, so only they are read."""
        if path is None:
            return view
        pf = self._file(path)
        groups = pf.metadata.num_row_groups
        if groups < MIN_GROUPS_TO_PICK:  # few big groups: DuckDB samples 2048-row vectors (reads the file)
            return f"(SELECT * FROM {view} USING SAMPLE {100.0 * share:.4f}% (system, 7))"
        picked = sorted(random.Random(7).sample(range(groups), max(1, math.ceil(groups * share))))
        self.con.register(f"_{view}_groups", pf.read_row_groups(picked))
        return f"_{view}_groups"

    def rows(self, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        return _arrow(self.con.sql(sql, params=params or None)).to_pylist()


def open_run(run_dir: str | Path) -> Run:
    """Open a run folder (`summary.json`, `manifest.parquet`, `rejected.parquet`, stage folders)."""
    folder = RunFolder(run_dir)
    d = folder.path
    if not d.is_dir():
        raise ConfigError(f"run folder {run_dir} does not exist")
    manifest = folder.manifest
    rejected = folder.rejected
    summary = folder.read_summary()
    if not manifest.is_file() and not summary:
        raise ConfigError(f"{d} holds no manifest.parquet or summary.json: is it a finished vidcurate run folder?")
    con = duckdb.connect()
    con.execute("SET threads TO 2")
    kept_cols = _view(con, "kept", manifest if manifest.is_file() else None)
    rej_cols = _view(con, "rej", rejected if rejected.is_file() else None)
    types: dict[str, pa.DataType] = {}
    for p in (manifest, rejected):
        if p.is_file():
            for f in pq.read_schema(p):
                types.setdefault(f.name, f.type)
    con.execute(
        "CREATE TEMP VIEW allrows AS SELECT 'kept' AS _status, * FROM kept "
        "UNION ALL BY NAME SELECT 'rejected' AS _status, * FROM rej"
    )
    run = Run(
        dir=d,
        summary=summary,
        stages=[],
        manifest=manifest if manifest.is_file() else None,
        rejected=rejected if rejected.is_file() else None,
        con=con,
        kept_columns=kept_cols,
        rejected_columns=rej_cols,
        types=types,
    )
    run.stages = _stages(run)
    return run


def _view(con: duckdb.DuckDBPyConnection, name: str, path: Path | None) -> list[str]:
    if path is None:
        con.execute(f"CREATE TEMP VIEW {name} AS SELECT NULL::VARCHAR AS id, NULL::VARCHAR AS path WHERE false")
        return ["id", "path"]
    con.execute(f"CREATE TEMP VIEW {name} AS SELECT * FROM read_parquet('{_q(path)}')")
    return pq.read_schema(path).names


def _stages(run: Run) -> list[StageInfo]:
    out = []
    for s in run.summary.get("stages", []):
        info = StageInfo(
            name=s.get("name", "?"),
            dirname=s.get("dirname", s.get("name", "?")),
            rows_in=int(s.get("rows_in", 0)),
            rows_out=int(s.get("rows_out", 0)),
            rejected=int(s.get("rejected", 0)),
            errors=dict(s.get("errors", {})),
            seconds=float(s.get("seconds", 0.0)),
            wall_s=float(s.get("wall_s", 0.0)),
        )
        info.config = RunFolder(run.dir).stage_meta(info.dirname).get("config") or {}
        out.append(info)
    if "reject_reason" in run.rejected_columns:
        by = "rejected_by" if "rejected_by" in run.rejected_columns else "NULL"
        reasons = run.con.execute(
            f"SELECT {by} AS s, coalesce(reject_reason, '(no reason)') AS r, count(*) AS n FROM rej "
            "GROUP BY ALL ORDER BY n DESC, r"
        ).fetchall()
        named = {s.dirname: s for s in out}
        for stage, reason, n in reasons:
            target = named.get(stage) or (out[-1] if out else None)
            if target is not None:
                target.reasons.append((reason, int(n)))
    return out


# --- histograms ----------------------------------------------------------------------------------


def numeric_columns(run: Run) -> tuple[list[str], list[str]]:
    """Numeric columns with values: (main, more). Main: thresholded, scores, then key probe facts."""
    numeric = [
        c
        for c in run.columns
        if c in run.types and is_numeric(run.types[c]) and c not in ("_status",) and not c.startswith("_")
    ]
    if not numeric:
        return [], []
    present = _non_null(run, numeric)
    numeric = [c for c in numeric if present.get(c)]
    cut = {t.column for t in thresholds(run.stages)}
    main = [c for c in numeric if c in cut]
    main += [c for c in numeric if is_score(c) and c not in main]
    main += [c for c in MAIN_FACTS if c in numeric and c not in main]
    return main, [c for c in numeric if c not in main]


def score_columns(run: Run) -> list[str]:
    """Numeric columns that judge content (scores), as opposed to probe facts and bookkeeping."""
    return [c for c in run.columns if c in run.types and is_numeric(run.types[c]) and is_score(c)]


def is_score(column: str) -> bool:
    return column not in MAIN_FACTS and column not in DETAIL_COLUMNS and not column.startswith("_")


def is_numeric(t: pa.DataType) -> bool:
    return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)


def _non_null(run: Run, cols: list[str]) -> dict[str, int]:
    sel = ", ".join(f'count("{_qi(c)}") FILTER (WHERE isfinite("{_qi(c)}"::DOUBLE))' for c in cols)
    src, _ = run.sampled("allrows")
    row = run.con.execute(f"SELECT {sel} FROM {src}").fetchall()[0]
    return {c: int(n) for c, n in zip(cols, row, strict=True)}


# --- examples and errors -------------------------------------------------------------------------


def kept_examples(run: Run, n: int) -> list[dict[str, Any]]:
    """A deterministic spread of kept rows (ordered by a hash of the id, not by position)."""
    if n <= 0 or run.manifest is None:
        return []
    src, _ = run.sampled("kept")
    return run.rows(f"SELECT * FROM {src} ORDER BY md5(id::VARCHAR) LIMIT {int(n)}")


def rejected_examples(run: Run, n: int, max_groups: int = 12) -> list[Group]:
    """Up to `n` rejected rows per (stage, reason), largest groups first."""
    if n <= 0 or run.rejected is None or "reject_reason" not in run.rejected_columns:
        return []
    by = "rejected_by" if "rejected_by" in run.rejected_columns else "''"
    src, _ = run.sampled("rej")  # examples from a sample of a big run; group totals over every row
    rows = run.rows(
        f"WITH r AS (SELECT *, {by} AS _by, coalesce(reject_reason, '(no reason)') AS _reason FROM {src}), "
        f"g AS (SELECT {by} AS _by, coalesce(reject_reason, '(no reason)') AS _reason, count(*) AS _total FROM rej "
        "GROUP BY ALL "
        f"ORDER BY _total DESC, _reason LIMIT {int(max_groups)}) "
        "SELECT * FROM (SELECT r.*, g._total, row_number() OVER (PARTITION BY r._by, r._reason "
        "ORDER BY md5(r.id::VARCHAR)) AS _rn FROM r JOIN g USING (_by, _reason)) "
        f"WHERE _rn <= {int(n)} ORDER BY _total DESC, _reason, _rn"
    )
    groups: dict[tuple[str, str], tuple[int, list[dict[str, Any]]]] = {}
    for r in rows:
        key = (str(r.pop("_by") or ""), str(r.pop("_reason")))
        total = int(r.pop("_total"))
        r.pop("_rn", None)
        groups.setdefault(key, (total, []))[1].append(r)
    return [Group(s, reason, total, rs) for (s, reason), (total, rs) in groups.items()]


def error_rows(run: Run, limit: int = 200) -> tuple[list[dict[str, Any]], int, list[tuple[str, int]]]:
    """Rows carrying an error (kept or rejected): the first `limit`, the total, and counts by kind."""
    if "error" not in run.columns:
        return [], 0, []
    kind = "error_kind" if "error_kind" in run.columns else "NULL"
    total = run.count("allrows WHERE error IS NOT NULL")
    kinds = run.con.execute(
        f"SELECT coalesce({kind}, '(unknown)') AS k, count(*) AS n FROM allrows WHERE error IS NOT NULL "
        "GROUP BY ALL ORDER BY n DESC, k"
    ).fetchall()
    rows = run.rows(
        f"SELECT _status, id, path, {kind} AS error_kind, error FROM allrows WHERE error IS NOT NULL "
        f"ORDER BY error_kind, path LIMIT {int(limit)}"
    )
    return rows, total, [(str(k), int(n)) for k, n in kinds]


# --- helpers -------------------------------------------------------------------------------------


def _arrow(rel: duckdb.DuckDBPyRelation) -> pa.Table:
    """A relation's result as Arrow (the method's name changed across DuckDB releases)."""
    fn = getattr(rel, "to_arrow_table", None) or rel.arrow
    out = fn()
    return out.read_all() if isinstance(out, pa.RecordBatchReader) else out


def _q(p: Path) -> str:
    return str(p).replace("'", "''")


def _qi(name: str) -> str:
    return name.replace('"', '""')
