"""What the fake LLM server answers: parsed requests, injected faults, deterministic answers.

Answers are computed from what the request shows (frame counters drawn by `synth.counter`, how
much consecutive images change, words of the caption), so tests can check that the right frames
reached the model; they are plumbing checks, not judgements of curation quality.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

FAULT = re.compile(r"\[\[fault:([a-z0-9_*,]+)\]\]")
KINDS = {
    "429",
    "500",
    "503",
    "400",
    "slow",
    "badjson",
    "truncated",
    "reset",
    "badcontent",
    "empty",
    "hang",
    "echo",
    "huge",
}
_CAPTION = re.compile(r"^Caption: (.*)$", re.MULTILINE)
_MOVING = re.compile(r"\b(runs?|running|walks?|walking|moves?|moving|drives?|driving|flies|flying|jumps?|"
                     r"jumping|chases?|chasing|swims?|swimming|rolls?|rolling|pans?|panning|dances?|dancing)\b",
                     re.IGNORECASE)  # fmt: skip
_AGENTS = {"man", "woman", "person", "child", "dog", "cat", "bird", "horse", "car", "robot", "people", "boy", "girl"}
_THINGS = {"ball", "tree", "table", "chair", "road", "building", "house", "cup", "box", "rock", "bench", "wall"}


@dataclass
class Request:
    """What the server saw in one chat request."""

    body: dict[str, Any]
    authorization: str | None
    texts: list[str]
    images: list[tuple[int, int]]  # (width, height) per image
    counters: list[int | None]  # frame index drawn by synth.counter, per image
    videos: list[str]
    change: float = 0.0  # largest mean absolute difference between consecutive images (0-255)
    root: str = ""  # hash of the conversation up to the first user message
    fault: str | None = None
    attempt: int = 0

    @property
    def json_mode(self) -> bool:
        return "response_format" in self.body or "JSON" in "\n".join(self.texts)

    @property
    def caption(self) -> str:
        text = "\n".join(self.texts)
        found = _CAPTION.findall(text)
        return found[-1].strip() if found else text.strip()


def parse_faults(spec: str) -> list[str]:
    """`429*2,500` -> ['429', '429', '500']."""
    out: list[str] = []
    for item in filter(None, spec.split(",")):
        kind, _, n = item.partition("*")
        if kind not in KINDS:
            raise ValueError(f"unknown fault '{kind}' (known: {', '.join(sorted(KINDS))})")
        out += [kind] * (int(n) if n else 1)
    return out


def default_answer(req: Request) -> str:
    """Deterministic answers: frame facts for images, verdicts for JSON questions, a rewrite otherwise."""
    if req.json_mode:
        text = "\n".join(req.texts)
        if "question-answer pairs" in text:
            return json.dumps({"qa": _track_qas(text)})
        if "non_agents" in text:
            words = re.findall(r"[a-z]+", req.caption.lower())
            return json.dumps(
                {"agents": [w for w in words if w in _AGENTS], "non_agents": [w for w in words if w in _THINGS]}
            )
        if req.images:
            moving = req.change > 2.0
            reason = f"the frames change (mean difference {req.change:.1f})" if moving else "the frames do not change"
            return json.dumps({"is_dynamic": moving, "reason": reason})
        m = _MOVING.search(req.caption)
        reason = f"something is {m.group(0)}" if m else "nothing in the caption moves"
        return json.dumps({"is_dynamic": bool(m), "reason": reason})
    if req.images:
        w, h = req.images[0]
        idx = " ".join("?" if c is None else str(c) for c in req.counters)
        return f"The video shows {len(req.images)} frames of {w}x{h} with counters {idx}."
    if req.videos:
        return f"In this video, the file {req.videos[0]} plays."
    return f"{req.caption} Rewritten."


_TRACK = re.compile(r"^#(\d+) ([^:]+): .*?moves (\w+)", re.MULTILINE)
_WANT = re.compile(r"Write (\d+) question-answer pairs")


def _track_qas(text: str) -> list[dict[str, str]]:
    """One question per trajectory line of the qa_tracks prompt, answered from that line."""
    want = int(m.group(1)) if (m := _WANT.search(text)) else 3
    qas = [
        {"question": f"Which way does the {who} move?", "answer": f"The {who} moves {way}."}
        for _, who, way in _TRACK.findall(text)
    ]
    return qas[:want] or [{"question": "What moves in the video?", "answer": "Nothing moves."}]


def decode_image(url: str) -> np.ndarray | None:
    payload = url.partition(",")[2]
    img = cv2.imdecode(np.frombuffer(base64.b64decode(payload), np.uint8), cv2.IMREAD_COLOR)
    return None if img is None else cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def counter_of(img: np.ndarray | None) -> int | None:
    from vidcurate.testing.frames import read_counter

    if img is None:
        return None
    try:
        return read_counter(img)
    except ValueError:
        return None


def image_change(imgs: list[np.ndarray | None]) -> float:
    diffs = [
        float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())
        for a, b in itertools.pairwise(imgs)
        if a is not None and b is not None and a.shape == b.shape
    ]
    return max(diffs, default=0.0)
