"""Record readers for JSON, JSONL, CSV and Parquet annotation files that say where a record came from.

Each reader yields ``(where, record)``: ``where`` is ``file:line`` for line-based files,
``file record N`` for JSON lists, ``file row N`` for Parquet. A record that cannot be read (a bad
JSON line, a CSV row with the wrong number of fields) is reported to the :class:`Issues` log with
that location and skipped; the reader carries on with the next one. A file that cannot be read at
all (a missing required column, a truncated JSON document) is reported once and yields nothing.
"""

from __future__ import annotations

import csv
import io
import json
import sys
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # Panda-70M repr cells are long


@dataclass
class Issues:
    """Problems found in the input: a count and the first messages, each naming file and line."""

    keep: int = 50
    count: int = 0
    messages: list[str] = field(default_factory=list)

    def add(self, where: str, message: str) -> None:
        self.count += 1
        if len(self.messages) < self.keep:
            self.messages.append(f"{where}: {message}" if where else message)


def load_json(path: Path, issues: Issues, text: str | None = None) -> Any | None:
    """A whole JSON document, or None after reporting where it is broken."""
    try:
        if text is None:
            text = path.read_text(encoding="utf-8-sig")
        return json.loads(text)
    except json.JSONDecodeError as e:
        issues.add(f"{path}:{e.lineno}", f"not valid JSON (column {e.colno}: {e.msg}); file skipped")
    except (OSError, UnicodeDecodeError) as e:
        issues.add(str(path), f"cannot read ({getattr(e, 'strerror', None) or e}); file skipped")
    return None


def iter_json_list(path: Path, issues: Issues, data: Any = None) -> Iterator[tuple[str, Any]]:
    """Records of a JSON file holding a list (or one object: a one-record list)."""
    if data is None:
        data = load_json(path, issues)
        if data is None:
            return
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        issues.add(str(path), f"expected a JSON list of records, got {type(data).__name__}; file skipped")
        return
    for i, rec in enumerate(data):
        yield f"{path} record {i}", rec


def iter_jsonl(path: Path, issues: Issues, lines: Iterable[str] | None = None) -> Iterator[tuple[str, Any]]:
    """One JSON value per line; a bad line is reported with its number and skipped."""
    if lines is not None:
        yield from _jsonl_lines(path, issues, lines)
        return
    try:
        with open(path, encoding="utf-8-sig") as f:
            yield from _jsonl_lines(path, issues, f)
    except OSError as e:
        issues.add(str(path), f"cannot read ({e.strerror or e}); file skipped")


def _jsonl_lines(path: Path, issues: Issues, lines: Iterable[str]) -> Iterator[tuple[str, Any]]:
    try:
        for n, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                issues.add(f"{path}:{n}", f"not valid JSON ({e.msg}); line skipped")
                continue
            yield f"{path}:{n}", obj
    except UnicodeDecodeError as e:
        issues.add(str(path), f"not UTF-8 text ({e.reason}); rest of file skipped")


def iter_json_any(path: Path, issues: Issues) -> Iterator[tuple[str, Any]]:
    """JSONL for ``.jsonl``/``.ndjson``; otherwise a JSON list, falling back to JSONL when the file is one."""
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        yield from iter_jsonl(path, issues)
        return
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        issues.add(str(path), f"cannot read ({getattr(e, 'strerror', None) or e}); file skipped")
        return
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        if e.msg == "Extra data" and text.lstrip().startswith("{"):  # JSON lines in a .json file
            yield from iter_jsonl(path, issues, io.StringIO(text))
            return
        issues.add(f"{path}:{e.lineno}", f"not valid JSON (column {e.colno}: {e.msg}); file skipped")
        return
    yield from iter_json_list(path, issues, data)


def iter_csv(
    path: Path,
    issues: Issues,
    required: Iterable[str],
    *,
    delimiter: str = ",",
    text: str | None = None,
) -> Iterator[tuple[str, dict[str, str]]]:
    """Rows of a CSV as dicts keyed by header name (column order never matters).

    A missing required column skips the file with one message listing the columns found; a row
    with more or fewer fields than the header is reported with its line number and skipped.
    """
    if text is not None:
        yield from _csv_rows(path, issues, required, delimiter, io.StringIO(text))
        return
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            yield from _csv_rows(path, issues, required, delimiter, f)
    except OSError as e:
        issues.add(str(path), f"cannot read ({e.strerror or e}); file skipped")


def _csv_rows(
    path: Path, issues: Issues, required: Iterable[str], delimiter: str, f: Any
) -> Iterator[tuple[str, dict[str, str]]]:
    reader = csv.reader(f, delimiter=delimiter, skipinitialspace=delimiter != ",")
    try:
        header = [h.strip() for h in next(reader, [])]
    except (csv.Error, UnicodeDecodeError) as e:
        issues.add(f"{path}:1", f"unreadable CSV header ({e}); file skipped")
        return
    missing = [c for c in required if c not in header]
    if missing:
        issues.add(
            f"{path}:1",
            f"missing column(s) {', '.join(repr(c) for c in missing)} (columns: {', '.join(header) or 'none'});"
            " file skipped",
        )
        return
    n_cols = len(header)
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except (csv.Error, UnicodeDecodeError) as e:
            issues.add(f"{path}:{reader.line_num}", f"unreadable CSV ({e}); rest of file skipped")
            return
        if not fields:
            continue
        where = f"{path}:{reader.line_num}"
        if len(fields) != n_cols:
            issues.add(where, f"expected {n_cols} fields, got {len(fields)}; row skipped")
            continue
        yield where, dict(zip(header, fields, strict=True))


def iter_parquet(
    path: Path, issues: Issues, required: Iterable[str], *, batch_rows: int = 1024, columns: list[str] | None = None
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Rows of a Parquet file as dicts, streamed in small batches (media bytes can be large)."""
    try:
        pf = pq.ParquetFile(path)
    except Exception as e:  # pyarrow raises several types for a bad file
        issues.add(str(path), f"not a readable Parquet file ({e}); file skipped")
        return
    names = pf.schema_arrow.names
    missing = [c for c in required if c not in names]
    if missing:
        issues.add(
            str(path),
            f"missing column(s) {', '.join(repr(c) for c in missing)} (columns: {', '.join(names)}); file skipped",
        )
        return
    cols = [c for c in columns if c in names] if columns else None
    i = 0
    for batch in pf.iter_batches(batch_size=batch_rows, columns=cols):
        for row in batch.to_pylist():
            yield f"{path} row {i}", row
            i += 1


def zip_members(path: Path, issues: Issues, suffix: str) -> Iterator[tuple[str, str, bytes]]:
    """``(where, member name, bytes)`` for each member of a zip ending in `suffix`."""
    try:
        zf = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as e:
        issues.add(str(path), f"not a readable zip ({e}); file skipped")
        return
    with zf:
        for info in zf.infolist():
            if info.is_dir() or not info.filename.endswith(suffix):
                continue
            try:
                data = zf.read(info)
            except (OSError, zipfile.BadZipFile, RuntimeError) as e:
                issues.add(f"{path}!{info.filename}", f"cannot read member ({e}); skipped")
                continue
            yield f"{path}!{info.filename}", info.filename, data
