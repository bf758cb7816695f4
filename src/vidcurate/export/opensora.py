"""Open-Sora training CSV: `path,text,num_frames,height,width,aspect_ratio,fps,resolution,...`.

Open-Sora's own tools (`tools/datasets/datautil.py`) define `aspect_ratio = height / width` and
`resolution = height * width`; our manifest's `aspect_ratio` is width / height, so it is
recomputed here from the displayed (rotation-applied) size, never copied. Open-Sora buckets on
these columns, so rows without probe facts are skipped with a reason (run `probe` first).
Paths are absolute unless `--media-root` is given. Open-Sora reads whole files: a span row
without `--materialize` gets `start_s,end_s` columns and `num_frames` counted over the span.
Score columns Open-Sora's tools filter on follow when the manifest has them (`--opt
scores=aes:aesthetic,match:clip_match` is the default mapping: CSV column from manifest column).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

from vidcurate.export.base import Exporter, Sample, SkipRow
from vidcurate.export.options import ExportOptions
from vidcurate.export.skiplog import SkipLog
from vidcurate.io.fs import atomic_path

COLUMNS = ["path", "text", "num_frames", "height", "width", "aspect_ratio", "fps", "resolution"]
EXTRA = ["start_s", "end_s", "duration_s", "id"]


def _num(v: Any) -> Any:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    return v


class OpenSoraOptions(ExportOptions):
    scores: dict[str, str] = Field(
        default_factory=lambda: {"aes": "aesthetic", "match": "clip_match"},
        description="CSV column -> manifest column, written when the manifest has it (aes:aesthetic,...)",
    )

    @field_validator("scores", mode="before")
    @classmethod
    def _pairs(cls, v: Any) -> Any:
        if isinstance(v, str):
            pairs = [p.split(":", 1) for p in v.split(",") if p.strip()]
            if any(len(p) != 2 for p in pairs):
                raise ValueError("scores: use csv_column:manifest_column pairs, e.g. aes:aesthetic,match:clip_match")
            return {a.strip(): b.strip() for a, b in pairs}
        return v


class OpenSoraExporter(Exporter[OpenSoraOptions]):
    """Open-Sora meta CSV with aspect_ratio as height/width."""

    name = "opensora"
    description = "Open-Sora CSV path,text,num_frames,height,width,aspect_ratio(h/w),fps,resolution,aes,match"
    suffix: ClassVar[str | None] = ".csv"
    conversations: ClassVar[Literal["required", "if_present", "ignore"]] = "ignore"
    Options = OpenSoraOptions

    @property
    def score_columns(self) -> list[tuple[str, str]]:
        have = set(self.source_schema.names) if self.source_schema is not None else set()
        return [(csv_col, col) for csv_col, col in self.cfg.scores.items() if col in have]

    def check(self, sample: Sample) -> None:
        row = sample.row
        if not (row.get("caption") or row.get("text")):
            raise SkipRow("no caption: Open-Sora needs a text for each row")
        if sample.media == "image":
            missing = [k for k in ("width", "height") if not row.get(k)]
        else:
            missing = [k for k in ("num_frames", "width", "height", "fps") if not row.get(k)]
        if missing and not (self.cfg.materialize and sample.has_span):  # a cut clip is probed afresh
            raise SkipRow(f"not probed: no {', '.join(missing)} (run the probe stage first)")

    def csv_row(self, sample: Sample) -> list[Any]:
        row = sample.row
        w, h = int(row["width"]), int(row["height"])
        if sample.media == "image":
            num_frames, fps = 1, None
        else:
            fps = float(row["fps"])
            num_frames = int(row["num_frames"])
            if sample.has_span:
                start = sample.start_s or 0.0
                end = sample.end_s if sample.end_s is not None else row.get("duration_s")
                if end is not None:
                    num_frames = max(1, round((float(end) - start) * fps))
        text = row.get("caption") or row.get("text")
        duration = row.get("duration_s")
        span = [sample.start_s, sample.end_s] if sample.has_span else [None, None]
        return [
            sample.rel,
            text,
            num_frames,
            h,
            w,
            h / w,
            _num(fps),
            h * w,
            *map(_num, span),
            _num(duration),
            sample.id,
            *(_num(row.get(col)) for _, col in self.score_columns),
        ]

    def write(self, samples: Iterator[Sample], log: SkipLog) -> list[Path]:
        assert self.out_file is not None
        with atomic_path(self.out_file) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(COLUMNS + EXTRA + [c for c, _ in self.score_columns])
            for sample in samples:
                try:
                    w.writerow(self.csv_row(sample))
                except (KeyError, TypeError, ValueError) as e:
                    log.skip(sample.id, f"not probed: bad size/fps ({e})")
                    continue
                log.ok()
        return [self.out_file]
