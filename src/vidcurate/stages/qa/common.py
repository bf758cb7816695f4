"""The `qa` column and the conversation built from it: what both QA stages write.

`qa` holds every question of a clip (templates and LLM alike); `conversations` is rebuilt from it
as one multi-turn conversation (the media token once, in the first turn), so every exporter writes
the questions without knowing where they came from.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pyarrow as pa

from vidcurate.core.conversations import MEDIA_TOKENS
from vidcurate.datasets.choices import render_answer, render_question

QA = pa.struct(
    [
        ("type", pa.string()),
        ("question", pa.string()),
        ("options", pa.list_(pa.string())),
        ("answer_index", pa.int64()),
        ("answer", pa.string()),
        ("source", pa.string()),  # template | llm
        ("subjects", pa.list_(pa.int32())),  # track ids the question is about
    ]
)
COLUMNS = {"qa": pa.list_(QA), "qa_count": pa.int64(), "conversations": pa.list_(pa.struct(
    [("from", pa.string()), ("value", pa.string())]))}  # fmt: skip
MC_INSTRUCTION = "Answer with the option's letter from the given choices directly."


def stable_int(*parts: Any) -> int:
    return int.from_bytes(hashlib.sha1("\x1f".join(map(str, parts)).encode()).digest()[:8], "big")


def conversation(qas: list[dict[str, Any]], media: str = "video") -> list[dict[str, str]]:
    turns: list[dict[str, str]] = []
    for i, q in enumerate(qas):
        if q.get("options"):
            text = render_question(q["question"], q["options"], MC_INSTRUCTION)
            reply = render_answer(q["options"], int(q["answer_index"]), "letter_text")
        else:
            text, reply = q["question"], q["answer"]
        prefix = f"{MEDIA_TOKENS.get(media, MEDIA_TOKENS['video'])}\n" if i == 0 else ""
        turns += [{"from": "human", "value": prefix + text}, {"from": "gpt", "value": reply}]
    return turns


def with_qas(row: dict[str, Any], new: list[dict[str, Any]]) -> dict[str, Any]:
    """The row's columns after adding `new` questions to those it already has."""
    qas = [*(row.get("qa") or []), *new]
    out: dict[str, Any] = {"qa": qas, "qa_count": len(qas)}
    if qas:
        out["conversations"] = conversation(qas, str(row.get("media") or "video"))
    return out
