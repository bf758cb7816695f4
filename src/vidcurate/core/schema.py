"""The manifest's columns and their Arrow types.

Every stage reads and writes plain columns of one table. The core columns (identity, spans,
probe facts, conversations, errors) are listed here; every other column is declared, with its
type, by the component that writes it (`Stage.columns`, `FrameScorer.columns`) and collected here
by `declare` when the component's class is defined. Known columns are cast to their types whenever
a table is written, so shards written by different workers (one of which may have seen only nulls
in a column) always agree. Unknown columns pass through untouched.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pyarrow as pa

CONVERSATION_TURN = pa.struct([("from", pa.string()), ("value", pa.string())])

COLUMNS: dict[str, pa.DataType] = {
    # identity
    "id": pa.string(),
    "path": pa.string(),
    "media": pa.string(),  # video | image
    "source": pa.string(),  # dataset name or ingest root
    "url": pa.string(),  # where the media can be downloaded from (the `download` stage fetches it)
    "parent_id": pa.string(),
    # spans (seconds, float) and frame indices (int)
    "start_s": pa.float64(),
    "end_s": pa.float64(),
    "start_frame": pa.int64(),
    "end_frame": pa.int64(),
    # a cut clip: `path` is the clip file; these say where it came from (spans in the source file)
    "cut_mode": pa.string(),  # reencode | copy
    "source_path": pa.string(),
    "source_start_s": pa.float64(),
    "source_end_s": pa.float64(),
    "source_start_frame": pa.int64(),
    "source_end_frame": pa.int64(),
    # probe
    "container": pa.string(),
    "duration_s": pa.float64(),
    "duration_src": pa.string(),
    "fps": pa.float64(),
    "vfr": pa.bool_(),
    "num_frames": pa.int64(),
    "num_frames_src": pa.string(),
    "width": pa.int32(),
    "height": pa.int32(),
    "coded_width": pa.int32(),
    "coded_height": pa.int32(),
    "rotation": pa.int32(),
    "sar": pa.float64(),
    "aspect_ratio": pa.float64(),
    "codec": pa.string(),
    "profile": pa.string(),
    "pix_fmt": pa.string(),
    "bit_rate": pa.int64(),
    "has_audio": pa.bool_(),
    "audio_codec": pa.string(),
    "audio_error": pa.string(),
    "size_bytes": pa.int64(),
    "decoded_frames": pa.int64(),
    "decode_errors": pa.int64(),
    # text and conversations (dataset converters, captioning, QA)
    "caption": pa.string(),
    "query": pa.string(),
    "conversations": pa.list_(CONVERSATION_TURN),
    "answer": pa.string(),
    "options": pa.list_(pa.string()),
    "answer_index": pa.int64(),
    "answer_indices": pa.list_(pa.int64()),  # several correct choices (CLEVRER)
    "source_id": pa.string(),  # the dataset's own id of the video/sample
    "question_id": pa.string(),
    # keys of the source record (LLaVA-style extras such as max_frame_num) that exports write back
    "keep_keys": pa.list_(pa.string()),
    # errors: `error` is "<stage>: <message>", `error_kind` is "<stage>:<kind>"
    "warning": pa.string(),  # "<stage>: <message>" for a row kept after a fix (e.g. a clamped span)
    "error": pa.string(),
    "error_kind": pa.string(),
    # written only to rejected files
    "reject_reason": pa.string(),
    "rejected_by": pa.string(),
}

REQUIRED = ("id", "path")

# Columns declared by components: name -> (type, who declared it).
_DECLARED: dict[str, tuple[pa.DataType, str]] = {}


class SchemaConflict(TypeError):
    """Two components declare one column with different types."""


def declare(owner: str, columns: Mapping[str, pa.DataType]) -> None:
    """Add a component's output columns to the schema; a clash with another type is an error."""
    for name, typ in columns.items():
        have = COLUMNS.get(name)
        prior = _DECLARED.get(name)
        if have is None and prior is not None:
            have = prior[0]
        if have is not None and have != typ:
            who = prior[1] if prior is not None and name not in COLUMNS else "the core schema"
            raise SchemaConflict(f"{owner} declares column {name!r} as {typ}, but {who} declares it as {have}")
        if name not in COLUMNS:
            _DECLARED.setdefault(name, (typ, owner))


def core_columns(names: Iterable[str]) -> dict[str, pa.DataType]:
    """Core columns by name, with their types (for components that write core facts)."""
    return {n: COLUMNS[n] for n in names}


def declared() -> dict[str, pa.DataType]:
    """Every known column: the core ones, then those components declared so far."""
    return {**COLUMNS, **{k: v[0] for k, v in _DECLARED.items()}}


# Reserved, never persisted: a stage sets it to a reason to move a row to the rejected output.
REJECT = "_reject"


def passthrough_column(key: str) -> str:
    """The column that holds a source record's extra `key` (prefixed when it would clash with ours)."""
    return f"src_{key}" if key in COLUMNS or key.startswith("src_") else key


def arrow_type(name: str) -> pa.DataType | None:
    """The declared type of a known column, or None for a free column."""
    t = COLUMNS.get(name)
    if t is None:
        hit = _DECLARED.get(name)
        t = hit[0] if hit is not None else None
    return t


def conform(table: pa.Table) -> pa.Table:
    """Cast known columns to their declared types; leave the others as they are.

    All-null columns (type ``null``) of unknown names stay null-typed: `unify` settles them when
    shards are combined.
    """
    fields = []
    changed = False
    for field in table.schema:
        want = arrow_type(field.name)
        if want is not None and field.type != want:
            fields.append(pa.field(field.name, want))
            changed = True
        else:
            fields.append(field)
    if not changed:
        return table
    return table.cast(pa.schema(fields, metadata=table.schema.metadata))


def unify(schemas: Iterable[pa.Schema]) -> pa.Schema:
    """One schema for several shards: union of columns, first-seen order, types promoted."""
    schemas = [s.remove_metadata() for s in schemas]
    if not schemas:
        return pa.schema([])
    return pa.unify_schemas(schemas, promote_options="permissive")


def settle_nulls(s: pa.Schema) -> pa.Schema:
    """A column null in every batch gets its declared type (or string), so readers see a type."""
    fields = [pa.field(f.name, arrow_type(f.name) or pa.string()) if pa.types.is_null(f.type) else f for f in s]
    return pa.schema(fields)


def align(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Reorder/extend `table` to `schema` (missing columns become nulls), casting where needed."""
    arrays = []
    for field in schema:
        if field.name in table.column_names:
            col = table.column(field.name)
            arrays.append(col if col.type == field.type else col.cast(field.type))
        else:
            arrays.append(pa.nulls(table.num_rows, type=field.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def concat(tables: list[pa.Table]) -> pa.Table:
    """Concatenate tables whose schemas may differ (a column missing or null in some)."""
    tables = [t for t in tables if t is not None]
    if not tables:
        return pa.table({})
    if len(tables) == 1:
        return tables[0]
    target = unify(t.schema for t in tables)
    return pa.concat_tables([align(t, target) for t in tables])


def from_rows(
    rows: Sequence[Mapping[str, Any]], like: pa.Schema | None = None, types: Mapping[str, pa.DataType] | None = None
) -> pa.Table:
    """Build a table from dict rows; known columns (and those in `types`) get their declared types."""
    names: dict[str, None] = {}
    if like is not None:
        for n in like.names:
            names[n] = None
    for r in rows:
        for k in r:
            names.setdefault(k, None)
    fields = []
    for n in names:
        t = (types or {}).get(n) or arrow_type(n)
        if t is None and like is not None and n in like.names:
            t = like.field(n).type
        fields.append((n, t))
    arrays = []
    out_fields = []
    for n, t in fields:
        values = [r.get(n) for r in rows]
        arr = pa.array(values, type=t) if t is not None else pa.array(values)
        arrays.append(arr)
        out_fields.append(pa.field(n, arr.type))
    return pa.Table.from_arrays(arrays, schema=pa.schema(out_fields))


def stable_id(*parts: Any, length: int = 16) -> str:
    """A short hex id that depends only on `parts`, so reruns give the same ids."""
    h = hashlib.sha1("\x1f".join("" if p is None else str(p) for p in parts).encode("utf-8"))
    return h.hexdigest()[:length]
