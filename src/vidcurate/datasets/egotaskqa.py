"""EgoTaskQA: ``{direct,indirect}/{train,val,test}_qas.json`` lists of open-ended questions.

``interval`` (``<video_name>|<P1/P2 fpv>|<start_frame>|<end_frame>``) names the already cut QA clip:
``qa_videos/<interval>.mp4`` as the official loaders read it. Ids are kept whole, never split.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from vidcurate.datasets.base import Converter, RecordError, Row, ext_field, text
from vidcurate.datasets.readers import iter_json_records


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ext: str = ext_field("clip file extension (<interval>.<ext>)")


class EgoTaskQA(Converter[Options]):
    name = "egotaskqa"
    description = "EgoTaskQA open-ended QA (*_qas.json; clip file <interval>.mp4)"
    patterns = ("*_qas.json", "*qas*.json")

    def records(self, files: list[Path]) -> Iterator[tuple[str, Any]]:
        for f in files:
            for where, rec in iter_json_records(f, self.issues):
                yield where, (f.parent.name, rec)

    def rows(self, record: tuple[str, Any], where: str) -> Iterable[Row]:
        group, rec = record
        if not isinstance(rec, dict):
            raise RecordError(f"record is {type(rec).__name__}, not an object")
        interval = text(rec["interval"], "interval")
        qid = rec.get("question_id")
        base: Row = {
            "_media": self.video_file(interval),
            "_id": (group, interval, qid, rec.get("question")),
            "source_id": interval,
        }

        def build() -> Row:
            row: Row = self.qa(rec["question"], rec["answer"])
            if qid is not None:
                row["question_id"] = str(qid)
            for src, dst in (("type", "question_type"), ("reasoning_type", "reasoning_type")):
                if rec.get(src) is not None:
                    row[dst] = str(rec[src])
            if group in ("direct", "indirect"):
                row["subset"] = group
            return row

        return [self.guard(base, build)]
