"""Perception Test multiple choice: the official ``mc_question_*.json`` and the lmms-lab parquet mirror.

Official: a dict keyed by video id, each with ``metadata`` and ``mc_question`` entries whose
``answer_id`` is an int. The parquet mirror has ``video_name, question, question_id, options,
answer_id`` with ``answer_id`` as a STRING: both become the same int ``answer_index``; a value that
is not an index is a row error. Videos are ``<video_id>.mp4``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from vidcurate.datasets import choices
from vidcurate.datasets.base import (
    Converter,
    RecordError,
    Row,
    error_row,
    ext_field,
    optional_int,
    optional_number,
    text,
)
from vidcurate.datasets.readers import iter_parquet, load_json


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ext: str = ext_field("video file extension (<video_id>.<ext>)")


class PerceptionTest(Converter[Options]):
    name = "perceptiontest"
    description = "Perception Test multiple choice (official mc_question_*.json or lmms-lab parquet)"
    patterns = ("mc_question*.json", "*.parquet")

    def records(self, files: list[Path]) -> Iterator[tuple[str, Any]]:
        for f in files:
            if f.suffix.lower() == ".parquet":
                for where, rec in iter_parquet(f, self.issues, ("video_name", "question", "options")):
                    yield where, ("parquet", rec)
                continue
            doc = load_json(f, self.issues)
            if doc is None:
                continue
            if not isinstance(doc, dict):
                self.issues.add(str(f), "expected an object keyed by video id; skipped")
                continue
            for vid, rec in doc.items():
                yield f"{f} [{vid}]", ("json", (vid, rec))

    def rows(self, record: tuple[str, Any], where: str) -> Iterable[Row]:
        kind, rec = record
        if kind == "parquet":
            return [self._parquet(rec)]
        vid, entry = rec
        if not isinstance(entry, dict):
            raise RecordError(f"entry is {type(entry).__name__}, not an object")
        meta = entry.get("metadata") or {}
        common: Row = {"_media": self.video_file(vid), "source_id": vid}
        fps, n = optional_number(meta.get("frame_rate")), optional_int(meta.get("num_frames"))
        if fps:
            common["fps"] = fps
        if n:
            common["num_frames"] = n
            if fps:
                common["duration_s"] = n / fps
        if meta.get("split"):
            common["split"] = str(meta["split"])
        out = []
        for i, q in enumerate(entry.get("mc_question") or []):
            qid = q.get("id", i) if isinstance(q, dict) else i
            base = {**common, "_id": (vid, qid), "question_id": f"{vid}_{qid}"}
            out.append(self.guard(base, lambda q: self._question(q, q.get("answer_id")), q))
        return out

    def _parquet(self, rec: dict[str, Any]) -> Row:
        vid = text(rec["video_name"], "video_name")
        qid = rec.get("question_id")
        base: Row = {"_media": self.video_file(vid), "_id": (vid, qid), "source_id": vid}
        if qid is not None:
            base["question_id"] = str(qid)
        opts = rec["options"]
        ans = rec.get("answer_id")
        if ans not in (None, ""):
            try:
                ans = choices.check_index(ans, len(opts) if isinstance(opts, list) else 0, "answer_id")
            except ValueError as e:
                return {**base, **error_row("bad_answer", str(e))}
        return self.guard(base, lambda: self._question(rec, ans if ans != "" else None))

    def _question(self, q: dict[str, Any], answer_id: Any) -> Row:
        row = self.qa(q["question"], options=q["options"], answer_index=answer_id)
        parts = [str(q[k]) for k in ("area", "reasoning") if q.get(k)]
        if parts:
            row["question_type"] = "/".join(parts)
        return row
