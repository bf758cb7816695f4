"""Koala-36M: ``Koala_36M_*.csv``; ``timestamp`` is a Python-repr pair ``"['H:MM:SS.fff', 'H:MM:SS.fff']"``.

The pair is parsed with ``ast.literal_eval`` only. ``videoID`` is ``<youtube id>_<clip index>``: the
YouTube id comes from ``url`` (or ``videoID.rsplit('_', 1)[0]``). ``layout=video`` (default) points at
the full ``<youtube id>.mp4`` with the span; ``layout=clip`` at an already cut ``<videoID>.mp4``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from vidcurate.datasets.base import Converter, Row, ext_field, optional_number, text
from vidcurate.datasets.paths import watch_url, youtube_id
from vidcurate.datasets.readers import iter_csv
from vidcurate.datasets.timeparse import literal, span_pair


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid")
    layout: Literal["video", "clip"] = Field("video", description="video: <ytid>.mp4 + span; clip: <videoID>.mp4")
    ext: str = ext_field("video file extension")


class Koala36M(Converter[Options]):
    name = "koala36m"
    description = "Koala-36M captions (Koala_36M_*.csv; repr-string timestamp pairs, parsed safely)"
    patterns = ("*.csv",)

    def records(self, files: list[Path]) -> Iterator[tuple[str, Any]]:
        for f in files:
            yield from iter_csv(f, self.issues, ("videoID", "timestamp", "caption"))

    def rows(self, rec: dict[str, str], where: str) -> Iterable[Row]:
        vid = text(rec["videoID"], "videoID")
        yt = youtube_id(rec.get("url")) or vid.rsplit("_", 1)[0]
        clip = self.opts.layout == "clip"
        base: Row = {
            "_media": self.video_file(vid if clip else yt),
            "_id": (vid, rec["timestamp"]),
            "source_id": vid,
            "url": (rec.get("url") or "").strip() or watch_url(yt),
        }

        def build() -> Row:
            row: Row = {
                "aesthetic": optional_number(rec.get("aesthetic_score")),
                "clarity_score": optional_number(rec.get("clarity_score")),
                "motion_score": optional_number(rec.get("motion_score")),
                "stability_score": optional_number(rec.get("video_training_stability_score")),
            }
            start, end = span_pair(literal(rec["timestamp"], "timestamp"))
            span, warn = self.span(start, end)
            if not clip:
                row.update(span)
                row["_warn"] = warn
            return {**row, **self.caption_row(rec["caption"])}

        return [self.guard(base, build)]
