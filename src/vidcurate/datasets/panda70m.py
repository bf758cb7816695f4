"""Panda-70M: one CSV row per YouTube video with N clips; list cells are Python-repr strings.

``timestamp`` (``"[['0:00:19.227', '0:00:28.278'], ...]"``), ``caption`` and ``matching_score`` are
parsed with ``ast.literal_eval`` only (a cell holding code is rejected as data). One row per clip:
a span of ``<videoID>.mp4`` with its caption.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from vidcurate.datasets.base import Converter, RecordError, Row, error_row, ext_field, optional_number, text
from vidcurate.datasets.paths import watch_url
from vidcurate.datasets.readers import iter_csv
from vidcurate.datasets.timeparse import literal, span_pair


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ext: str = ext_field("video file extension (<videoID>.<ext>)")


class Panda70M(Converter[Options]):
    name = "panda70m"
    description = "Panda-70M clip captions (panda70m_*.csv; one row per video, repr-string lists parsed safely)"
    patterns = ("*.csv",)

    def records(self, files: list[Path]) -> Iterator[tuple[str, Any]]:
        for f in files:
            yield from iter_csv(f, self.issues, ("videoID", "timestamp", "caption"))

    def rows(self, rec: dict[str, str], where: str) -> Iterable[Row]:
        vid = text(rec["videoID"], "videoID")
        media = self.video_file(vid)
        try:
            stamps = literal(rec["timestamp"], "timestamp")
            captions = literal(rec["caption"], "caption")
            scores = literal(rec["matching_score"], "matching_score") if rec.get("matching_score") else None
            if not isinstance(stamps, list) or not isinstance(captions, list):
                raise RecordError("'timestamp' and 'caption' must be lists")
            if len(stamps) != len(captions) or (isinstance(scores, list) and len(scores) != len(stamps)):
                n_scores = len(scores) if isinstance(scores, list) else "no"
                raise RecordError(f"{len(stamps)} timestamps, {len(captions)} captions, {n_scores} scores")
        except ValueError as e:
            return [{"_media": media, "_id": (vid,), "source_id": vid, **error_row("bad_record", str(e))}]
        out = []
        for i, (ts, cap) in enumerate(zip(stamps, captions, strict=True)):
            base: Row = {"_media": media, "_id": (vid, i, repr(ts)), "source_id": vid, "clip_index": i,
                         "url": watch_url(vid)}  # fmt: skip

            def build(ts: Any = ts, cap: Any = cap, i: int = i) -> Row:
                span, warn = self.span(*span_pair(ts, f"timestamp {i}"))
                score = optional_number(scores[i]) if isinstance(scores, list) else None
                return {**span, "_warn": warn, "matching_score": score, **self.caption_row(cap)}

            out.append(self.guard(base, build))
        return out
