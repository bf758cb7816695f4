"""OpenVid-1M: ``OpenVid-1M.csv`` with headers containing spaces; ``video`` already ends in ``.mp4``.

The extension is appended only when missing (never ``x.mp4.mp4``); scores and camera motion are kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from vidcurate.datasets.base import Converter, NoOptions, Row, optional_int, optional_number, text
from vidcurate.datasets.readers import iter_csv


class OpenVid(Converter[NoOptions]):
    name = "openvid"
    description = "OpenVid-1M captions (OpenVid-1M.csv; video names already end in .mp4)"
    patterns = ("*.csv",)

    def records(self, files: list[Path]) -> Iterator[tuple[str, Any]]:
        for f in files:
            yield from iter_csv(f, self.issues, ("video", "caption"))

    def rows(self, rec: dict[str, str], where: str) -> Iterable[Row]:
        video = text(rec["video"], "video")
        media = video if video.lower().endswith(".mp4") else f"{video}.mp4"
        base: Row = {"_media": media, "_id": (video,), "source_id": video}

        def build() -> Row:
            row: Row = {
                "duration_s": optional_number(rec.get("seconds")),
                "fps": optional_number(rec.get("fps")),
                "num_frames": optional_int(rec.get("frame")),
                "aesthetic": optional_number(rec.get("aesthetic score")),
                "motion_score": optional_number(rec.get("motion score")),
                "temporal_consistency": optional_number(rec.get("temporal consistency score")),
            }
            if rec.get("camera motion"):
                row["camera_motion_label"] = rec["camera motion"]  # OpenVid's own label, not our scorer's
            return {**row, **self.caption_row(rec["caption"])}

        return [self.guard(base, build)]
