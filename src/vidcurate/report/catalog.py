"""The viewer's read-only view of a run: rows by filter, rows by id, and the files rows may serve.

DuckDB sees the run's two Parquet files only as registered Arrow datasets, with file access
switched off and its configuration locked, in a few connections of its own: filters run on a small
pool (each query interrupted when it passes `timeout_s`, so one slow predicate cannot hold the viewer),
and lookups by id — what media and thumbnails are served from — on a connection no filter ever uses.
A filter is evaluated to ids (`report/predicate.py`); rows are always read from the run's own tables.

A row serves no file when its path is unsafe: a converter flagged it as leaving its dataset root
(`error_kind` `...:unsafe_path`), or a relative path climbs out with `..`.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import queue
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.dataset as pads

from vidcurate.core.errors import ConfigError
from vidcurate.io.runfolder import RunFolder
from vidcurate.report.predicate import FilterError, checked
from vidcurate.report.thresholds import thresholds

RECENT_ROWS = 2000  # rows looked up by id, kept for the /thumb and /media requests that follow
OWN_TABLES = ("rows", "_kept", "_rej")
QUERY_CONNECTIONS = 2
TIMEOUT_S = 10.0


@dataclass
class _StageView:
    name: str
    dirname: str
    config: dict[str, Any]


def unsafe_path(row: dict[str, Any]) -> str | None:
    """Why a row's file must never be served or thumbnailed, or None when it may be."""
    kind = str(row.get("error_kind") or "")
    if kind.endswith(":unsafe_path"):
        return "its path leaves the dataset's root (flagged when it was converted)"
    raw = row.get("path")
    if isinstance(raw, str) and not PurePath(raw).is_absolute() and ".." in PurePath(raw).parts:
        return "its relative path climbs out of its folder ('..')"
    return None


class Catalog:
    """The run's rows (kept and rejected, with `_status`) in locked-down DuckDB connections."""

    def __init__(self, run_dir: str | Path, *, timeout_s: float = TIMEOUT_S) -> None:
        self.folder = RunFolder(run_dir)
        self.dir = self.folder.path
        self.timeout_s = timeout_s
        if not self.folder.manifest.is_file() and not self.folder.rejected.is_file():
            raise ConfigError(
                f"{self.dir} holds no {self.folder.manifest.name}: is it a finished vidcurate run folder?"
            )
        self.summary = self.folder.read_summary()
        self._lookup = self._connect()
        self._lookup_lock = threading.Lock()
        self._pool: queue.Queue[duckdb.DuckDBPyConnection] = queue.Queue()
        for _ in range(QUERY_CONNECTIONS):
            self._pool.put(self._connect())
        self._recent: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.columns: dict[str, str] = {
            str(name): str(typ) for name, typ, *_ in self._lookup.execute("DESCRIBE SELECT * FROM rows").fetchall()
        }
        self.counts = dict(self._lookup.execute("SELECT _status, count(*) FROM rows GROUP BY ALL").fetchall())

    def _connect(self) -> duckdb.DuckDBPyConnection:
        con = duckdb.connect()
        con.execute("SET threads TO 2")
        con.register("_kept", _dataset(self.folder.manifest))
        con.register("_rej", _dataset(self.folder.rejected))
        con.execute(
            "CREATE TEMP VIEW rows AS SELECT 'kept' AS _status, * FROM _kept "
            "UNION ALL BY NAME SELECT 'rejected' AS _status, * FROM _rej"
        )
        # From here on SQL can read the two registered datasets and nothing else.
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
        return con

    @contextmanager
    def _query_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        con = self._pool.get()
        timer = threading.Timer(self.timeout_s, con.interrupt)
        timer.start()
        try:
            yield con
        finally:
            timer.cancel()
            self._pool.put(con)

    def predicate(self, where: str | None) -> str:
        """The filter as SQL, checked by DuckDB's own parse to be one predicate over the run's rows."""
        return checked(where, table="rows", allowed=OWN_TABLES)

    def query(
        self, *, where: str | None, status: str, sort: str | None, desc: bool, offset: int, limit: int
    ) -> tuple[int, list[dict[str, Any]]]:
        """One page of rows matching the filter (rows read from the run's own tables, by id)."""
        pred = self.predicate(where)
        scope = f"_status = '{status}'" if status in ("kept", "rejected") else "TRUE"
        order = ""
        if sort:
            if sort not in self.columns:
                raise FilterError(f"unknown sort column {sort!r}")
            order = f' ORDER BY "{_qi(sort)}" {"DESC" if desc else "ASC"} NULLS LAST, id'
        ids = f"SELECT id FROM rows WHERE {pred}"
        try:
            with self._query_connection() as con:
                total = int(con.execute(f"SELECT count(*) FROM rows WHERE {scope} AND id IN ({ids})").fetchall()[0][0])
                page = (
                    f"SELECT * FROM rows WHERE {scope} AND id IN ({ids}){order} LIMIT {int(limit)} OFFSET {int(offset)}"
                )
                table = _arrow(con.sql(page))
        except duckdb.InterruptException:
            raise FilterError(f"the filter took longer than {self.timeout_s:g} s and was stopped") from None
        except duckdb.Error as e:
            raise FilterError(_first_line(e)) from None
        return total, [_clean(r) for r in table.to_pylist()]

    def row(self, row_id: str) -> dict[str, Any] | None:
        """A row of the run by id, always read from the run's own tables (what media and thumbnails serve)."""
        with self._lookup_lock:
            hit = self._recent.get(row_id)
            if hit is not None:
                self._recent.move_to_end(row_id)
                return hit
            table = _arrow(self._lookup.sql("SELECT * FROM rows WHERE id = $id LIMIT 1", params={"id": row_id}))
            rows = table.to_pylist()
            if not rows:
                return None
            row: dict[str, Any] = _clean(rows[0])
            self._recent[row_id] = row
            while len(self._recent) > RECENT_ROWS:
                self._recent.popitem(last=False)
            return row

    def filtered_columns(self) -> list[str]:
        """Columns the recipe's filters cut on (the viewer's table shows them first), in recipe order."""
        stages = []
        for s in self.summary.get("stages") or []:
            if isinstance(s, dict) and isinstance(s.get("dirname"), str):
                config = self.folder.stage_meta(s["dirname"]).get("config") or {}
                stages.append(_StageView(str(s.get("name")), s["dirname"], config))
        cols = dict.fromkeys(t.column for t in thresholds(stages))
        return [c for c in cols if c in self.columns]

    def close(self) -> None:
        self._lookup.close()
        while not self._pool.empty():
            self._pool.get_nowait().close()

    def media_path(self, row: dict[str, Any]) -> Path | None:
        """The file a row references, when it exists and may be served.

        Relative paths are tried against the current folder, then the run's input folder.
        """
        raw = row.get("path")
        if not isinstance(raw, str) or not raw or "\x00" in raw or unsafe_path(row):
            return None
        p = Path(raw)
        candidates = [p] if p.is_absolute() else [Path.cwd() / p]
        src = self.summary.get("input")
        if not p.is_absolute() and isinstance(src, str):
            base = Path(src)
            candidates.append((base if base.is_dir() else base.parent) / p)
        return next((c for c in candidates if c.is_file()), None)


# --- helpers -------------------------------------------------------------------------------------


def _dataset(path: Path) -> pads.Dataset | pa.Table:
    if path.is_file():
        return pads.dataset(str(path), format="parquet")
    return pa.table({"id": pa.array([], pa.string()), "path": pa.array([], pa.string())})


def _arrow(rel: duckdb.DuckDBPyRelation) -> pa.Table:
    fn = getattr(rel, "to_arrow_table", None) or rel.arrow
    out = fn()
    return out.read_all() if isinstance(out, pa.RecordBatchReader) else out


def _clean(v: Any) -> Any:
    """Values JSON can carry: NaN/inf -> null, bytes -> a size note, dates -> ISO text."""
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, dict):
        return {str(k): _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    if isinstance(v, (bytes, bytearray, memoryview)):
        return f"<{len(v)} bytes>"
    if isinstance(v, (dt.datetime, dt.date, dt.time)):
        return v.isoformat()
    if isinstance(v, dt.timedelta):
        return v.total_seconds()
    if isinstance(v, decimal.Decimal):
        return float(v)
    return v


def _first_line(e: Exception) -> str:
    lines = [x for x in str(e).splitlines() if x.strip()]
    return lines[0] if lines else type(e).__name__


def _qi(name: str) -> str:
    return name.replace('"', '""')
