"""Karpathy-split caption JSON (``dataset_coco.json``, ``dataset_flickr30k.json``...), shared by the image sets.

``{"images": [{"filepath"?, "filename", "split", "imgid", "cocoid"?, "sentences": [{"raw", "sentid"}]}]}``:
one row per sentence, the image at ``<root>/<filepath>/<filename>``; ``--split`` keeps the images of
those splits (``train,restval`` for Karpathy's full training set).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, ClassVar

from vidcurate.datasets.base import Converter, NoOptions, RecordError, Row, text
from vidcurate.datasets.readers import load_json


class KarpathyCaptions(Converter[NoOptions]):
    """Base for image caption sets in the Karpathy JSON layout."""

    media = "image"
    patterns: ClassVar[tuple[str, ...]] = ("dataset_*.json",)
    split_in_records = True

    def records(self, files: list[Path]) -> Iterator[tuple[str, Any]]:
        for f in files:
            yield from self.other_records(f) if f.suffix.lower() != ".json" else self._karpathy(f)

    def other_records(self, f: Path) -> Iterator[tuple[str, Any]]:
        self.issues.add(str(f), "not a Karpathy-split JSON file; skipped")
        return iter(())

    def _karpathy(self, f: Path) -> Iterator[tuple[str, Any]]:
        doc = load_json(f, self.issues)
        if doc is None:
            return
        if not isinstance(doc, dict) or not isinstance(doc.get("images"), list):
            self.issues.add(str(f), "expected a Karpathy JSON {'images': [...]}; skipped")
            return
        for i, img in enumerate(doc["images"]):
            if isinstance(img, dict) and not self.want_split(img.get("split")):
                continue
            yield f"{f} image {i}", ("karpathy", img)

    def rows(self, record: tuple[str, Any], where: str) -> Iterable[Row]:
        kind, img = record
        if kind != "karpathy":
            return self.other_rows(img)
        if not isinstance(img, dict):
            raise RecordError("image entry is not an object")
        name = text(img["filename"], "filename")
        rel = f"{img['filepath']}/{name}" if img.get("filepath") else name
        image_id = img.get("cocoid", img.get("imgid", name))
        sentences = img["sentences"]
        if not isinstance(sentences, list):
            raise RecordError("'sentences' must be a list")
        out = []
        for n, s in enumerate(sentences):
            sid = s.get("sentid", n) if isinstance(s, dict) else n
            base: Row = {"_media": rel, "_id": (image_id, sid), "source_id": str(image_id), "question_id": str(sid)}
            if img.get("split"):
                base["split"] = str(img["split"])
            out.append(self.guard(base, lambda s: self.caption_row(s["raw"] if "raw" in s else s["caption"]), s))
        return out

    def other_rows(self, rec: Any) -> list[Row]:
        raise NotImplementedError
