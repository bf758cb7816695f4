"""CLEVRER: ``train.json``/``validation.json``/``test.json`` lists of scenes, each with its questions.

Open-ended (descriptive) questions carry their own ``answer``; multiple-choice ones (explanatory,
predictive, counterfactual) have ``choices`` marked ``correct``/``wrong`` — 0 to 4 of them correct,
all kept in ``answer_indices``. Videos are ``<video_filename>`` under the root, or with
``--opt grouped=true`` in the release's ``video_XXXXX-YYYYY/`` folders of 1000.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from vidcurate.datasets.base import Converter, RecordError, Row, error_row, obj, text
from vidcurate.datasets.readers import iter_json_records


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid")
    grouped: bool = Field(False, description="videos in video_00000-01000/ style folders of 1000")


class Clevrer(Converter[Options]):
    name = "clevrer"
    description = "CLEVRER QA (open-ended + multiple choice with all correct choices; train/validation/test.json)"
    patterns = ("train.json", "validation.json", "test.json", "*.json")

    def records(self, files: list[Path]) -> Iterator[tuple[str, Any]]:
        for f in files:
            yield from iter_json_records(f, self.issues)

    def _media(self, name: str) -> str:
        if not self.opts.grouped:
            return name
        m = re.search(r"(\d+)", name)
        if m is None:
            raise RecordError(f"video_filename {name!r} has no number to group by")
        start = int(m.group(1)) // 1000 * 1000
        return f"video_{start:05d}-{start + 1000:05d}/{name}"

    def rows(self, scene: dict[str, Any], where: str) -> Iterable[Row]:
        scene = obj(scene, "scene")
        video = text(scene["video_filename"], "video_filename")
        media = self._media(video)
        questions = scene["questions"]
        if not isinstance(questions, list):
            raise RecordError("'questions' must be a list")
        out = []
        for n, q in enumerate(questions):
            qid = q.get("question_id", n) if isinstance(q, dict) else n
            base: Row = {"_media": media, "_id": (video, qid), "source_id": video, "question_id": str(qid)}
            if not isinstance(q, dict):
                out.append({**base, **error_row("bad_record", f"question {n} is not an object")})
                continue
            out.append(self.guard(base, self._question, q))
        return out

    def _question(self, q: dict[str, Any]) -> Row:
        qtype = q.get("question_type")
        extra: Row = {"question_type": str(qtype)} if qtype is not None else {}
        if "choices" not in q:
            return {**self.qa(q["question"], q.get("answer")), **extra}
        chs = q["choices"]
        if not isinstance(chs, list) or not all(isinstance(c, dict) for c in chs):
            raise RecordError("'choices' must be a list of objects")
        options = [c["choice"] for c in chs]
        marks = [c.get("answer") for c in chs]
        if all(m is None for m in marks):  # the test split has no answers
            return {**self.qa(q["question"], options=options), **extra}
        bad = [m for m in marks if m not in ("correct", "wrong")]
        if bad:
            raise RecordError(f"choice answer {bad[0]!r} is neither 'correct' nor 'wrong'")
        correct = [i for i, m in enumerate(marks) if m == "correct"]
        return {**self.qa(q["question"], options=options, answer_indices=correct), **extra}
