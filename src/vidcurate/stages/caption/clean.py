"""`caption.clean`: tidy VLM captions without a model (Open-Sora's --clean-caption --remove-empty-caption).

VLMs open with boilerplate ("The video shows", "In this video, ..."), chat ("Sure! Here is a
description:"), paste URLs and markdown, repeat sentences when they loop, and stop mid-sentence
at the token limit. Training captions should carry none of that; an empty result is a row error,
so a later `filter: {drop_errors: true}` removes it with a reason.
"""

from __future__ import annotations

import html
import re
from typing import Any, ClassVar

import pyarrow as pa
from pydantic import Field

from vidcurate.core.errors import RowError
from vidcurate.core.stage import Columns, RowStage, StageConfig

_MEDIA = r"(?:video|clip|footage|scene|film|animation|sequence|image|frames?|shot|gif|recording)"
_SIZE = r"(?:(?:short|brief|given|provided|following)\s+)?"
_OPENINGS = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"(?:sure|certainly|of course|okay|ok|absolutely)\b[,!.]?\s*",
        r"here(?:'s|\s+is|\s+are)\s+(?:an?\s+|the\s+)?(?:[\w-]+\s+){0,3}(?:description|caption|summary)"
        rf"(?:\s+(?:of|for)\s+(?:the|this)\s+{_SIZE}{_MEDIA}(?:\s+clip)?)?\s*[:.]\s*",
        r"(?:caption|description|summary)\s*:\s*",
        rf"(?:in|throughout|within|at the (?:start|beginning) of)\s+(?:this|the)\s+{_SIZE}{_MEDIA}(?:\s+clip)?"
        r"\s*,?\s*(?:(?:we|you)\s+(?:can\s+)?see|there\s+(?:is|are)\b)?\s*",
        rf"(?:the|this)\s+{_SIZE}{_MEDIA}(?:\s+clip)?\s+(?:shows|showcases|depicts|captures|features|presents|"
        r"displays|portrays|illustrates|highlights|contains|is\s+showing|begins\s+with|opens\s+with|"
        r"starts\s+with)\b\s*(?:that\s+)?",
        rf"(?:the|this)\s+{_MEDIA}(?:\s+clip)?\s+is\s+(?:of|about)\s+",
        rf"(?:the|this)\s+{_MEDIA}(?:\s+clip)?\s+is\s+(?=an?\s)",
        r"(?:we|you)\s+(?:can\s+)?see\s+",
        r"(?:it|this)\s+(?:shows|depicts)\s+",
    )
]
_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_TAG = re.compile(r"<[^>\n]{1,200}>")
_MARKDOWN = re.compile(r"\*\*|__|`+|^#+\s*|^\s*[-*•]\s+", re.MULTILINE)
_WS = re.compile(r"\s+")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([,.;:!?])")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]?\s+")
_ENDS = (".", "!", "?", '."', ".'", '!"', '?"', ".)")
_DANGLING_WORDS = {
    "a", "an", "the", "and", "or", "but", "with", "of", "in", "on", "at", "to", "for", "from", "by", "as",
    "while", "which", "that", "who", "its", "their", "his", "her", "is", "are", "was", "were", "into", "onto",
}  # fmt: skip


def strip_openings(text: str) -> str:
    """Remove boilerplate at the start, repeatedly ("Sure! Here is a caption: The video shows ...")."""
    changed = True
    while changed and text:
        changed = False
        for pat in _OPENINGS:
            m = pat.match(text)
            if m and m.end() > 0:
                text = text[m.end() :].lstrip(" ,;:-")
                changed = True
    return text


def drop_fragment(text: str) -> str:
    """Drop an unfinished last sentence; a lone unfinished sentence loses its dangling tail words."""
    if not text or text.endswith(_ENDS):
        return text
    cut = max(text.rfind(". "), text.rfind("! "), text.rfind("? "))
    if cut >= 0:
        return text[: cut + 1]
    words = text.rstrip(" ,;:-").split(" ")
    while len(words) > 1 and words[-1].lower().strip(",;:") in _DANGLING_WORDS:
        words.pop()
    return " ".join(words).rstrip(" ,;:-") + "."


def dedupe_sentences(text: str) -> str:
    """A model that loops repeats sentences: keep the first of each."""
    seen: set[str] = set()
    out = []
    for s in _SENTENCE_END.split(text):
        k = s.strip().lower()
        if k and k not in seen:
            seen.add(k)
            out.append(s.strip())
    return " ".join(out)


def clean_caption(
    text: str | None,
    *,
    openings: bool = True,
    urls: bool = True,
    fragments: bool = True,
    dedupe: bool = True,
) -> str:
    """The caption without boilerplate, URLs, markup, repeats and dangling fragments ("" if nothing is left)."""
    if not text:
        return ""
    t = html.unescape(text)
    t = _TAG.sub(" ", t)
    if urls:
        t = _URL.sub(" ", t)
    t = _MARKDOWN.sub(" ", t)
    t = _WS.sub(" ", t).strip().strip("\"'“”‘’ ")
    t = _SPACE_BEFORE_PUNCT.sub(r"\1", t)
    t = re.sub(r"\(\s*\)|\[\s*\]", "", t)
    t = _WS.sub(" ", t).strip()
    if openings:
        t = strip_openings(t)
    t = t.lstrip(" ,.;:-")
    if dedupe:
        t = dedupe_sentences(t)
    if fragments:
        t = drop_fragment(t)
    if not any(c.isalnum() for c in t):
        return ""
    return t[0].upper() + t[1:] if t[0].islower() else t


class CleanConfig(StageConfig):
    """What to strip; what an empty result means."""

    openings: bool = Field(True, description='strip openings like "The video shows" or "In this video,"')
    urls: bool = Field(True, description="remove URLs")
    fragments: bool = Field(True, description="drop an unfinished last sentence")
    dedupe: bool = Field(True, description="drop repeated sentences")
    remove_empty: bool = Field(True, description="an empty result is a row error (else keep an empty caption)")
    min_words: int = Field(1, ge=0, description="fewer words than this counts as empty")


class CaptionCleaner(RowStage[CleanConfig]):
    """Clean captions in place: boilerplate openings, URLs, markup, repeats, dangling fragments."""

    name: ClassVar[str] = "caption.clean"
    requires: ClassVar[tuple[str, ...]] = ("id", "caption")
    columns: ClassVar[Columns] = {"caption": pa.string()}

    def process_row(self, row: dict[str, Any]) -> dict[str, Any]:
        cfg = self.config
        raw = row.get("caption")
        if raw is None:
            raise RowError("no_caption", "the row has no caption to clean")
        text = clean_caption(raw, openings=cfg.openings, urls=cfg.urls, fragments=cfg.fragments, dedupe=cfg.dedupe)
        if cfg.remove_empty and len(text.split()) < max(1, cfg.min_words):
            shown = " ".join(str(raw).split())[:80]
            raise RowError("empty", f"nothing usable is left of the caption after cleaning (was: {shown!r})")
        return {"caption": text}
