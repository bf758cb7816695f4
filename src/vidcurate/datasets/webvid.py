"""WebVid captions: the 2M/10M CSVs (columns read by name) and the ``<id>.json`` + ``<id>.mp4`` tar layout.

The 10M CSV order is ``videoid,name,page_idx,page_dir,duration,contentUrl``, the 2M one
``videoid,contentUrl,duration,page_dir,name``; both are read by column name. ``duration`` is ISO-8601
(``PT00H00M17S``). Videos live at ``<page_dir>/<videoid>.mp4`` (the frozen-in-time layout) or
``<videoid>.mp4``; tars (webvid10m on the Hub) hold ``<key>.mp4`` + ``<key>.json`` with ``text``.
"""

from __future__ import annotations

import json
import os
import tarfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from vidcurate.core.errors import ConfigError, RowError
from vidcurate.datasets.base import Converter, RecordError, Row, error_row, optional_int, optional_number, text
from vidcurate.datasets.paths import safe_name
from vidcurate.datasets.readers import iter_csv, load_json
from vidcurate.datasets.timeparse import iso_duration_s
from vidcurate.io.fs import write_once


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid")
    layout: Literal["auto", "page_dir", "flat"] = Field(
        "auto", description="page_dir: <page_dir>/<id>.mp4; flat: <id>.mp4; auto: whichever exists (page_dir if none)"
    )
    extract: bool = Field(False, description="tars: write each <key>.mp4 into --video-root (never overwrites)")


class WebVid(Converter[Options]):
    name = "webvid"
    description = "WebVid-2M/10M captions (results_*.csv read by column name, or <id>.json/.mp4 tars)"
    patterns = ("*.csv", "*.tar", "*.json")

    def records(self, files: list[Path]) -> Iterator[tuple[str, Any]]:
        for f in files:
            suffix = f.suffix.lower()
            if suffix == ".csv":
                for where, rec in iter_csv(f, self.issues, ("videoid", "name")):
                    yield where, ("csv", rec)
            elif suffix == ".tar":
                yield from self._tar(f)
            elif suffix == ".json":
                data = load_json(f, self.issues)
                if data is not None:
                    yield str(f), ("json", (f.stem, data))
            else:
                self.issues.add(str(f), "not a WebVid file (.csv, .tar or <id>.json); skipped")

    def _tar(self, path: Path) -> Iterator[tuple[str, Any]]:
        try:
            with tarfile.open(path) as tf:
                for m in tf:
                    if not m.isfile():
                        continue
                    where = f"{path}!{m.name}"
                    key, ext = os.path.splitext(os.path.basename(m.name))
                    if ext == ".mp4" and self.opts.extract:
                        self._extract(tf, m, where)
                    elif ext == ".json":
                        raw = tf.extractfile(m)
                        try:
                            data = json.loads(raw.read() if raw else b"")
                        except (json.JSONDecodeError, UnicodeDecodeError) as e:
                            self.issues.add(where, f"not valid JSON ({e}); skipped")
                            continue
                        yield where, ("json", (key, data))
        except (OSError, tarfile.TarError) as e:
            self.issues.add(str(path), f"not a readable tar, or cut short ({e}); rest skipped")

    def _extract(self, tf: tarfile.TarFile, m: tarfile.TarInfo, where: str) -> None:
        root = self.settings.video_root
        if root is None:  # needs_root makes the driver refuse to start without one
            raise ConfigError(f"{self.name}: give --video-root, the folder the videos are extracted into")
        src = tf.extractfile(m)
        if src is None:
            return
        try:
            write_once(root / safe_name(m.name), src)
        except RowError as e:
            self.issues.add(where, e.message)

    def rows(self, record: tuple[str, Any], where: str) -> Iterable[Row]:
        kind, rec = record
        if kind == "json":
            key, data = rec
            if not isinstance(data, dict):
                raise RecordError(f"expected an object, got {type(data).__name__}")
            caption = data.get("text", data.get("caption", data.get("name")))
            if caption is None:
                raise RecordError("no 'text' caption")
            vid = str(data.get("videoid", key))
            row: Row = {
                "_media": f"{safe_name(key)}.mp4",
                "_id": (vid,),
                "source_id": vid,
                "duration_s": optional_number(data.get("duration")),
                "fps": optional_number(data.get("fps")),
                "num_frames": optional_int(data.get("num_frames")),
                "width": optional_int(data.get("width")),
                "height": optional_int(data.get("height")),
            }
            return [{**row, **self.caption_row(caption)}]
        vid = text(rec["videoid"], "videoid")
        row = {"_id": (vid,), "source_id": vid, "_media": self._media(vid, rec.get("page_dir") or None)}
        if rec.get("contentUrl"):
            row["url"] = rec["contentUrl"]
        if rec.get("duration"):
            try:
                row["duration_s"] = iso_duration_s(rec["duration"])
            except ValueError as e:
                return [{**row, **error_row("bad_record", f"duration: {e}")}]
        return [{**row, **self.caption_row(rec["name"])}]

    def _media(self, vid: str, page_dir: str | None) -> str:
        flat = f"{vid}.mp4"
        nested = f"{page_dir}/{vid}.mp4" if page_dir else None
        layout = self.opts.layout
        if layout == "flat" or nested is None:
            return flat
        if layout == "page_dir":
            return nested
        root = self.settings.video_root
        if root is not None and page_dir and not (root / page_dir / flat).exists() and (root / flat).exists():
            return flat
        return nested
