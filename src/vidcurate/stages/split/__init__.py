"""The `split` stage: one video row in, one row per single-shot clip out.

Clips are virtual: a clip row keeps the parent's `path` and names its span (`start_s`/`end_s`
from presentation timestamps, `start_frame`/`end_frame` as decoded frame indices, end exclusive);
later stages decode just that span, and `cut` turns it into a file when asked. Clip ids derive
from the parent id and the span, so a rerun gives the same ids. A clip that is too short, black,
or trimmed away is not dropped silently: it is rejected with the reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import pyarrow as pa

from vidcurate.core import schema
from vidcurate.core.stage import Columns, Resources, RowStage, StageContext
from vidcurate.io.packets import frames_before
from vidcurate.stages.split.config import Detector, SplitConfig
from vidcurate.stages.split.detectors import scan
from vidcurate.stages.split.spans import plan_clips

if TYPE_CHECKING:
    from vidcurate.stages.split.transnet import TransNetV2Runner

__all__ = ["Detector", "SceneSplitter", "SplitConfig"]

SPAN_FACTS = (
    "parent_id", "start_s", "end_s", "start_frame", "end_frame", "num_frames", "duration_s", "decode_errors",
)  # fmt: skip


class SceneSplitter(RowStage[SplitConfig]):
    """Splits each video row into clip rows (see the module docstring)."""

    name: ClassVar[str] = "split"
    resources: ClassVar[Resources] = Resources(cpus=1.0)
    requires: ClassVar[tuple[str, ...]] = ("id", "path")
    columns: ClassVar[Columns] = {
        **schema.core_columns(SPAN_FACTS),
        "split_score": pa.float64(),  # confidence of the cut that opens a clip (the detector's units)
    }

    def __init__(self, config: SplitConfig | None = None) -> None:
        super().__init__(config)
        self._transnet: TransNetV2Runner | None = None

    def needs(self) -> Resources:
        """TransNetV2 asks for a GPU share unless told to stay on the CPU."""
        cfg = self.config
        if cfg.detector == "transnetv2" and cfg.device != "cpu":
            return Resources(cpus=1.0, gpus=0.25, gpu_mem_gb=1.0)
        return self.resources

    def setup(self, ctx: StageContext | None = None) -> None:
        super().setup(ctx)
        cfg = self.config
        if cfg.detector == "transnetv2" and self._transnet is None:
            from vidcurate.stages.split.transnet import TransNetV2Runner

            self._transnet = TransNetV2Runner(cfg.device, cfg.batch_windows)

    def teardown(self) -> None:
        self._transnet = None

    def process_row(self, row: dict[str, Any]) -> Mapping[str, Any] | list[Mapping[str, Any]]:
        cfg = self.config
        if row.get("media") == "image":
            return {k: row.get(k) for k in self.columns}  # nothing to split; the row passes unchanged
        path, parent = row["path"], row["id"]
        start_s, end_s = row.get("start_s"), row.get("end_s")
        found = scan(path, cfg, start_s=start_s, end_s=end_s, transnet=self._transnet, duration_s=row.get("duration_s"))
        base = row.get("start_frame")
        if base is None:
            base = frames_before(path, start_s) if start_s else 0
        clips = plan_clips(
            found.times,
            found.boundaries,
            min_scene_s=0.0 if cfg.detector == "stride" else cfg.min_scene_s,
            max_clip_s=cfg.max_clip_s,
            min_clip_s=cfg.min_clip_s,
            trim_s=cfg.trim_s,
            black=found.black,
        )
        t = found.times
        # the scan decoded every frame of the span: its count is at least what the probe saw
        errors = max(int(row.get("decode_errors") or 0), found.decode_errors)
        out: list[Mapping[str, Any]] = []
        for c in clips:
            first, stop = base + c.start, base + c.end
            out.append(
                {
                    "id": schema.stable_id(parent, "clip", first, stop),
                    "parent_id": parent,
                    "start_s": float(t[c.start]),
                    "end_s": float(t[c.end]),
                    "start_frame": first,
                    "end_frame": stop,
                    "num_frames": c.end - c.start,
                    "num_frames_src": "counted",
                    "duration_s": float(t[c.end] - t[c.start]),
                    "duration_src": "timestamps",
                    "split_score": c.score,
                    "decode_errors": errors,
                    schema.REJECT: None if c.reject is None else f"split: {c.reject}",
                }
            )
        return out
