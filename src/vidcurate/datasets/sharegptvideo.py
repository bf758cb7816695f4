"""ShareGPTVideo: LLaVA-style jsonl whose ``video`` is a FRAME DIRECTORY, not an mp4.

Frame folders unpack from ``chunk_*.tar.gz`` under ``train_300k/`` or ``train_600k/``; the folder is
looked for directly under the root and under those two (``--opt subdirs=...`` changes the list).
Rows have ``media = frames``. Caption files (``*caption*``) also fill ``caption``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from vidcurate.datasets.base import Converter, RecordError, Row, text
from vidcurate.datasets.readers import iter_json_records


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid")
    subdirs: list[str] = Field(
        default_factory=lambda: ["", "train_300k", "train_600k"],
        description="folders under the root searched for each frame folder, in order (comma list)",
    )

    @field_validator("subdirs", mode="before")
    @classmethod
    def _split(cls, v: Any) -> Any:
        return [x.strip() for x in v.split(",")] if isinstance(v, str) else v


class ShareGPTVideo(Converter[Options]):
    name = "sharegptvideo"
    description = "ShareGPTVideo instructions/captions (jsonl; video = a folder of frames)"
    media = "frames"
    patterns = ("*.jsonl", "*.json")

    def records(self, files: list[Path]) -> Iterator[tuple[str, Any]]:
        for f in files:
            self._captions = "caption" in f.name.lower()
            for where, rec in iter_json_records(f, self.issues):
                yield where, (self._captions, rec)

    def rows(self, record: tuple[bool, Any], where: str) -> Iterable[Row]:
        is_caption, rec = record
        if not isinstance(rec, dict):
            raise RecordError(f"record is {type(rec).__name__}, not an object")
        video = text(rec["video"], "video")
        base: Row = {"_media": self._find(video), "_id": (rec.get("id"), video), "source_id": video}

        def build() -> Row:
            turns, query = self.conversation(rec["conversations"])
            row: Row = {"query": query, "conversations": turns}
            if rec.get("id") is not None:
                row["question_id"] = str(rec["id"])
            if len(turns) == 2:
                row["caption" if is_caption else "answer"] = turns[1]["value"]
            return row

        return [self.guard(base, build)]

    def _find(self, video: str) -> str:
        """The first of <sub>/<video> that exists under the root (the first candidate if none does)."""
        cands = [f"{s.strip('/')}/{video}" if s.strip("/") else video for s in self.opts.subdirs] or [video]
        root = self.settings.video_root
        if root is not None and ".." not in video.replace("\\", "/").split("/"):
            for c in cands:
                if os.path.isdir(os.path.join(root, c)):
                    return c
        return cands[0]
