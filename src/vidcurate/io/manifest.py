"""Read and write manifests as Parquet, CSV (Open-Sora `meta.csv` compatible) or JSONL.

Parquet is the native format and streams in record batches. CSV follows Open-Sora's `meta.csv`:
`path` first, the caption as `text`, nested columns as JSON strings. Every write goes through
`io.fs.atomic_path`, so a killed process never leaves half a file.
"""

from __future__ import annotations

import contextlib
import csv
import json
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from vidcurate.core import schema
from vidcurate.core.errors import ConfigError
from vidcurate.io.fs import atomic_path

FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".jsonl": "jsonl", ".json": "jsonl"}


def manifest_format(path: str | Path) -> str:
    fmt = FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise ConfigError(f"{path}: unknown manifest format (use .parquet, .csv or .jsonl)")
    return fmt


def write_manifest(table: pa.Table, path: str | Path) -> Path:
    """Write `table` atomically in the format the extension names."""
    fmt = manifest_format(path)
    table = schema.conform(table)
    with atomic_path(path) as tmp:
        if fmt == "parquet":
            pq.write_table(table, tmp, compression="zstd")
        elif fmt == "csv":
            _write_csv(table, tmp)
        else:
            _write_jsonl(table, tmp)
    return Path(path)


def write_stream(tables: Iterable[pa.Table], path: str | Path) -> int:
    """Write a stream of tables as one manifest without holding them all in memory.

    Batches are spilled to Parquet parts in a private temp folder beside `path` (their schemas
    may differ: a column null in one batch), then unified and streamed into the final file,
    atomically. Returns the number of rows written.
    """
    fmt = manifest_format(path)
    dest = Path(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    spill = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".parts", dir=dest.parent))
    parts: list[Path] = []
    try:
        for t in tables:
            p = spill / f"{len(parts):06d}.parquet"
            pq.write_table(schema.conform(t), p)
            parts.append(p)
        target = schema.settle_nulls(schema.unify(pq.read_schema(p) for p in parts)) if parts else None
        if target is None:
            target = pa.schema([("id", pa.string()), ("path", pa.string())])
        n = 0
        with atomic_path(dest) as tmp:
            if fmt == "parquet":
                with pq.ParquetWriter(tmp, target, compression="zstd") as w:
                    for p in parts:
                        t = schema.align(pq.read_table(p), target)
                        w.write_table(t)
                        n += t.num_rows
            else:
                with open(tmp, "w", encoding="utf-8", newline="") as f:
                    writer = _CsvWriter(f, target) if fmt == "csv" else None
                    for p in parts:
                        t = schema.align(pq.read_table(p), target)
                        if writer is not None:
                            writer.write(t)
                        else:
                            _jsonl_lines(t, f)
                        n += t.num_rows
        return n
    finally:
        for p in spill.glob("*.parquet"):
            p.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            spill.rmdir()


def read_manifest(path: str | Path) -> pa.Table:
    """Read a whole manifest (use `iter_manifest` for large ones)."""
    fmt = manifest_format(path)
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"manifest {p} does not exist")
    if fmt == "parquet":
        table = pq.read_table(p)
    elif fmt == "csv":
        table = _read_csv(p)
    else:
        table = _read_jsonl(p)
    return schema.conform(table)


def iter_manifest(path: str | Path, batch_rows: int = 65536) -> Iterator[pa.Table]:
    """Stream a manifest in tables of at most `batch_rows` rows; Parquet never loads whole."""
    if manifest_format(path) == "parquet":
        pf = pq.ParquetFile(path)
        for rb in pf.iter_batches(batch_size=batch_rows):
            yield schema.conform(pa.Table.from_batches([rb]))
        return
    table = read_manifest(path)
    for start in range(0, table.num_rows, batch_rows):
        yield table.slice(start, batch_rows)


def manifest_schema(path: str | Path) -> pa.Schema:
    """Columns of a manifest without reading its rows (Parquet) or with one read (CSV/JSONL)."""
    if manifest_format(path) == "parquet":
        return pq.read_schema(path)
    return read_manifest(path).schema


def ensure_ids(table: pa.Table, seen: dict[str, int] | None = None) -> pa.Table:
    """Give rows without an `id` a stable one derived from their content.

    Identical rows (a QA dataset lists one video many times) get `-2`, `-3`... suffixes in
    order of appearance; pass the same `seen` dict across batches of one manifest.
    """
    if "path" not in table.column_names and "url" in table.column_names:  # to be downloaded: the URL stands in
        table = table.append_column("path", table.column("url").cast(pa.string()))
    if "path" not in table.column_names:
        raise ConfigError(f"manifest has no 'path' column (columns: {', '.join(table.column_names)})")
    if "id" in table.column_names and table.column("id").null_count == 0:
        return table
    seen = {} if seen is None else seen
    existing = table.column("id").to_pylist() if "id" in table.column_names else [None] * table.num_rows
    rows = table.drop_columns(["id"]) if "id" in table.column_names else table
    ids = []
    for given, row in zip(existing, rows.to_pylist(), strict=True):
        if given:
            ids.append(given)
            continue
        base = schema.stable_id(json.dumps(row, sort_keys=True, default=str))
        n = seen.get(base, 0) + 1
        seen[base] = n
        ids.append(base if n == 1 else f"{base}-{n}")
    arr = pa.array(ids, type=pa.string())
    if "id" in table.column_names:
        return table.set_column(table.column_names.index("id"), "id", arr)
    return table.add_column(0, "id", arr)


# --- CSV (Open-Sora meta.csv) ---------------------------------------------------------------


def _is_nested(t: pa.DataType) -> bool:
    return pa.types.is_list(t) or pa.types.is_struct(t) or pa.types.is_map(t) or pa.types.is_large_list(t)


class _CsvWriter:
    """Open-Sora style CSV: `path`, then the caption as `text`, then the rest; nested as JSON."""

    def __init__(self, f: Any, target: pa.Schema) -> None:
        cols = list(target.names)
        self.rename = {"caption": "text"} if "caption" in cols and "text" not in cols else {}
        first = [c for c in ("path", "caption" if self.rename else "text") if c in cols]
        self.order = first + [c for c in cols if c not in first]
        self.nested = [_is_nested(target.field(c).type) for c in self.order]
        self.w = csv.writer(f)
        self.w.writerow([self.rename.get(c, c) for c in self.order])

    def write(self, table: pa.Table) -> None:
        table = table.select(self.order)
        for batch in table.to_batches(max_chunksize=8192):
            columns = [batch.column(i).to_pylist() for i in range(batch.num_columns)]
            for r in range(batch.num_rows):
                self.w.writerow([_csv_cell(columns[i][r], self.nested[i]) for i in range(len(self.order))])


def _write_csv(table: pa.Table, dest: Path) -> None:
    with open(dest, "w", newline="", encoding="utf-8") as f:
        _CsvWriter(f, table.schema).write(table)


def _csv_cell(v: Any, nested: bool) -> Any:
    if v is None:
        return ""
    if nested:
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, bool):
        return "True" if v else "False"
    return v


def _read_csv(path: Path) -> pa.Table:
    opts = pacsv.ConvertOptions(strings_can_be_null=True, quoted_strings_can_be_null=False)
    try:
        table = pacsv.read_csv(path, convert_options=opts)
    except pa.ArrowInvalid as e:
        raise ConfigError(f"{path}: not a readable CSV manifest ({e})") from None
    # Open-Sora calls the caption `text`.
    if "text" in table.column_names and "caption" not in table.column_names:
        table = table.rename_columns(["caption" if c == "text" else c for c in table.column_names])
    return _decode_nested(table, path)


def _decode_nested(table: pa.Table, path: Path) -> pa.Table:
    """JSON strings in columns the schema declares nested (e.g. conversations) become lists."""
    for i, name in enumerate(table.column_names):
        want = schema.arrow_type(name)
        if want is None or not _is_nested(want) or not pa.types.is_string(table.schema.field(i).type):
            continue
        values = []
        for line, v in enumerate(table.column(i).to_pylist(), start=2):
            try:
                values.append(json.loads(v) if v else None)
            except json.JSONDecodeError as e:
                raise ConfigError(f"{path}: line {line}: column '{name}' is not valid JSON ({e.msg})") from None
        table = table.set_column(i, name, pa.array(values, type=want))
    return table


# --- JSONL ------------------------------------------------------------------------------------


def _write_jsonl(table: pa.Table, dest: Path) -> None:
    with open(dest, "w", encoding="utf-8") as f:
        _jsonl_lines(table, f)


def _jsonl_lines(table: pa.Table, f: Any) -> None:
    for batch in table.to_batches(max_chunksize=8192):
        for row in batch.to_pylist():
            f.write(json.dumps(row, ensure_ascii=False, default=str))
            f.write("\n")


def _read_jsonl(path: Path) -> pa.Table:
    try:
        return pajson.read_json(path)
    except pa.ArrowInvalid:
        pass  # fall back to a line-by-line read that says which line is bad
    rows = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise ConfigError(f"{path}: line {n}: not valid JSON ({e.msg})") from None
            if not isinstance(obj, dict):
                raise ConfigError(f"{path}: line {n}: expected a JSON object, got {type(obj).__name__}")
            rows.append(obj)
    return schema.from_rows(rows)
