"""The input of a run, sharded into `00-source/part-*.parquet`, with a fingerprint per shard.

A folder is scanned (`io.ingest`); a manifest (Parquet, CSV, JSONL) is streamed. Rows are
regrouped into shards of `shard_size` rows. Two fingerprints decide what a rerun redoes:

* the *layout*: the ids and paths of all rows, in order. Rows added, removed or reordered move
  every shard boundary, so every shard of every stage is redone.
* per shard, its *content*: every column of its rows, plus each media file's size and mtime when
  a stage of the recipe reads media. A video replaced or repaired in place changes only its shard's
  fingerprint: that shard is re-probed and re-processed, the others resume.

Unchanged source parts are not rewritten. Ids must be unique (they name clip files later).
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from vidcurate.core import schema
from vidcurate.core.errors import ConfigError
from vidcurate.engines.shard import write_part
from vidcurate.io import ingest
from vidcurate.io import manifest as mio
from vidcurate.io.runfolder import RunFolder, part_name

MAX_AUTO_SHARD = 256


@dataclass
class SourceInfo:
    """What the sharded input is: how many shards and rows, its columns, its fingerprints."""

    shards: int
    rows: int
    schema: dict[str, pa.DataType]  # the columns of the first shard, with their types
    layout: str
    fingerprints: list[str]
    shard_size: int


def shard_input(
    src: Path, folder: RunFolder, *, workers: int, shard_size: int | None, stat_media: bool, write: bool = True
) -> SourceInfo:
    """Write the input's shards (those that changed) and return what they are (`write=False`: only say)."""
    d = folder.source()
    if src.is_dir():
        table = ingest.ingest_table(src)
        batches: Iterator[pa.Table] = iter([table])
        n_rows = table.num_rows
    else:
        n_rows = _count_rows(src)
        batches = mio.iter_manifest(src)
    old = d.read_meta() or {}
    # no size asked for: keep the one this folder was sharded with (a rerun resumes), else pick one
    size = (
        shard_size
        or int(old.get("shard_size") or 0)
        or max(1, min(MAX_AUTO_SHARD, math.ceil(n_rows / (workers * 4)) or 1))
    )
    old_fps: list[str] = (old.get("shard_fingerprints") or []) if old.get("shard_size") == size else []
    layout = hashlib.sha1()
    fps: list[str] = []
    first: pa.Schema | None = None
    seen: dict[str, int] = {}
    ids: list[pa.ChunkedArray] = []
    # parts are written on a second thread while the next shard is read and hashed (both release
    # the GIL); one write in flight at a time keeps memory at two shards
    writer = ThreadPoolExecutor(1, thread_name_prefix="source-write")
    pending: Future[None] | None = None
    written: list[Path] = []
    try:
        for i, piece in enumerate(_rechunk(batches, size)):
            piece = schema.conform(mio.ensure_ids(piece, seen))
            ids.append(piece.column("id"))
            layout.update(_ipc(piece.select(["id", "path"])))
            paths = piece.column("path").to_pylist() if stat_media else None
            fp = _content_fingerprint(piece, paths)
            fps.append(fp)
            first = first or piece.schema
            part = d.part(i)
            if write and (i >= len(old_fps) or old_fps[i] != fp or not part.exists()):
                if pending is not None:
                    pending.result()
                pending = writer.submit(write_part, piece, part)
                written.append(part)
        if pending is not None:
            pending.result()
        _check_unique(src, ids)
    except BaseException:
        # an input refused half way (a repeated id, a bad file) must not leave its rows in parts the
        # folder's metadata still attributes to the previous input: a rerun writes them again
        writer.shutdown(wait=True, cancel_futures=True)  # before unlinking: no write may land after
        for p in written:
            p.unlink(missing_ok=True)
        raise
    finally:
        writer.shutdown(wait=True, cancel_futures=True)
    schema_ = {f.name: f.type for f in first} if first is not None else {"id": pa.string(), "path": pa.string()}
    info = SourceInfo(len(fps), n_rows, schema_, layout.hexdigest()[:16], fps, size)
    if not write:
        return info
    for extra in range(len(fps), int(old.get("shards") or 0)):
        d.drop_shard(extra)
    d.write_meta(
        {
            "stage": "source",
            "input": str(src),
            "complete": True,
            "shards": len(fps),
            "rows": n_rows,
            "shard_size": size,
            "layout": layout.hexdigest()[:16],
            "shard_fingerprints": fps,
        }
    )
    return info


def _ipc(table: pa.Table) -> pa.Buffer:
    """The table's values as Arrow IPC bytes (what a fingerprint hashes; no Python objects made)."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema.remove_metadata()) as w:
        w.write_table(table.replace_schema_metadata(None))
    return sink.getvalue()


def _content_fingerprint(table: pa.Table, paths: list[Any] | None) -> str:
    """Every value of the shard, plus each media file's size and mtime when asked for."""
    h = hashlib.sha1(_ipc(table))
    for p in paths or ():
        h.update(repr(_file_state(p)).encode())
    return h.hexdigest()[:16]


def _check_unique(src: Path, ids: list[pa.ChunkedArray]) -> None:
    """Ids name clip files later: one that appears twice is an error (hashed in Arrow, not Python)."""
    if not ids:
        return
    every = pa.chunked_array([c for col in ids for c in col.chunks], ids[0].type)
    if pc.count_distinct(every).as_py() == len(every):
        return
    counts = pc.value_counts(every)
    again = counts.field("values").filter(pc.greater(counts.field("counts"), 1))
    raise ConfigError(
        f"input {src}: id '{pc.min(again).as_py()}' appears more than once; ids must be unique "
        "(drop the id column to have stable ids derived from each row)"
    )


def _file_state(path: Any) -> tuple[int, int] | None:
    if not isinstance(path, str) or "://" in path:
        return None
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return st.st_size, st.st_mtime_ns


def _rechunk(batches: Iterator[pa.Table], size: int) -> Iterator[pa.Table]:
    """Regroup a stream of tables into tables of exactly `size` rows (the last may be short)."""
    buf: list[pa.Table] = []
    have = 0
    for t in batches:
        start = 0
        while start < t.num_rows:
            take = min(size - have, t.num_rows - start)
            buf.append(t.slice(start, take))
            have += take
            start += take
            if have == size:
                yield schema.concat(buf)
                buf, have = [], 0
    if have:
        yield schema.concat(buf)


def _count_rows(src: Path) -> int:
    if mio.manifest_format(src) == "parquet":
        return int(pq.read_metadata(src).num_rows)
    return sum(t.num_rows for t in mio.iter_manifest(src))


__all__ = ["SourceInfo", "part_name", "shard_input"]
