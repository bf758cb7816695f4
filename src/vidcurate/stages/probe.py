"""The `probe` stage: container and stream facts for every file, plus a decode check.

A file that cannot be opened or decoded gets a row error with a readable message; it is never
dropped and never stops the run. A broken audio stream is recorded in `audio_error` only.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from vidcurate.core.stage import RowStage, StageConfig
from vidcurate.io.probe import probe_file

PROBE_COLUMNS = (
    "media",
    "container",
    "duration_s",
    "duration_src",
    "fps",
    "vfr",
    "num_frames",
    "num_frames_src",
    "width",
    "height",
    "coded_width",
    "coded_height",
    "rotation",
    "sar",
    "aspect_ratio",
    "codec",
    "profile",
    "pix_fmt",
    "bit_rate",
    "has_audio",
    "audio_codec",
    "audio_error",
    "size_bytes",
    "decoded_frames",
    "decode_errors",
)


class ProbeConfig(StageConfig):
    decode_check: Literal["none", "ends", "full"] = Field(
        "ends", description="decode nothing, the first frame and the last second, or every frame"
    )
    count_frames: Literal["auto", "always", "never"] = Field(
        "auto", description="count packets when the header has no frame count (auto: files up to count_max_mb)"
    )
    count_max_mb: int = Field(512, ge=0, description="largest file whose packets `auto` counts")


class Prober(RowStage):
    name: ClassVar[str] = "probe"
    Config: ClassVar[type[StageConfig]] = ProbeConfig
    requires: ClassVar[tuple[str, ...]] = ("id", "path")
    provides: ClassVar[tuple[str, ...]] = PROBE_COLUMNS

    def process_row(self, row: dict[str, Any]) -> dict[str, Any]:
        cfg: ProbeConfig = self.config  # type: ignore[assignment]
        info = probe_file(
            row["path"],
            decode_check=cfg.decode_check,
            count_frames=cfg.count_frames,
            count_max_bytes=cfg.count_max_mb * 2**20,
        )
        return {k: info.get(k) for k in PROBE_COLUMNS}
