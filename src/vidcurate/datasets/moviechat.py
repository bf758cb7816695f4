"""MovieChat-1K: ``jsons/<n>.json``, one per movie, with ``global`` and ``breakpoint`` QAs.

A breakpoint's ``time`` is a FRAME INDEX: seconds = time / ``info.fps``. A breakpoint question is
about the movie up to that moment, so its row spans ``[0, time/fps]`` (``breakpoint_frame`` keeps
the index). Global questions are about the whole movie; the movie's ``caption`` becomes a caption
row. Every QA is kept, one row each.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from vidcurate.datasets.base import (
    Converter,
    NoOptions,
    RecordError,
    Row,
    error_row,
    number,
    obj,
    optional_int,
    optional_number,
    text,
)
from vidcurate.datasets.readers import load_json


class MovieChat(Converter[NoOptions]):
    name = "moviechat"
    description = "MovieChat-1K (jsons/<n>.json; global + breakpoint QAs, breakpoint time = frame index)"
    patterns = ("*.json",)

    def records(self, files: list[Path]) -> Iterator[tuple[str, Any]]:
        for f in files:
            doc = load_json(f, self.issues)
            if doc is not None:
                yield str(f), doc

    def rows(self, doc: dict[str, Any], where: str) -> Iterable[Row]:
        info = obj(obj(doc, "document")["info"], "'info'")
        video = text(info["video_path"], "info.video_path")
        fps = optional_number(info.get("fps"))
        n_frames = optional_int(info.get("num_frame"))
        common: Row = {"_media": video, "source_id": video}
        if fps:
            common["fps"] = fps
            if n_frames:
                common["num_frames"] = n_frames
                common["duration_s"] = n_frames / fps
        out: list[Row] = []
        if doc.get("caption"):
            out.append(self.guard({**common, "_id": (video, "caption")}, lambda: self.caption_row(doc["caption"])))
        for kind in ("global", "breakpoint"):
            items = doc.get(kind) or []
            if not isinstance(items, list):
                raise RecordError(f"'{kind}' must be a list")
            for i, q in enumerate(items):
                base = {**common, "_id": (video, kind, i), "question_id": f"{kind}_{i}", "question_type": kind}
                if not isinstance(q, dict):
                    out.append({**base, **error_row("bad_record", f"{kind}[{i}] is not an object")})
                    continue
                out.append(self.guard(base, self._qa, q, kind, fps))
        return out

    def _qa(self, q: dict[str, Any], kind: str, fps: float | None) -> Row:
        row = self.qa(q["question"], q["answer"])
        if kind == "breakpoint":
            frame = number(q["time"], "time")
            if not fps:
                raise RecordError("breakpoint time is a frame index but info.fps is missing")
            span, warn = self.span(0.0, frame / fps)
            row.update(span)
            row["_warn"] = warn
            row["breakpoint_frame"] = int(frame)
        return row
