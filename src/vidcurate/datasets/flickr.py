"""Flickr30k / Flickr5k image captions: Karpathy JSON, ``results.csv`` (``image_name| comment_number| comment``)
or the ``*.token`` file (``<image>#<n>\\t<caption>``). Images are ``<root>/<image name>``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from vidcurate.datasets.base import Row, text
from vidcurate.datasets.karpathy import KarpathyCaptions
from vidcurate.datasets.readers import bad_byte, iter_csv, not_utf8, read_text


class Flickr30k(KarpathyCaptions):
    name = "flickr30k"
    description = "Flickr30k image captions (Karpathy dataset_flickr30k.json, results.csv, or .token file)"
    patterns = ("dataset_flickr*.json", "results*.csv", "*.token", "*.txt")

    def other_records(self, f: Path) -> Iterator[tuple[str, Any]]:
        if f.suffix.lower() == ".csv":
            for where, rec in iter_csv(f, self.issues, ("image_name", "comment"), delimiter="|"):
                yield where, ("pair", (rec["image_name"], rec.get("comment_number"), rec["comment"]))
            return
        text = read_text(f, self.issues)
        for n, line in enumerate((text or "").splitlines(), start=1):
            if not line.strip():
                continue
            if (b := bad_byte(line)) is not None:
                self.issues.add(f"{f}:{n}", not_utf8(b, "line"))
                continue
            key, sep, caption = line.partition("\t")
            if not sep:
                self.issues.add(f"{f}:{n}", "expected '<image>#<n><TAB><caption>'; line skipped")
                continue
            image, _, num = key.partition("#")
            yield f"{f}:{n}", ("pair", (image, num or None, caption))

    def other_rows(self, rec: Any) -> list[Row]:
        image, num, caption = rec
        image = text(image, "image_name")
        base: Row = {"_media": image, "_id": (image, num, caption), "source_id": image}
        if num not in (None, ""):
            base["question_id"] = str(num).strip()
        return [self.guard(base, lambda: self.caption_row(caption))]


class Flickr5k(Flickr30k):
    name = "flickr5k"
    description = "Flickr5k image captions (same layouts as flickr30k)"
