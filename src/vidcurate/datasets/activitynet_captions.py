"""ActivityNet Captions: ``{"v_<id>": {"duration", "timestamps": [[s, e], ...], "sentences": [...]}}``.

One row per sentence: the clip ``[s, e]`` (float seconds) of ``v_<id>.mp4`` with the sentence as
its caption. Some spans run past the duration or are reversed: they are clamped (and swapped) and
reported, never silently passed on.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from vidcurate.datasets.base import Converter, RecordError, Row, error_row, ext_field, number
from vidcurate.datasets.readers import load_json


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ext: str = ext_field("video file extension (files are <key>.<ext>, key keeps its v_)")


class ActivityNetCaptions(Converter[Options]):
    name = "activitynet-captions"
    description = "ActivityNet Captions dense captions (train.json, val_1.json, val_2.json; float-second spans)"
    patterns = ("train.json", "val_1.json", "val_2.json", "*.json")

    def records(self, files: list[Path]) -> Iterator[tuple[str, Any]]:
        for f in files:
            data = load_json(f, self.issues)
            if data is None:
                continue
            if not isinstance(data, dict):
                self.issues.add(str(f), f"expected an object keyed by video id, got {type(data).__name__}; skipped")
                continue
            for key, rec in data.items():
                yield f"{f} [{key}]", (key, rec)

    def rows(self, record: tuple[str, Any], where: str) -> Iterable[Row]:
        key, rec = record
        if not isinstance(rec, dict):
            raise RecordError(f"entry is {type(rec).__name__}, not an object")
        duration = number(rec["duration"], "duration")
        stamps, sentences = rec["timestamps"], rec["sentences"]
        if not isinstance(stamps, list) or not isinstance(sentences, list):
            raise RecordError("'timestamps' and 'sentences' must be lists")
        if len(stamps) != len(sentences):
            raise RecordError(f"{len(stamps)} timestamps but {len(sentences)} sentences")
        out = []
        for i, (ts, sentence) in enumerate(zip(stamps, sentences, strict=True)):
            row: Row = {
                "_media": self.video_file(key),
                "_id": (key, i),
                "source_id": key,
                "question_id": str(i),
                "duration_s": duration,
            }
            try:
                if not isinstance(ts, (list, tuple)) or len(ts) != 2:
                    raise RecordError(f"timestamp {i} is {ts!r}, not a [start, end] pair")
                span, warn = self.span(ts[0], ts[1], duration)
                row.update(span)
                row.update(self.caption_row(sentence))
                row["_warn"] = warn
            except RecordError as e:
                row.update(error_row("bad_record", f"sentence {i}: {e}"))
            out.append(row)
        return out
