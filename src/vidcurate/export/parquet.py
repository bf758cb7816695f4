"""Parquet that `datasets.load_dataset("parquet", data_files=...)` loads as is.

Plain Arrow types only: the manifest's own columns (conversations as a list of {from, value}
structs, options as a list of strings), all-null columns typed as strings, no error/reject
columns. Written in row groups through one `ParquetWriter`, so memory stays bounded; the file
appears only when complete. Paths are absolute unless `--media-root` is given.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, Literal

import pyarrow as pa
import pyarrow.parquet as pq

from vidcurate.core import schema
from vidcurate.export.base import INTERNAL, Exporter, Sample
from vidcurate.export.options import ExportOptions
from vidcurate.export.skiplog import SkipLog
from vidcurate.io.fs import atomic_path

_CLIP_FIELDS = [
    pa.field("clip_of", pa.string()),
    pa.field("clip_start_s", pa.float64()),
    pa.field("clip_end_s", pa.float64()),
]
_ROW_GROUP = 2048


def _plain(t: pa.DataType) -> pa.DataType:
    if pa.types.is_null(t):
        return pa.string()
    if pa.types.is_dictionary(t):
        return _plain(t.value_type)
    if pa.types.is_large_string(t):
        return pa.string()
    return t


def output_schema(source: pa.Schema, materialize: bool) -> pa.Schema:
    fields = []
    for f in source.remove_metadata():
        if f.name in INTERNAL:
            continue
        fields.append(pa.field(f.name, _plain(schema.COLUMNS.get(f.name, f.type))))
    if "media" not in source.names:
        fields.append(pa.field("media", pa.string()))
    if materialize:
        fields += [f for f in _CLIP_FIELDS if f.name not in source.names]
    return pa.schema(fields)


class ParquetExporter(Exporter[ExportOptions]):
    """Hugging Face datasets-loadable Parquet of the manifest's plain columns."""

    name = "parquet"
    description = "Parquet loadable by datasets.load_dataset('parquet'); conversations as list<struct<from,value>>"
    suffix: ClassVar[str | None] = ".parquet"
    conversations: ClassVar[Literal["required", "if_present", "ignore"]] = "if_present"

    def write(self, samples: Iterator[Sample], log: SkipLog) -> list[Path]:
        assert self.out_file is not None and self.source_schema is not None
        out_schema = output_schema(self.source_schema, self.cfg.materialize)
        buf: list[dict[str, Any]] = []
        with atomic_path(self.out_file) as tmp:
            writer = pq.ParquetWriter(tmp, out_schema, compression="zstd")
            try:
                for sample in samples:
                    row = dict(sample.row)
                    row["path"] = sample.rel
                    row["media"] = sample.media
                    buf.append(row)
                    log.ok()
                    if len(buf) >= _ROW_GROUP:
                        writer.write_table(pa.Table.from_pylist(buf, schema=out_schema))
                        buf.clear()
                if buf:
                    writer.write_table(pa.Table.from_pylist(buf, schema=out_schema))
            finally:
                writer.close()
        return [self.out_file]
