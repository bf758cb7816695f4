"""Answers as data: the text of a completion, JSON found in it, and validation against a model.

Models wrap JSON in prose, code fences or `<think>` blocks; `extract_json` finds the object, and
`parse_model` validates it. The request side says what is wanted (`json_schema`, `json_instructions`)
and where (`with_instructions`); `mentions_format` recognises a server refusing `response_format`.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)
_THINK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL | re.IGNORECASE)


def message_text(data: Any) -> tuple[str, str | None]:
    """(content, finish_reason) of a chat completion; ValueError when it is not one."""
    if not isinstance(data, dict) or not isinstance(data.get("choices"), list) or not data["choices"]:
        raise ValueError("no choices in the response")
    choice = data["choices"][0]
    msg = choice.get("message") if isinstance(choice, dict) else None
    if not isinstance(msg, dict):
        raise ValueError("no message in the first choice")
    content = msg.get("content")
    if isinstance(content, list):  # some servers answer with content parts
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
    if content is not None and not isinstance(content, str):
        raise ValueError("message content is not text")
    return content or "", choice.get("finish_reason")


def extract_json(text: str) -> Any:
    """The JSON object in a model's answer: drops <think> blocks, code fences and chatter around it."""
    t = _THINK.sub("", text).strip()
    fence = _FENCE.search(t)
    if fence:
        t = fence.group(1).strip()
    try:
        return json.loads(t)
    except json.JSONDecodeError:
        pass
    start, end = t.find("{"), t.rfind("}")
    if start < 0 or end <= start:
        raise ValueError("no JSON object in the answer")
    try:
        return json.loads(t[start : end + 1])
    except json.JSONDecodeError as e:
        raise ValueError(f"invalid JSON ({e.msg} at character {e.pos})") from None


def parse_model(text: str, model: type[M]) -> M:
    """Validate an answer against `model`; ValueError with a short reason when it does not fit."""
    data = extract_json(text)
    try:
        return model.model_validate(data)
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(str(x) for x in err['loc']) or 'answer'}: {err['msg']}" for err in e.errors())
        raise ValueError(problems) from None


@functools.lru_cache(maxsize=64)
def json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema, built once per model (pydantic takes ~0.5 ms per call)."""
    return model.model_json_schema()


@functools.lru_cache(maxsize=64)
def json_instructions(model: type[BaseModel]) -> str:
    return (
        "Respond with only a JSON object (no markdown, no text before or after it) that matches this JSON schema:\n"
        + json.dumps(json_schema(model), separators=(",", ":"))
    )


def mentions_format(text: str) -> bool:
    t = text.lower()
    return "response_format" in t or "json_object" in t or "json mode" in t or "response format" in t


def with_instructions(messages: list[dict[str, Any]], extra: str) -> list[dict[str, Any]]:
    """Append `extra` to the last user message (text or content parts)."""
    out = [dict(m) for m in messages]
    for m in reversed(out):
        if m.get("role") != "user":
            continue
        c = m.get("content")
        if isinstance(c, str):
            m["content"] = f"{c}\n\n{extra}"
        else:
            m["content"] = [*(c or []), {"type": "text", "text": extra}]
        return out
    return [*out, {"role": "user", "content": extra}]
