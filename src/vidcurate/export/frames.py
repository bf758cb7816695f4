"""A folder of JPEG frames per video (`<out>/<key>/000001.jpg ...`) plus `<out>/<name>.jsonl`.

The layout CLIP-style retrieval finetuning reads (one frame folder per video, captions in an
index). Frames are taken at `--fps` or as `--num-frames` spread over the row's span, with the
decode-once sampler (`vidcurate.io.decode.sample`): one decode per video, and for long spans at
a given fps a few consecutive windows (each decoded once) so memory stays bounded. Videos run
in parallel on a bounded thread pool; each folder is written under a temp name and renamed, and
the index lists, per row, the folder, the frame count and each frame's time in seconds.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from vidcurate.core.frames import DecodeStats, FrameSpec
from vidcurate.export.base import Exporter, Sample, SkipRow, export_row
from vidcurate.export.driver import bounded_map
from vidcurate.export.options import ExportOptions
from vidcurate.export.skiplog import SkipLog
from vidcurate.io.decode import sample as sample_frames
from vidcurate.io.fs import atomic_path
from vidcurate.io.images import encode_jpeg

_WINDOW_BYTES = 256 * 1024 * 1024  # decoded frames held per worker at most (about)
_MAX_WINDOW = 1024


class FramesOptions(ExportOptions):
    """Which frames of each video, at what size."""

    fps: float | None = Field(None, gt=0, description="frames per second of each span")
    num_frames: int | None = Field(None, ge=1, description="N frames spread over each span")
    max_side: int | None = Field(None, ge=2, description="bound the longer side in pixels (never upscales)")
    jpeg_quality: int = Field(90, ge=1, le=100)

    @model_validator(mode="after")
    def _one_rate(self) -> FramesOptions:
        if (self.fps is None) == (self.num_frames is None):
            both = self.fps is not None
            raise ValueError("give --fps or --num-frames, not both" if both else "give --fps or --num-frames")
        return self


class FramesExporter(Exporter[FramesOptions]):
    """JPEG frames per video at --fps or --num-frames, in parallel."""

    name = "frames"
    description = "a folder of JPEG frames per video at --fps or --num-frames (parallel) + <name>.jsonl index"
    conversations: ClassVar[Literal["required", "if_present", "ignore"]] = "ignore"
    spans_as_metadata: ClassVar[bool] = False  # frames are sampled inside the span
    Options = FramesOptions

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cfg = self.cfg
        self.spec = FrameSpec(fps=cfg.fps, num=cfg.num_frames, max_side=cfg.max_side)
        self.index = self.out_dir / f"{self.dataset_name}.jsonl"

    @property
    def needs_media_file(self) -> bool:
        return True

    def outputs(self) -> list[Path]:
        return [self.index]

    def check(self, sample: Sample) -> None:
        if sample.media != "video":
            raise SkipRow(f"not a video: frames exports videos ({sample.src.name} is {sample.media})")

    # --- one video --------------------------------------------------------------------------

    def _windows(self, sample: Sample) -> Iterator[tuple[float | None, float | None]]:
        """Spans to decode: the whole span, or consecutive fps-aligned windows for a long one."""
        start = sample.start_s or 0.0
        end = sample.end_s if sample.end_s is not None else sample.row.get("duration_s")
        if self.cfg.fps is None:
            yield sample.start_s, sample.end_s
            return
        w, h = sample.row.get("width") or 1920, sample.row.get("height") or 1080
        if self.cfg.max_side:
            s = min(1.0, self.cfg.max_side / max(w, h))
            w, h = w * s, h * s
        per_window = int(max(8, min(_MAX_WINDOW, _WINDOW_BYTES // max(1, int(w * h * 3)))))
        step = per_window / self.cfg.fps
        if end is not None and (float(end) - start) <= step:
            yield sample.start_s, sample.end_s
            return
        k = 0
        while end is None or start + k * step < float(end) - 1e-9:  # unknown end: until a window is empty
            b = start + (k + 1) * step
            yield start + k * step, (b if end is None else min(float(end), b))
            k += 1

    def _extract(self, sample: Sample) -> dict[str, Any]:
        dest = self.out_dir / sample.key
        if dest.exists() and not (dest.is_dir() and all(p.suffix == ".jpg" for p in dest.iterdir())):
            raise SkipRow(f"output exists: {dest} is not a frames folder from an earlier export")
        tmp = Path(tempfile.mkdtemp(prefix=f".{sample.key}.", suffix=".tmp", dir=self.out_dir))
        stats = DecodeStats()
        times: list[float] = []
        try:
            unbounded = sample.end_s is None and sample.row.get("duration_s") is None
            for a, b in self._windows(sample):
                got = sample_frames(
                    sample.src,
                    {"f": self.spec},
                    start_s=a,
                    end_s=b,
                    duration_s=sample.row.get("duration_s"),
                    stats=stats,
                )["f"]
                for img, t in zip(got.data, got.times_s, strict=True):
                    (tmp / f"{len(times) + 1:06d}.jpg").write_bytes(encode_jpeg(img, self.cfg.jpeg_quality))
                    times.append(round(float(t), 6))
                if unbounded and len(got) == 0:
                    break
            if not times:
                raise SkipRow(f"no frames: nothing decodable in the span of {sample.src.name}")
            if dest.exists():
                shutil.rmtree(dest)
            os.replace(tmp, dest)
        except SkipRow:
            raise
        except Exception as e:  # a decoder or encoder failure is this row's problem, not the export's
            raise SkipRow(f"frames failed: {type(e).__name__}: {e}") from None
        finally:
            with contextlib.suppress(FileNotFoundError):
                shutil.rmtree(tmp)
        rec = export_row(sample.row)
        rec.update(
            {
                "path": sample.rel,
                "frames_dir": sample.key,
                "frames": len(times),
                "times_s": times,
                "decode_errors": stats.errors,
            }
        )
        return rec

    # --- all videos -------------------------------------------------------------------------

    def write(self, samples: Iterator[Sample], log: SkipLog) -> list[Path]:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        with atomic_path(self.index) as tmp, open(tmp, "w", encoding="utf-8") as f:
            for sample, rec, error in bounded_map(self._extract, samples, self.cfg.workers, log.wanted):
                if error is not None:
                    log.skip(sample.id, str(error))
                    continue
                f.write(json.dumps(rec, ensure_ascii=False, default=str) + "\n")
                log.ok()
        return [self.index]
