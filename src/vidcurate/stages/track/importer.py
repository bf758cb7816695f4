"""`tracks.import`: trajectories from stronger models (Grounded-SAM2, a 3D reconstruction) as `tracks`.

One JSON file per clip, named by a column (`path_column`, default `tracks_json`) or found in
`folder` as `<row id>.json` or `<video file stem>.json`:

    {
      "width": 1280, "height": 720,          # pixel size of the boxes (omit: boxes are 0..1)
      "fps": 25,                             # only when frames are given as "frame" numbers
      "objects": [
        {"id": 3, "label": "car", "color": "red",             # label and color are optional
         "frames": [{"t": 0.4, "box": [x0, y0, x1, y1],        # or "frame": 10 instead of "t"
                     "mask": "masks/3_0010.png",               # optional
                     "position_3d": [x, y, z]}, ...]}          # optional, metres
      ],
      "camera": [{"t": 0.4, "pose": [16 numbers, row-major 4x4 world-from-camera]}]   # optional
    }

Times are seconds from the clip's start. The same statistics as `track` derive from the boxes
(entry and exit sides, velocity, direction, approach); without camera poses the velocities are in
the frame, so a moving camera's motion is in them. A file that breaks the schema is a row error
naming the object and frame.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
from pydantic import BaseModel, Field, ValidationError, model_validator

from vidcurate.core.errors import RowError
from vidcurate.core.stage import Columns, RowStage, StageConfig
from vidcurate.stages.track.associate import Track, describe
from vidcurate.stages.track.detect import Detection
from vidcurate.stages.track.schema import COLUMNS, summary

GRID = 1000  # boxes are described on a 1000 x 1000 grid (normalised coordinates x 1000)


class FrameBox(BaseModel):
    t: float | None = None
    frame: int | None = None
    box: tuple[float, float, float, float]
    mask: str | None = None
    position_3d: tuple[float, float, float] | None = None

    @model_validator(mode="after")
    def _time(self) -> FrameBox:
        if (self.t is None) == (self.frame is None):
            raise ValueError("give t (seconds) or frame (a number), not both")
        if self.box[2] <= self.box[0] or self.box[3] <= self.box[1]:
            raise ValueError(f"box {list(self.box)} is empty (x1 <= x0 or y1 <= y0)")
        return self


class TrackedObject(BaseModel):
    id: int
    label: str | None = None
    color: str | None = None
    frames: list[FrameBox] = Field(min_length=1)


class CameraPose(BaseModel):
    t: float
    pose: list[float] = Field(min_length=16, max_length=16)


class TrackFile(BaseModel):
    width: float | None = Field(None, gt=0)
    height: float | None = Field(None, gt=0)
    fps: float | None = Field(None, gt=0)
    objects: list[TrackedObject]
    camera: list[CameraPose] = Field(default_factory=list)


class ImportConfig(StageConfig):
    path_column: str | None = Field("tracks_json", description="column holding each clip's JSON path")
    folder: str | None = Field(None, description="folder of <row id>.json or <video stem>.json files instead")


class TrackImporter(RowStage[ImportConfig]):
    """Tracks from a JSON file per clip (schema in the module docstring) -> `tracks` + summaries."""

    name: ClassVar[str] = "tracks.import"
    columns: ClassVar[Columns] = {**COLUMNS, "camera_poses": pa.list_(pa.list_(pa.float64()))}
    reads_media: ClassVar[bool] = False

    def required_columns(self) -> tuple[str, ...]:
        col = self.config.path_column if self.config.folder is None else None
        return ("id", "path", *((col,) if col else ()))

    def _file(self, row: dict[str, Any]) -> Path:
        if self.config.folder is not None:
            folder = Path(self.config.folder).expanduser()
            for name in (str(row["id"]), Path(str(row.get("path") or "")).stem):
                p = folder / f"{name}.json"
                if p.is_file():
                    return p
            raise RowError("no_tracks", f"no {row['id']}.json or {Path(str(row.get('path'))).stem}.json in {folder}")
        value = row.get(self.config.path_column or "")
        if not value:
            raise RowError("no_tracks", f"column {self.config.path_column} is empty")
        return Path(str(value)).expanduser()

    def process_row(self, row: dict[str, Any]) -> dict[str, Any]:
        path = self._file(row)
        try:
            doc = TrackFile.model_validate(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise RowError("bad_tracks", f"{path}: cannot read ({e})") from None
        except ValidationError as e:
            err = e.errors()[0]
            where = ".".join(str(x) for x in err["loc"])
            raise RowError("bad_tracks", f"{path}: {where}: {err['msg']}") from None
        sx = doc.width or 1.0
        sy = doc.height or 1.0
        start, end = row.get("start_s"), row.get("end_s")
        dur = (end - (start or 0.0)) if end is not None else row.get("duration_s")
        tracks = []
        for obj in doc.objects:
            frames = sorted(obj.frames, key=lambda f: f.t if f.t is not None else (f.frame or 0) / (doc.fps or 1.0))
            if any(f.t is None for f in frames) and doc.fps is None:
                raise RowError("bad_tracks", f"{path}: object {obj.id} gives frame numbers but the file has no fps")
            t = Track()
            for i, f in enumerate(frames):
                ts = f.t if f.t is not None else (f.frame or 0) / (doc.fps or 1.0)
                b = (f.box[0] / sx * GRID, f.box[1] / sy * GRID, f.box[2] / sx * GRID, f.box[3] / sy * GRID)
                area = (b[2] - b[0]) * (b[3] - b[1])
                t.dets.append(Detection(i, b, b, area, (np.nan, np.nan, np.nan)))
                t.times.append(float(ts))
            clip = (0.0, float(dur)) if isinstance(dur, (int, float)) else (t.times[0], t.times[-1])
            d = describe(t, GRID, GRID, clip)
            d.pop("_best")
            positions = [list(f.position_3d) for f in frames if f.position_3d is not None]
            d.update(id=obj.id, label=obj.label, color=obj.color, crop=None,
                     positions_3d=positions if len(positions) == len(frames) else None)  # fmt: skip
            tracks.append(d)
        poses = [p.pose for p in sorted(doc.camera, key=lambda p: p.t)] or None
        return {"tracks": tracks, **summary(tracks), "camera_poses": poses}
