"""MSR-VTT captions: CLIP4Clip's ``MSRVTT_data.json`` (``videos`` + ``sentences``) or a ``video_id,sentence`` CSV.

Clips are already trimmed (``video<N>.mp4``), so ``start time``/``end time`` (positions in the
YouTube source) are not spans of the file. One row per sentence; ``--split`` selects videos by
their ``split`` field.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from vidcurate.datasets.base import Converter, NoOptions, RecordError, Row, text
from vidcurate.datasets.readers import iter_csv, load_json


class MSRVTT(Converter[NoOptions]):
    name = "msrvtt"
    description = "MSR-VTT captions (MSRVTT_data.json videos + sentences, or video_id,sentence CSV)"
    patterns = ("MSRVTT_data.json", "*.json", "*.csv")
    split_in_records = True

    def records(self, files: list[Path]) -> Iterator[tuple[str, Any]]:
        for f in files:
            if f.suffix.lower() == ".csv":
                for where, rec in iter_csv(f, self.issues, ("video_id", "sentence")):
                    yield where, (rec, None)
                continue
            doc = load_json(f, self.issues)
            if doc is None:
                continue
            if not isinstance(doc, dict) or not isinstance(doc.get("sentences"), list):
                self.issues.add(str(f), "expected {'videos': [...], 'sentences': [...]}; skipped")
                continue
            videos = {v.get("video_id"): v for v in doc.get("videos") or [] if isinstance(v, dict)}
            for i, s in enumerate(doc["sentences"]):
                v = videos.get(s.get("video_id")) if isinstance(s, dict) else None
                if v is not None and not self.want_split(v.get("split")):
                    continue
                yield f"{f} sentence {i}", (s, v if v is not None else {})

    def rows(self, record: tuple[dict[str, Any], dict[str, Any] | None], where: str) -> Iterable[Row]:
        s, video = record
        if not isinstance(s, dict):
            raise RecordError("sentence is not an object")
        vid = text(s["video_id"], "video_id")
        sen = s.get("sen_id")
        caption = s.get("caption", s.get("sentence"))
        row: Row = {"_media": f"{vid}.mp4", "_id": (vid, sen, caption), "source_id": vid}
        if sen is not None:
            row["question_id"] = str(sen)
        if video and video.get("split"):
            row["split"] = str(video["split"])
        if video and video.get("category") is not None:
            row["category"] = str(video["category"])
        return [self.guard(row, lambda: self.caption_row(caption))]
