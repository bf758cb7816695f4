"""Any LLaVA/ViLAMP-format training JSON: a list (or JSON lines) of ``{id, video|image, conversations, ...}``.

The layout LLaVA, LLaVA-NeXT, LLaVA-Video and ViLAMP train from, so files in it convert as what
they are (``source = llava``) instead of being passed off as one particular dataset. ``video`` /
``image`` is relative to the video root (a one-element list is accepted; several media in one
record are reported). ``<image>`` in the turns stands for the video in LLaVA-style data and
becomes the row's token. Every other key (``max_frame_num``, ``data_source``, ...) is kept: scalars
as columns of their own, lists and objects as JSON text (``key:json`` in ``keep_keys``), and
their names in ``keep_keys`` so `export llava` writes them back under the same keys.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, ClassVar

from vidcurate.core import schema
from vidcurate.datasets.base import Converter, NoOptions, RecordError, Row, text
from vidcurate.datasets.readers import iter_json_records

# Keys of a record that are the sample itself, not extras.
OWN_KEYS = frozenset({"id", "video", "image", "conversations"})
_KINDS = ((bool, "bool"), (int, "int"), (float, "float"), (str, "text"))


class Llava(Converter[NoOptions]):
    name = "llava"
    description = "any LLaVA/ViLAMP training JSON {id, video|image, conversations, ...}; extra keys kept"
    patterns: ClassVar[tuple[str, ...]] = ("*.json", "*.jsonl")
    # Keys a subclass turns into unified columns itself (not carried as extras).
    consumed: ClassVar[frozenset[str]] = frozenset()

    def records(self, files: list[Path]) -> Iterator[tuple[str, Any]]:
        self._kinds: dict[str, str] = {}
        for f in files:
            for where, rec in iter_json_records(f, self.issues):
                yield where, (f, rec)

    def rows(self, record: tuple[Path, Any], where: str) -> Iterable[Row]:
        f, rec = record
        if not isinstance(rec, dict):
            raise RecordError(f"record is {type(rec).__name__}, not an object")
        media, rel = self.media_of(rec)
        turns = rec.get("conversations")
        first = turns[0].get("value") if isinstance(turns, list) and turns and isinstance(turns[0], dict) else None
        base: Row = {
            "media": media,
            "_media": rel,
            "_id": self.id_parts(f, rec, rel, first),
            "source_id": str(rec.get("id") if rec.get("id") is not None else rel),
        }
        extras, warn = self.extras(rec)
        if warn:
            base["_warn"] = warn

        def build() -> Row:
            turns, query = self.conversation(rec["conversations"], media)
            return {"query": query, "conversations": turns, **self.fields(f, rec, turns, query)}

        return [{**self.guard(base, build), **extras}]

    def id_parts(self, f: Path, rec: dict[str, Any], rel: str, first: Any) -> tuple[Any, ...]:
        """What the row's stable id is made of (the record's id, media and first question)."""
        return (rec.get("id"), rel, first)

    def fields(self, f: Path, rec: dict[str, Any], turns: list[dict[str, str]], query: str) -> Row:
        """Unified columns a subclass derives from the record (LLaVA-Video-178K: task, caption, options)."""
        return {}

    @staticmethod
    def media_of(rec: dict[str, Any]) -> tuple[str, str]:
        """``(media, path)``: the record's one video or image."""
        found = [(m, rec[k]) for m, k in (("video", "video"), ("image", "image")) if rec.get(k) not in (None, "", [])]
        if not found:
            raise RecordError("no 'video' or 'image' (a text-only sample has no media row)")
        if len(found) > 1:
            raise RecordError("both 'video' and 'image'; a row holds one video or one image")
        media, value = found[0]
        if isinstance(value, list):
            if len(value) != 1:
                raise RecordError(f"{len(value)} {media}s in one record; a row holds exactly one")
            value = value[0]
        return media, text(value, media)

    def extras(self, rec: dict[str, Any]) -> tuple[Row, list[str]]:
        """The record's other keys as columns (``keep_keys`` lists them) and warnings for mixed types."""
        out: Row = {}
        keys: list[str] = []
        warn: list[str] = []
        for key, value in rec.items():
            if key in OWN_KEYS or key in self.consumed or value is None:
                continue
            kind = next((k for t, k in _KINDS if isinstance(value, t)), "json")
            if kind == "json":
                value = json.dumps(value, ensure_ascii=False)
            seen = self._kinds.setdefault(key, kind)
            if seen == "float" and kind == "int":
                value = float(value)
            elif seen != kind:
                warn.append(f"key {key!r} is {kind} here but {seen} in earlier records; value dropped")
                continue
            out[schema.passthrough_column(key)] = value
            keys.append(f"{key}:json" if kind == "json" else key)
        if keys:
            out["keep_keys"] = keys
        return out, warn
