"""InternVid-10M(-FLT): one JSON line per clip, ``Start_timestamp``/``End_timestamp`` as ``HH:MM:SS.mmm``.

The clip is a span of the YouTube video ``<YoutubeID>.mp4``; the caption is paired with an
instruction from the prompt pool.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from vidcurate.datasets.base import Converter, Row, ext_field, obj, optional_number, text
from vidcurate.datasets.paths import watch_url
from vidcurate.datasets.readers import iter_json_records
from vidcurate.datasets.timeparse import hms_to_s


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ext: str = ext_field("video file extension (<YoutubeID>.<ext>)")


class InternVid(Converter[Options]):
    name = "internvid"
    description = "InternVid-10M clip captions (jsonl; HH:MM:SS.mmm spans of <YoutubeID>.mp4)"
    patterns = ("*.jsonl", "*.json")

    def records(self, files: list[Path]) -> Iterator[tuple[str, Any]]:
        for f in files:
            yield from iter_json_records(f, self.issues)

    def rows(self, rec: dict[str, Any], where: str) -> Iterable[Row]:
        rec = obj(rec)
        yt = text(rec["YoutubeID"], "YoutubeID")
        start, end = rec.get("Start_timestamp"), rec.get("End_timestamp")
        base: Row = {"_media": self.video_file(yt), "_id": (yt, start, end), "source_id": yt, "url": watch_url(yt)}

        def build() -> Row:
            span, warn = self.span(hms_to_s(rec["Start_timestamp"]), hms_to_s(rec["End_timestamp"]))
            return {
                **span,
                "_warn": warn,
                "aesthetic": optional_number(rec.get("Aesthetic_Score")),
                "umt_score": optional_number(rec.get("UMT_Score")),
                **self.caption_row(rec["Caption"]),
            }

        return [self.guard(base, build)]
