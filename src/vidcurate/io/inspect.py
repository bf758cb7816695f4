"""`vidcurate show`: a manifest's schema, row count, first rows and per-column statistics.

Statistics come from DuckDB's `SUMMARIZE` over the file (min, max, null share, distinct values,
mean for numbers), so a manifest of millions of rows costs a few column scans, never a table in memory.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from rich.console import Console
from rich.table import Table

from vidcurate.core.errors import ConfigError
from vidcurate.io import manifest as mio

MAX_CELL = 60


def describe_manifest(path: str | Path, console: Console, *, rows: int = 5) -> None:
    """Print the schema, the row count, the first `rows` rows and per-column statistics of a manifest."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"manifest {p} does not exist")
    fmt = mio.manifest_format(p)
    con = duckdb.connect()
    try:
        if fmt == "parquet":
            schema = pq.read_schema(p)
            total = pq.read_metadata(p).num_rows
            source = f"read_parquet('{str(p).replace(chr(39), chr(39) * 2)}')"
        else:
            table = mio.read_manifest(p)
            schema, total = table.schema, table.num_rows
            con.register("m", table)
            source = "m"
        console.print(f"[bold]{p}[/]: {total:,} rows, {len(schema)} columns ({fmt})", highlight=False)
        t = Table(title="schema and statistics", title_justify="left")
        for col in ("column", "type", "nulls", "distinct", "min", "max", "mean"):
            t.add_column(col, justify="left" if col in ("column", "type", "min", "max") else "right")
        stats = _summarize(con, source)
        for field in schema:
            s = stats.get(field.name, {})
            t.add_row(
                field.name,
                str(field.type),
                _pct(s.get("null_percentage")),
                _cell(s.get("approx_unique")),
                _cell(s.get("min")),
                _cell(s.get("max")),
                _cell(s.get("avg")),
            )
        console.print(t)
        if rows > 0 and total:
            first = con.sql(f"SELECT * FROM {source} LIMIT {int(rows)}").fetch_arrow_table()
            _print_rows(first, console)
    finally:
        con.close()


def _summarize(con: duckdb.DuckDBPyConnection, source: str) -> dict[str, dict[str, Any]]:
    try:
        rel = con.sql(f"SUMMARIZE SELECT * FROM {source}")
    except duckdb.Error:
        return {}
    names = rel.columns
    return {str(r[0]): dict(zip(names, r, strict=True)) for r in rel.fetchall()}


def _print_rows(table: pa.Table, console: Console) -> None:
    """One JSON object per row (wide manifests stay readable; long values are cut)."""
    console.print(f"first {table.num_rows} rows:", highlight=False)
    for r in table.to_pylist():
        shown = {k: _short(v) for k, v in r.items() if v is not None}
        console.print(json.dumps(shown, ensure_ascii=False, default=str), highlight=False, soft_wrap=True)


def _short(v: Any) -> Any:
    if isinstance(v, str) and len(v) > MAX_CELL:
        return v[: MAX_CELL - 1] + "…"
    if isinstance(v, (list, dict)) and len(json.dumps(v, default=str)) > MAX_CELL:
        return _cell(v)
    return v


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.4g}"
    text = v if isinstance(v, str) else json.dumps(v, default=str, ensure_ascii=False)
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def _pct(v: Any) -> str:
    try:
        return f"{float(str(v).rstrip('%')):.1f}%"
    except (TypeError, ValueError):
        return ""
