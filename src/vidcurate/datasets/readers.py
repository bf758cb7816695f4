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
import re
import sys
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # Panda-70M repr cells are long


ENCODING = "utf-8-sig"  # a leading BOM is not part of the first field
# Bytes that are not UTF-8 become lone surrogates (U+DC80..U+DCFF), so one bad byte costs only the
# record it is in: the readers find them per line/record and report that record.
DECODE_ERRORS = "surrogateescape"
_BAD = re.compile("[\udc80-\udcff]")
_WS = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()
CHUNK = 1 << 20


@dataclass
class Issues:
    """Problems found in the input: a count and the first messages, each naming file and line."""

    keep: int = 50
    count: int = 0
    messages: list[str] = field(default_factory=list)
    # A whole-document JSON file held bytes that are not UTF-8: records must be checked one by one.
    unclean: bool = False

    def add(self, where: str, message: str) -> None:
        self.count += 1
        if len(self.messages) < self.keep:
            self.messages.append(f"{where}: {message}" if where else message)


def bad_byte(value: Any) -> str | None:
    """``0xNN`` for the first byte of `value` (text, or JSON-like data) that was not UTF-8, else None."""
    if isinstance(value, str):
        m = _BAD.search(value)
        return None if m is None else f"0x{ord(m.group()) - 0xDC00:02X}"
    if isinstance(value, dict):
        return next((b for k, v in value.items() for b in (bad_byte(k), bad_byte(v)) if b), None)
    if isinstance(value, (list, tuple)):
        return next((b for v in value if (b := bad_byte(v))), None)
    return None


def not_utf8(byte: str, what: str = "record") -> str:
    return f"not UTF-8 text (byte {byte}); {what} skipped"


def read_text(path: Path, issues: Issues) -> str | None:
    """The file's text (bad bytes kept as surrogates), or None after reporting why not."""
    try:
        with open(path, encoding=ENCODING, errors=DECODE_ERRORS) as f:
            text = f.read()
    except OSError as e:
        issues.add(str(path), f"cannot read ({e.strerror or e}); file skipped")
        return None
    if not text.strip():
        issues.add(str(path), "file is empty; skipped")
        return None
    return text


def starts_with(path: Path, chars: str) -> bool:
    """Does the file's first non-blank character belong to `chars` (``[``: a JSON list)?"""
    try:
        with open(path, encoding=ENCODING, errors=DECODE_ERRORS) as f:
            head = f.read(4096).lstrip()
    except OSError:
        return False
    return bool(head) and head[0] in chars


def load_json(path: Path, issues: Issues, text: str | None = None) -> Any | None:
    """A whole JSON document (for files that are one object), or None after reporting where it is broken.

    Text that is not UTF-8 is kept (as surrogates) and `issues.unclean` set, so the converter checks
    each record and skips only those that hold a bad byte.
    """
    if text is None:
        text = read_text(path, issues)
        if text is None:
            return None
    elif not text.strip():
        issues.add(str(path), "file is empty; skipped")
        return None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        issues.add(f"{path}:{e.lineno}", f"not valid JSON (column {e.colno}: {e.msg}); file skipped")
        return None
    if _BAD.search(text):
        issues.unclean = True
    return doc


def iter_jsonl(path: Path, issues: Issues, lines: Iterable[str] | None = None) -> Iterator[tuple[str, Any]]:
    """One JSON value per line; a bad line (not JSON, not UTF-8) is reported with its number and skipped."""
    if lines is not None:
        yield from _jsonl_lines(path, issues, lines)
        return
    try:
        with open(path, encoding=ENCODING, errors=DECODE_ERRORS) as f:
            yield from _jsonl_lines(path, issues, f)
    except OSError as e:
        issues.add(str(path), f"cannot read ({e.strerror or e}); file skipped")


def _jsonl_lines(path: Path, issues: Issues, lines: Iterable[str]) -> Iterator[tuple[str, Any]]:
    empty = True
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        empty = False
        if (b := bad_byte(line)) is not None:
            issues.add(f"{path}:{n}", not_utf8(b, "line"))
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            issues.add(f"{path}:{n}", f"not valid JSON ({e.msg}); line skipped")
            continue
        yield f"{path}:{n}", obj
    if empty:
        issues.add(str(path), "file is empty; skipped")


class _Scanner:
    """Incremental JSON values from a text file, read in chunks (a list of records never held whole)."""

    def __init__(self, f: Any) -> None:
        self.f = f
        self.buf = ""
        self.pos = 0
        self.eof = False
        self._counted = 0  # newlines are counted in buf[:_counted] ...
        self._line = 1  # ... and buf[_counted] is on this line

    def more(self) -> bool:
        """Append the next chunk (dropping what is consumed); False at the end of the file."""
        if self.eof:
            return False
        if self.pos:
            self.line_at(self.pos)
            self.buf, self._counted, self.pos = self.buf[self.pos :], 0, 0
        chunk = self.f.read(max(CHUNK, len(self.buf)))
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def line_at(self, pos: int) -> int:
        """The line number of buf[pos] (positions are asked for in increasing order)."""
        if pos > self._counted:
            self._line += self.buf.count("\n", self._counted, pos)
            self._counted = pos
        return self._line

    def peek(self) -> str:
        """The next character that is not white space ('' at the end of the file)."""
        while True:
            m = _WS.match(self.buf, self.pos)
            self.pos = m.end() if m else self.pos
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self.more():
                return ""

    def value(self) -> tuple[Any, str]:
        """The JSON value at the current position and its source text (JSONDecodeError if broken)."""
        while True:
            try:
                obj, end = _DECODER.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError:
                if self.more():
                    continue
                raise
            if end == len(self.buf) and self.more():  # a number may go on in the next chunk
                continue
            raw, self.pos = self.buf[self.pos : end], end
            return obj, raw


def iter_json_records(path: Path, issues: Issues) -> Iterator[tuple[str, Any]]:
    """The records of a JSON list, parsed one at a time; JSON lines also read (``.jsonl`` or not).

    A truncated or broken list keeps every record before the break and reports where it stopped;
    a record holding bytes that are not UTF-8 is reported and skipped; an empty file, or an object
    where a list is expected, is reported as such.
    """
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        yield from iter_jsonl(path, issues)
        return
    try:
        f = open(path, encoding=ENCODING, errors=DECODE_ERRORS)  # noqa: SIM115 - closed below
    except OSError as e:
        issues.add(str(path), f"cannot read ({e.strerror or e}); file skipped")
        return
    with f:
        scan = _Scanner(f)
        first = scan.peek()
        if first == "":
            issues.add(str(path), "file is empty; skipped")
            return
        if first == "[":
            scan.pos += 1
            yield from _array(path, issues, scan)
            return
        try:
            top, _ = scan.value()
        except json.JSONDecodeError as e:
            issues.add(f"{path}:{scan.line_at(min(e.pos, len(scan.buf)))}", f"not valid JSON ({e.msg}); file skipped")
            return
        if isinstance(top, dict) and scan.peek() in ("{", "["):  # JSON lines in a .json file
            f.seek(0)
            yield from _jsonl_lines(path, issues, f)
            return
    if isinstance(top, dict):
        keys = ", ".join(repr(k) for k in list(top)[:6]) + (", ..." if len(top) > 6 else "")
        lists = [k for k, v in top.items() if isinstance(v, list)]
        hint = f" (records may be under {lists[0]!r})" if len(lists) == 1 else ""
        issues.add(str(path), f"a JSON object with keys {keys}, not a list of records{hint}; file skipped")
    else:
        issues.add(str(path), f"expected a JSON list of records, got {type(top).__name__}; file skipped")


def _array(path: Path, issues: Issues, scan: _Scanner) -> Iterator[tuple[str, Any]]:
    i = 0
    while True:
        c = scan.peek()
        if c == "]" and i == 0:
            return
        if c == "":
            issues.add(
                f"{path}:{scan.line_at(len(scan.buf))}",
                f"the JSON list is cut off after {i} complete records (kept); rest of file lost",
            )
            return
        line = scan.line_at(scan.pos)
        try:
            rec, raw = scan.value()
        except json.JSONDecodeError as e:
            cut = e.pos >= len(scan.buf)
            at = scan.line_at(min(e.pos, len(scan.buf)))
            what = "is cut off" if cut else f"breaks ({e.msg})"
            issues.add(f"{path}:{at}", f"the JSON list {what} in record {i}; {i} records before it kept, rest skipped")
            return
        where = f"{path}:{line} record {i}"
        if (b := bad_byte(raw)) is not None:
            issues.add(where, not_utf8(b))
        else:
            yield where, rec
        i += 1
        c = scan.peek()
        if c == ",":
            scan.pos += 1
        elif c == "]":
            return
        elif c == "":
            issues.add(f"{path}:{scan.line_at(len(scan.buf))}", f"the JSON list is cut off after {i} records (kept)")
            return
        else:
            at = scan.line_at(scan.pos)
            issues.add(f"{path}:{at}", f"expected ',' or ']' after record {i - 1}; {i} records kept, rest skipped")
            return


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
        with open(path, encoding=ENCODING, errors=DECODE_ERRORS, newline="") as f:
            yield from _csv_rows(path, issues, required, delimiter, f)
    except OSError as e:
        issues.add(str(path), f"cannot read ({e.strerror or e}); file skipped")


def _csv_rows(
    path: Path, issues: Issues, required: Iterable[str], delimiter: str, f: Any
) -> Iterator[tuple[str, dict[str, str]]]:
    reader = csv.reader(f, delimiter=delimiter, skipinitialspace=delimiter != ",")
    try:
        header = [h.strip() for h in next(reader, [])]
    except csv.Error as e:
        issues.add(f"{path}:1", f"unreadable CSV header ({e}); file skipped")
        return
    if not header:
        issues.add(str(path), "file is empty; skipped")
        return
    if (b := bad_byte(header)) is not None:
        issues.add(f"{path}:1", f"CSV header is {not_utf8(b, 'file')}")
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
        except csv.Error as e:
            issues.add(f"{path}:{reader.line_num}", f"unreadable CSV ({e}); rest of file skipped")
            return
        if not fields:
            continue
        where = f"{path}:{reader.line_num}"
        if (b := bad_byte(fields)) is not None:
            issues.add(where, not_utf8(b, "row"))
            continue
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
