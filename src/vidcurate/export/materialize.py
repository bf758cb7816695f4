"""`--materialize`: spans become clip files, cut by `io.clip.cut_clip` (the `cut` stage's own writer).

The clip replaces the span in the exported row: `path` is the clip, `start_s`/`end_s` are gone,
`clip_of`, `clip_start_s`, `clip_end_s` say which span of which file was asked for, and
`source_start_s`/`source_end_s` (as the `cut` stage writes them) the span the clip really holds,
with the clip's own probe facts.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from vidcurate.core.errors import RowError, VidcurateError
from vidcurate.export.base import Exporter, Sample, SkipRow
from vidcurate.io.clip import cut_clip


class ClipMaterializer:
    """Cuts span rows into `<clips_dir>/<key>.mp4` and points the sample at the clip."""

    def __init__(self, exporter: Exporter[Any]) -> None:
        cfg = exporter.cfg
        self.dir = Path(os.path.abspath(cfg.clips_dir or exporter.out_dir / "clips"))
        self.clip_options = cfg.cut
        self.exporter = exporter

    def __call__(self, sample: Sample) -> Sample:
        if not sample.has_span:
            return sample
        self.dir.mkdir(parents=True, exist_ok=True)
        dest = self.dir / f"{sample.key}.mp4"
        start = sample.start_s or 0.0
        end = sample.end_s
        if end is None:
            end = sample.row.get("duration_s")
        if end is None:
            raise SkipRow("cannot materialize: span has no end_s and the row no duration_s")
        try:
            info = cut_clip(
                sample.src,
                float(start),
                float(end),
                dest,
                self.clip_options,
                start_frame=sample.row.get("start_frame"),
                end_frame=sample.row.get("end_frame"),
            )
        except (RowError, VidcurateError, OSError) as e:
            raise SkipRow(f"cut failed: {e}") from None
        row = dict(sample.row)
        row.update({k: v for k, v in info.items() if k not in ("id", "path", "error", "error_kind")})
        row.update(
            {
                "path": str(dest),
                "start_s": None,
                "end_s": None,
                "start_frame": None,
                "end_frame": None,
                "clip_of": str(sample.src),
                "clip_start_s": float(start),
                "clip_end_s": float(end),
            }
        )
        out = Sample(
            id=sample.id,
            src=dest,
            media="video",
            rel="",
            row=row,
            turns=sample.turns,
            system=sample.system,
            extra_media=sample.extra_media,
        )
        out.key = sample.key
        out.rel = self.exporter.rel_path(dest)
        return out
