"""Vript: per-video ``<vid>_caption.json`` (often inside ``vript_*_captions.zip``) or the per-clip jsonl.

A clip's caption is ``caption.content`` (``caption`` is an object with ``shot_type``,
``camera_movement``, ``content``, ``scene_title``); clips are ``<vid>/<clip_id>.mp4`` as the clip
zips unpack.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from vidcurate.datasets.base import Converter, RecordError, Row, ext_field, text
from vidcurate.datasets.readers import iter_json_records, load_json, zip_members


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ext: str = ext_field("clip file extension (<vid>/<clip_id>.<ext>)")


class Vript(Converter[Options]):
    name = "vript"
    description = "Vript clip captions (*_caption.json, captions zip, or per-clip jsonl; caption.content)"
    patterns = ("*_caption.json", "*.zip", "*.jsonl")

    def records(self, files: list[Path]) -> Iterator[tuple[str, Any]]:
        for f in files:
            suffix = f.suffix.lower()
            if suffix == ".zip":
                for where, _name, data in zip_members(f, self.issues, "_caption.json"):
                    doc = load_json(Path(where), self.issues, text=data.decode("utf-8-sig", "surrogateescape"))
                    if doc is not None:
                        yield from self._video(doc, where)
            elif suffix == ".jsonl":
                for where, rec in iter_json_records(f, self.issues):
                    yield where, rec
            else:
                doc = load_json(f, self.issues)
                if doc is not None:
                    yield from self._video(doc, str(f))

    def _video(self, doc: Any, where: str) -> Iterator[tuple[str, Any]]:
        """Clip records of one ``<vid>_caption.json`` (``meta`` + ``data`` keyed by clip id)."""
        if not isinstance(doc, dict) or not isinstance(doc.get("data"), dict):
            self.issues.add(where, "expected {'meta': ..., 'data': {clip_id: ...}}; skipped")
            return
        meta = doc.get("meta") if isinstance(doc.get("meta"), dict) else {}
        for clip_id, clip in doc["data"].items():
            if isinstance(clip, dict):
                clip = {"clip_id": clip_id, **clip}
                clip.setdefault("meta", meta)
            yield f"{where} [{clip_id}]", clip

    def rows(self, rec: dict[str, Any], where: str) -> Iterable[Row]:
        if not isinstance(rec, dict):
            raise RecordError(f"clip record is {type(rec).__name__}, not an object")
        raw_meta = rec.get("meta")
        meta: dict[str, Any] = raw_meta if isinstance(raw_meta, dict) else {}
        vid = text(rec.get("video_id") or meta.get("video_id"), "video_id")
        clip = text(rec["clip_id"], "clip_id")
        base: Row = {"_media": self.video_file(f"{vid}/{clip}"), "_id": (vid, clip), "source_id": vid, "clip_id": clip}

        def build() -> Row:
            cap = rec["caption"]
            if isinstance(cap, str):  # some dumps store the caption object as a JSON string
                try:
                    cap = json.loads(cap)
                except json.JSONDecodeError:
                    cap = {"content": cap}
            if not isinstance(cap, dict) or "content" not in cap:
                raise RecordError("caption has no 'content'")
            row: Row = self.caption_row(cap["content"])
            for k in ("shot_type", "camera_movement", "scene_title"):
                if isinstance(cap.get(k), str):
                    row[k] = cap[k]
            return row

        return [self.guard(base, build)]
