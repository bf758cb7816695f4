"""Open-Sora training CSV: `path,text,num_frames,height,width,aspect_ratio,fps,resolution,...`.

Open-Sora's own tools (`tools/datasets/datautil.py`) define `aspect_ratio = height / width` and
`resolution = height * width`; our manifest's `aspect_ratio` is width / height, so it is
recomputed here from the displayed (rotation-applied) size, never copied. Open-Sora buckets on
these columns, so rows without probe facts are skipped with a reason (run `probe` first).
Paths are absolute unless `--media-root` is given. Open-Sora reads whole files: a span row
without `--materialize` gets `start_s,end_s` columns and `num_frames` counted over the span.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, Literal

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


class OpenSoraExporter(Exporter[ExportOptions]):
    """Open-Sora meta CSV with aspect_ratio as height/width."""

    name = "opensora"
    description = "Open-Sora CSV path,text,num_frames,height,width,aspect_ratio(h/w),fps,resolution"
    suffix: ClassVar[str | None] = ".csv"
    conversations: ClassVar[Literal["required", "if_present", "ignore"]] = "ignore"

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
        ]

    def write(self, samples: Iterator[Sample], log: SkipLog) -> list[Path]:
        assert self.out_file is not None
        with atomic_path(self.out_file) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(COLUMNS + EXTRA)
            for sample in samples:
                try:
                    w.writerow(self.csv_row(sample))
                except (KeyError, TypeError, ValueError) as e:
                    log.skip(sample.id, f"not probed: bad size/fps ({e})")
                    continue
                log.ok()
        return [self.out_file]
