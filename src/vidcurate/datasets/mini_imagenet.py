"""mini-ImageNet (Ravi & Larochelle split): ``train.csv``/``val.csv``/``test.csv`` with ``filename,label``.

Images are ``images/<filename>`` (``--video-root`` is that ``images`` folder; default: ``images/``
beside the CSV). Labels are WordNet ids (``n01532829``); pass ``--opt names=FILE`` (``LOC_synset_mapping.txt``
lines ``n01440764 tench, Tinca tinca`` or a JSON ``{wnid: name}``) to answer with class names.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from vidcurate.core.errors import ConfigError
from vidcurate.datasets.base import Converter, Row, text
from vidcurate.datasets.readers import iter_csv


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid")
    names: Path | None = Field(None, description="wnid -> class name file (synset mapping .txt or JSON)")


def load_names(path: Path) -> dict[str, str]:
    try:
        raw = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        why = getattr(e, "strerror", None) or e
        raise ConfigError(f"mini-imagenet: names file {path}: cannot read ({why})") from None
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as e:
            raise ConfigError(f"mini-imagenet: names file {path}: line {e.lineno}: not valid JSON") from None
        if not isinstance(data, dict):
            raise ConfigError(f"mini-imagenet: names file {path}: expected an object {{wnid: name}}")
        return {str(k): str(v) for k, v in data.items()}
    out = {}
    for line in raw.splitlines():
        wnid, _, name = line.strip().partition(" ")
        if wnid and name:
            out[wnid] = name.split(",")[0].strip()
    return out


class MiniImageNet(Converter[Options]):
    name = "mini-imagenet"
    description = "mini-ImageNet classification (train/val/test.csv filename,label; images/ folder)"
    media = "image"
    patterns = ("*.csv",)
    needs_root = False

    def records(self, files: list[Path]) -> Iterator[tuple[str, Any]]:
        self.names = load_names(self.opts.names) if self.opts.names else None
        if self.names is None:
            self.issues.add("", "no --opt names=FILE: answers are WordNet ids")
        for f in files:
            root = self.settings.video_root or (f.parent / "images" if (f.parent / "images").is_dir() else f.parent)
            for where, rec in iter_csv(f, self.issues, ("filename", "label")):
                yield where, (root, f.stem, rec)

    def rows(self, record: tuple[Path, str, dict[str, str]], where: str) -> Iterable[Row]:
        root, split, rec = record
        name, wnid = text(rec["filename"], "filename"), text(rec["label"], "label")
        answer = self.names.get(wnid, wnid) if self.names else wnid
        return [
            {
                "_media": name,
                "_root": root,
                "_id": (name,),
                "_prompt": "image_class",
                "source_id": name,
                "answer": answer,
                "label": wnid,
                "split": split,
            }
        ]
