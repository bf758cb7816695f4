"""ActivityNet-QA: ``{split}_q.json`` questions joined with ``{split}_a.json`` answers on ``question_id``.

Videos are ``v_<video_name>.mp4``. A few video names themselves start with ``v_`` (``v_UmAH95xls``),
so their files are ``v_v_UmAH95xls.mp4``: the prefix is always added, ids are never split on ``_``.
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
    ext: str = ext_field("video file extension (files are v_<video_name>.<ext>)")


class ActivityNetQA(Converter[Options]):
    name = "activitynet-qa"
    description = "ActivityNet-QA open-ended QA ({split}_q.json + {split}_a.json; videos v_<name>.mp4)"
    patterns = ("*_q.json", "*_a.json")

    def records(self, files: list[Path]) -> Iterator[tuple[str, Any]]:
        questions = [f for f in files if f.name.endswith("_q.json")]
        answers = {f for f in files if f.name.endswith("_a.json")}
        for f in files:
            if f not in answers and f not in questions:
                self.issues.add(str(f), "not an ActivityNet-QA file (want *_q.json / *_a.json); skipped")
        for qf in questions:
            af = qf.with_name(qf.name[: -len("_q.json")] + "_a.json")
            answers.discard(af)
            self._answers = self._load_answers(af) if af.is_file() else None
            if self._answers is None:
                self.issues.add(str(qf), f"no answers file {af.name} beside it; rows carry no answer")
            yield from iter_json_records(qf, self.issues)
        for af in sorted(answers):
            self.issues.add(str(af), "answers file without its questions file (*_q.json); skipped")

    def _load_answers(self, path: Path) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for where, rec in iter_json_records(path, self.issues):
            if not isinstance(rec, dict) or not isinstance(rec.get("question_id"), str):
                self.issues.add(where, "answer record without a string question_id; skipped")
                continue
            out[rec["question_id"]] = rec
        return out

    def rows(self, rec: dict[str, Any], where: str) -> Iterable[Row]:
        rec = obj(rec)
        video = text(rec["video_name"], "video_name")
        qid = text(rec["question_id"], "question_id")
        base: Row = {
            "_media": self.video_file(f"v_{video}"),
            "_id": (qid,),
            "source_id": video,
            "question_id": qid,
        }
        if self._answers is None:
            return [{**base, **self.qa(rec["question"])}]
        ans = self._answers.get(qid)
        if ans is None:
            return [{**base, **self.qa(rec["question"]), **error_row("no_answer", f"no answer for {qid}")}]
        if "answer" not in ans:
            raise RecordError(f"answer record for {qid} has no 'answer'")
        row = {**base, **self.qa(rec["question"], ans["answer"])}
        if ans.get("type") is not None:
            row["question_type"] = str(ans["type"])
        return [row]
