"""FineVideo: Parquet shards with the video itself (``mp4`` bytes) and a ``json`` metadata struct.

The videos are written into ``--video-root`` (the media output folder) as they stream by — never
overwriting a different file there; an identical file is reused. Each ``content_metadata.qAndA``
pair becomes a QA row and ``content_metadata.description`` a caption row, all pointing at the file.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from vidcurate.core.errors import ConfigError, RowError
from vidcurate.datasets.base import Converter, NoOptions, RecordError, Row, error_row, optional_number
from vidcurate.datasets.paths import safe_name
from vidcurate.datasets.readers import iter_parquet
from vidcurate.io.fs import write_once

# mp4 cells are whole videos: read a few rows at a time.
BATCH_ROWS = 4


class FineVideo(Converter[NoOptions]):
    name = "finevideo"
    description = "FineVideo (parquet with mp4 bytes: writes the videos into --video-root; QA + description rows)"
    patterns = ("*.parquet",)

    def records(self, files: list[Path]) -> Iterator[tuple[str, Any]]:
        for f in files:
            for i, (where, rec) in enumerate(iter_parquet(f, self.issues, ("mp4", "json"), batch_rows=BATCH_ROWS)):
                yield where, (f.stem, i, rec)

    def rows(self, record: tuple[str, int, dict[str, Any]], where: str) -> Iterable[Row]:
        stem, i, rec = record
        meta = rec["json"]
        if isinstance(meta, (str, bytes)):
            try:
                meta = json.loads(meta)
            except json.JSONDecodeError as e:
                raise RecordError(f"'json' is not valid JSON ({e.msg})") from None
        if not isinstance(meta, dict):
            raise RecordError(f"'json' is {type(meta).__name__}, not an object")
        name = meta.get("original_video_filename") or meta.get("youtube_id") or f"{stem}_{i:06d}"
        name = safe_name(str(name))
        if not name.lower().endswith(".mp4"):
            name += ".mp4"
        common: Row = {"_media": name, "source_id": name.rsplit(".", 1)[0]}
        dur = optional_number(meta.get("duration_seconds"))
        if dur is not None:
            common["duration_s"] = dur
        blob = rec["mp4"]
        if not isinstance(blob, (bytes, bytearray)) or not blob:
            return [{**common, "_id": (name,), **error_row("no_media", "row has no mp4 bytes")}]
        root = self.settings.video_root
        if root is None:  # needs_root makes the driver refuse to start without one
            raise ConfigError(f"{self.name}: give --video-root, the folder the videos are written into")
        try:
            write_once(root / name, bytes(blob))
        except RowError as e:
            return [{**common, "_id": (name,), **error_row(e.kind, e.message)}]
        content = meta.get("content_metadata") or {}
        out: list[Row] = []
        if isinstance(content, dict) and content.get("description"):
            desc = content["description"]
            out.append(self.guard({**common, "_id": (name, "description")}, lambda: self.caption_row(desc)))
        qas = content.get("qAndA") if isinstance(content, dict) else None
        for n, qa in enumerate(qas or []):
            base = {**common, "_id": (name, "qa", n), "question_id": f"{common['source_id']}_{n}"}
            out.append(self.guard(base, lambda qa: self.qa(qa["question"], qa["answer"]), qa))
        if not out:
            out.append({**common, "_id": (name,), **error_row("no_annotation", "no description and no qAndA")})
        return out
