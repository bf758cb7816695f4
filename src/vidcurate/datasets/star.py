"""STAR situated reasoning: ``STAR_{train,val,test}.json`` lists with a span and four choices.

``answer`` is the TEXT of a choice; its position among the choices (ordered by ``choice_id``) is the
``answer_index``. An answer matching no choice is a row error. Videos are Charades ``<video_id>.mp4``,
the question is about ``[start, end]`` seconds.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from vidcurate.datasets.base import Converter, RecordError, Row, error_row, ext_field, obj, text
from vidcurate.datasets.readers import iter_json_records


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ext: str = ext_field("video file extension (Charades <video_id>.<ext>)")


class STAR(Converter[Options]):
    name = "star"
    description = "STAR situated reasoning multiple choice (STAR_*.json; answer = choice text, span in seconds)"
    patterns = ("STAR_*.json", "*.json")

    def records(self, files: list[Path]) -> Iterator[tuple[str, Any]]:
        for f in files:
            yield from iter_json_records(f, self.issues)

    def rows(self, rec: dict[str, Any], where: str) -> Iterable[Row]:
        rec = obj(rec)
        vid = text(rec["video_id"], "video_id")
        qid = text(rec["question_id"], "question_id")
        base: Row = {"_media": self.video_file(vid), "_id": (qid, vid), "source_id": vid, "question_id": qid}
        base["question_type"] = qid.split("_", 1)[0]  # Interaction / Sequence / Prediction / Feasibility
        return [self.guard(base, lambda: self._build(rec))]

    def _build(self, rec: dict[str, Any]) -> Row:
        chs = rec["choices"]
        if not isinstance(chs, list) or not all(isinstance(c, dict) for c in chs):
            raise RecordError("'choices' must be a list of {choice_id, choice}")
        chs = sorted(chs, key=lambda c: int(c.get("choice_id", 0)))
        options = [text(c["choice"], "choice") for c in chs]
        span, warn = self.span(rec["start"], rec["end"])
        extra: Row = {**span, "_warn": warn}
        answer = rec.get("answer")
        if answer is None:  # the test split
            return {**self.qa(rec["question"], options=options), **extra}
        ans = text(answer, "answer")
        matches = [i for i, o in enumerate(options) if o == ans] or [
            i for i, o in enumerate(options) if o.lower().rstrip(".") == ans.lower().rstrip(".")
        ]
        if len(matches) != 1:
            how = "matches no choice" if not matches else "matches several choices"
            err = error_row("bad_answer", f"answer {ans!r} {how}")
            return {**extra, "query": text(rec["question"], "question"), **err}
        return {**self.qa(rec["question"], options=options, answer_index=matches[0]), **extra}
