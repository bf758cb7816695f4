"""The `probe` stage: container and stream facts for every file, plus a decode check.

A file that cannot be opened or decoded gets a row error with a readable message; it is never
dropped and never stops the run. A broken audio stream is recorded in `audio_error` only.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from vidcurate.core import schema
from vidcurate.core.stage import Columns, RowStage, StageConfig
from vidcurate.io.probe import PROBE_KEYS, probe_file


class ProbeConfig(StageConfig):
    decode_check: Literal["none", "ends", "full"] = Field(
        "ends", description="decode nothing, the first frame and the last second, or every frame"
    )
    count_frames: Literal["auto", "always", "never"] = Field(
        "auto", description="count packets when the header has no frame count (auto: files up to count_max_mb)"
    )
    count_max_mb: int = Field(512, ge=0, description="largest file whose packets `auto` counts")


class Prober(RowStage[ProbeConfig]):
    """Container and stream facts of each file (size, fps, frames, duration, rotation, codecs)."""

    name: ClassVar[str] = "probe"
    requires: ClassVar[tuple[str, ...]] = ("id", "path")
    columns: ClassVar[Columns] = schema.core_columns(PROBE_KEYS)

    def process_row(self, row: dict[str, Any]) -> dict[str, Any]:
        cfg = self.config
        info = probe_file(
            row["path"],
            decode_check=cfg.decode_check,
            count_frames=cfg.count_frames,
            count_max_bytes=cfg.count_max_mb * 2**20,
        )
        return {k: info.get(k) for k in PROBE_KEYS}
