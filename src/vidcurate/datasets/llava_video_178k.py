"""LLaVA-Video-178K: ``<bucket>/<bucket>_{cap,oe_qa,mc_qa}_processed.json`` LLaVA-style lists.

``video`` is relative to where the ``*_videos_*.tar.gz`` were unpacked (the video root). The
conversations are kept as written (the dataset writes ``<image>`` for its video token; it becomes
``<video>``). Caption files also fill ``caption``; multiple-choice files also get ``options``,
``answer_index`` and ``answer`` parsed from the ``A. ...`` lines and the reply's letter. Other
LLaVA-format files convert with the generic ``llava`` converter.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from vidcurate.datasets import choices
from vidcurate.datasets.base import Row
from vidcurate.datasets.llava import Llava


def file_kind(name: str) -> str:
    n = name.lower()
    if "mc_qa" in n:
        return "mc"
    if "oe_qa" in n:
        return "oe"
    if "_cap" in n:
        return "cap"
    return "qa"


class LlavaVideo178K(Llava):
    name = "llava-video-178k"
    description = "LLaVA-Video-178K (*_cap/_oe_qa/_mc_qa_processed.json; conversations kept, MC parsed)"
    patterns = ("*_processed.json", "*.json")
    consumed: ClassVar[frozenset[str]] = frozenset({"data_source"})

    def rows(self, record: tuple[Path, Any], where: str) -> list[Row]:
        out = list(super().rows(record, where))
        _, rec = record
        if isinstance(rec, dict) and rec.get("data_source") is not None:
            for r in out:
                r["subset"] = str(rec["data_source"])
        return out

    def id_parts(self, f: Path, rec: dict[str, Any], rel: str, first: Any) -> tuple[Any, ...]:
        return (rec.get("id"), rel, file_kind(f.name), first)

    def fields(self, f: Path, rec: dict[str, Any], turns: list[dict[str, str]], query: str) -> Row:
        kind = file_kind(f.name)
        row: Row = {"task": kind}
        if len(turns) == 2:
            reply = turns[1]["value"]
            if kind == "cap":
                row["caption"] = reply
            elif kind == "mc":
                row.update(self._mc(query, reply))
            else:
                row["answer"] = reply
        return row

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
