"""DiDeMo: moment descriptions with 0-based, inclusive 5-second chunk indices from several annotators.

``times`` holds one ``[s, e]`` per annotator; chunk ``[s, e]`` covers ``5*s .. min(5*(e+1), duration)``
seconds. One row per distinct annotated span (annotators agreeing on it are counted in
``annotators``), the description as the caption. The video keeps its original name and extension
and the download script appends ``.mp4`` (``x.mov`` -> ``x.mov.mp4``). Without a probe the duration
is bounded by ``5 * num_segments``; ``--check-videos`` clamps the last chunk to the real duration.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from vidcurate.datasets.base import Converter, RecordError, Row, obj, optional_int, text
from vidcurate.datasets.readers import iter_json_records

CHUNK_S = 5.0


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid")
    append_mp4: bool = Field(True, description="video file = <video>.mp4 (the download script's naming)")


class DiDeMo(Converter[Options]):
    name = "didemo"
    description = "DiDeMo moment descriptions ({train,val,test}_data.json; 5 s chunks, several annotators)"
    patterns = ("*_data.json",)

    def records(self, files: list[Path]) -> Iterator[tuple[str, Any]]:
        for f in files:
            yield from iter_json_records(f, self.issues)

    def rows(self, rec: dict[str, Any], where: str) -> Iterable[Row]:
        rec = obj(rec)
        video = text(rec["video"], "video")
        ann = rec["annotation_id"]
        if isinstance(ann, bool) or not isinstance(ann, (int, str)):
            raise RecordError(f"'annotation_id' is {type(ann).__name__}")
        n_seg = optional_int(rec.get("num_segments"))
        limit = CHUNK_S * n_seg if n_seg else None
        times = rec["times"]
        if not isinstance(times, list) or not times:
            raise RecordError("'times' must be a non-empty list of [start, end] chunk pairs")
        spans: Counter[tuple[int, int]] = Counter()
        warns: dict[tuple[int, int], list[str]] = {}
        for t in times:
            if (
                not isinstance(t, (list, tuple))
                or len(t) != 2
                or not all(isinstance(x, int) and not isinstance(x, bool) for x in t)
            ):
                raise RecordError(f"time {t!r} is not a pair of chunk indices")
            s, e = t
            warn = []
            if s > e:
                warn.append(f"chunks [{s}, {e}] reversed: swapped")
                s, e = e, s
            if s < 0 or (n_seg and s >= n_seg):
                raise RecordError(f"chunk [{s}, {e}] outside 0..{(n_seg or 1) - 1}")
            if n_seg and e >= n_seg:
                warn.append(f"chunk end {e} >= num_segments {n_seg}: clamped")
                e = n_seg - 1
            spans[(s, e)] += 1
            warns.setdefault((s, e), []).extend(w for w in warn if w not in warns.get((s, e), ()))
        media = f"{video}.mp4" if self.opts.append_mp4 else video
        out = []
        for (s, e), count in spans.items():
            end = CHUNK_S * (e + 1)
            row: Row = {
                "_media": media,
                "_id": (ann, s, e),
                "_quiet_clamp": True,
                "_warn": warns[(s, e)],
                "source_id": video,
                "question_id": str(ann),
                "start_s": CHUNK_S * s,
                "end_s": end if limit is None else min(end, limit),
                "annotators": count,
            }
            row.update(self.caption_row(rec["description"]))
            out.append(row)
        return out
