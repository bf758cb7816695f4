"""Caltech-101: the ``101_ObjectCategories/<class>/image_XXXX.jpg`` folder is both annotation and media.

One classification row per image: an instruction from the ``image_class`` pool, the class name
(underscores as spaces) as the answer, ``label`` the folder name. ``--annotations`` is the category
folder (or its parent); the rows point into it whatever ``--video-root`` says.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from vidcurate.core.errors import ConfigError
from vidcurate.datasets.base import Converter, NoOptions, Row
from vidcurate.io.ingest import IMAGE_EXTS

CATEGORY_DIR = "101_ObjectCategories"


class Caltech101(Converter[NoOptions]):
    name = "caltech101"
    description = "Caltech-101 image classification (the 101_ObjectCategories/<class>/ folder tree)"
    media = "image"
    needs_root = False

    def files(self, paths: Sequence[Path]) -> list[Path]:
        out = []
        for p in paths:
            if not p.is_dir():
                raise ConfigError(f"{self.name}: --annotations must be the {CATEGORY_DIR} folder, not {p}")
            out.append(p / CATEGORY_DIR if (p / CATEGORY_DIR).is_dir() else p)
        return out

    def records(self, files: list[Path]) -> Iterator[tuple[str, Any]]:
        for root in files:
            try:
                classes = sorted(e.name for e in os.scandir(root) if e.is_dir())
            except OSError as e:
                self.issues.add(str(root), f"cannot list ({e.strerror or e}); skipped")
                continue
            for cls in classes:
                try:
                    names = sorted(os.listdir(root / cls))
                except OSError as e:
                    self.issues.add(str(root / cls), f"cannot list ({e.strerror or e}); skipped")
                    continue
                for name in names:
                    if os.path.splitext(name)[1].lower() in IMAGE_EXTS:
                        yield str(root / cls / name), (root, cls, name)

    def rows(self, record: tuple[Path, str, str], where: str) -> Iterable[Row]:
        root, cls, name = record
        label = cls.replace("_", " ")
        return [
            {
                "_media": f"{cls}/{name}",
                "_root": root,
                "_id": (cls, name),
                "_prompt": "image_class",
                "source_id": f"{cls}/{name}",
                "answer": label,
                "label": cls,
            }
        ]
