"""LLaVA-Video-178K: ``<bucket>/<bucket>_{cap,oe_qa,mc_qa}_processed.json`` LLaVA-style lists.

``video`` is relative to where the ``*_videos_*.tar.gz`` were unpacked (the video root). The
conversations are kept as written (the dataset writes ``<image>`` for its video token; it becomes
``<video>``). Caption files also fill ``caption``; multiple-choice files also get ``options``,
``answer_index`` and ``answer`` parsed from the ``A. ...`` lines and the reply's letter.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from vidcurate.datasets import choices
from vidcurate.datasets.base import Converter, NoOptions, RecordError, Row, text
from vidcurate.datasets.readers import iter_json_any


def file_kind(name: str) -> str:
    n = name.lower()
    if "mc_qa" in n:
        return "mc"
    if "oe_qa" in n:
        return "oe"
    if "_cap" in n:
        return "cap"
    return "qa"


class LlavaVideo178K(Converter[NoOptions]):
    name = "llava-video-178k"
    description = "LLaVA-Video-178K (*_cap/_oe_qa/_mc_qa_processed.json; conversations kept, MC parsed)"
    patterns = ("*_processed.json", "*.json")

    def records(self, files: list[Path]) -> Iterator[tuple[str, Any]]:
        for f in files:
            kind = file_kind(f.name)
            for where, rec in iter_json_any(f, self.issues):
                yield where, (kind, rec)

    def rows(self, record: tuple[str, Any], where: str) -> Iterable[Row]:
        kind, rec = record
        if not isinstance(rec, dict):
            raise RecordError(f"record is {type(rec).__name__}, not an object")
        video = text(rec["video"], "video")
        first = rec.get("conversations")
        first_text = first[0].get("value") if isinstance(first, list) and first and isinstance(first[0], dict) else None
        base: Row = {
            "_media": video,
            "_id": (rec.get("id"), video, kind, first_text),
            "source_id": str(rec.get("id") or video),
        }
        if rec.get("data_source") is not None:
            base["subset"] = str(rec["data_source"])

        def build() -> Row:
            turns, query = self.conversation(rec["conversations"])
            row: Row = {"query": query, "conversations": turns, "task": kind}
            if len(turns) == 2:
                reply = turns[1]["value"]
                if kind == "cap":
                    row["caption"] = reply
                elif kind == "mc":
                    row.update(self._mc(query, reply))
                else:
                    row["answer"] = reply
            return row

        return [self.guard(base, build)]

    @staticmethod
    def _mc(query: str, reply: str) -> Row:
        parsed = choices.parse_rendered(query)
        if parsed is None:
            return {"answer": reply}
        opts, _ = parsed
        idx = choices.letter_of(reply, len(opts))
        if idx is None:
            return {"options": opts, "answer": reply}
        return {"options": opts, "answer_index": idx, "answer": opts[idx]}
