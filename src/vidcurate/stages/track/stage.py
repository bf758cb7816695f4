"""The `track` stage: moving-object tracks of each clip (`detect`, `associate`), with reference crops.

Works without model weights on a static or slowly moving camera (the camera's motion is removed
before the background is modelled). A thing that stays put for most of the clip is background, and
two objects that touch are one blob while they touch: for crowded scenes or labels, import tracks
from a detector and tracker (`tracks.import`). Each track's clearest largest appearance is cropped
to `<run>/crops/<row id>-<track id>.jpg` (the reference image of that object).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from vidcurate.core.frames import FrameSpec
from vidcurate.core.stage import Columns, RowStage, StageConfig
from vidcurate.io.decode import sample
from vidcurate.io.fs import atomic_path
from vidcurate.io.images import encode_jpeg
from vidcurate.stages.cut import clip_name
from vidcurate.stages.score.runner import capped, row_span
from vidcurate.stages.track.associate import associate, describe
from vidcurate.stages.track.detect import detect
from vidcurate.stages.track.schema import COLUMNS, summary


class TrackConfig(StageConfig):
    fps: float = Field(5.0, gt=0, le=30, description="frames per second analysed")
    max_side: int = Field(480, ge=64, description="longer side of the analysed frames")
    max_frames: int = Field(300, ge=8, description="at most this many frames per clip (long clips get a lower rate)")
    threshold: float = Field(30.0, gt=0, description="colour difference (0..255) from the background that is motion")
    min_area: float = Field(0.002, gt=0, lt=1, description="smallest object, as a share of the frame")
    min_track_s: float = Field(0.6, ge=0, description="shorter tracks are noise")
    max_gap: int = Field(2, ge=0, description="sampled frames a track may go undetected")
    crops: bool = Field(True, description="write a reference crop per track under the run folder")
    crops_dir: str | None = Field(None, description="where crops go outside a run (default: <run>/crops)")


class Tracker(RowStage[TrackConfig]):
    """Moving objects of each clip: entry/exit, velocity, direction, approach, reference crops."""

    name: ClassVar[str] = "track"
    columns: ClassVar[Columns] = COLUMNS

    def process_row(self, row: dict[str, Any]) -> dict[str, Any]:
        cfg = self.config
        start, end, length = row_span(row)
        spec = capped(FrameSpec(fps=cfg.fps, max_side=cfg.max_side), length, cfg.max_frames)
        frames = sample(row["path"], {"t": spec}, start_s=start, end_s=end, duration_s=row.get("duration_s"))["t"]
        if len(frames) < 3:
            return {"tracks": [], **summary([])}
        data = list(frames.data)
        h, w = data[0].shape[:2]
        times = [float(t) - (start or 0.0) for t in frames.times_s]
        per_frame, _ = detect(data, threshold=cfg.threshold, min_area=cfg.min_area)
        raw = associate(per_frame, times, float(np.hypot(w, h)), max_gap=cfg.max_gap)
        clip = (times[0], times[-1])
        tracks: list[dict[str, Any]] = []
        for t in raw:
            if len(t.dets) < 3 or t.times[-1] - t.times[0] < cfg.min_track_s:
                continue
            d = describe(t, w, h, clip)
            best = d.pop("_best")
            d.update(id=len(tracks), label=None, positions_3d=None)
            d["crop"] = self._crop(row, d["id"], data[best.frame], best.box) if cfg.crops else None
            tracks.append(d)
        return {"tracks": tracks, **summary(tracks)}

    def _crop(self, row: dict[str, Any], tid: int, frame: np.ndarray, box: tuple[float, ...]) -> str | None:
        if self.config.crops_dir is not None:
            folder = Path(self.config.crops_dir).expanduser()
            folder.mkdir(parents=True, exist_ok=True)
        elif self.context.in_run:
            folder = self.context.output_dir("crops")
        else:
            return None
        h, w = frame.shape[:2]
        x0, y0, x1, y1 = box
        px, py = 0.1 * (x1 - x0), 0.1 * (y1 - y0)
        x0, y0 = int(max(0, x0 - px)), int(max(0, y0 - py))
        x1, y1 = int(min(w, x1 + px)), int(min(h, y1 + py))
        if x1 - x0 < 2 or y1 - y0 < 2:
            return None
        dest = folder / f"{clip_name(str(row['id']))}-{tid}.jpg"
        with atomic_path(dest) as tmp:
            tmp.write_bytes(encode_jpeg(np.ascontiguousarray(frame[y0:y1, x0:x1]), 90))
        self.context.record(dest)
        return str(dest)
