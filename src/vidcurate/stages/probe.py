"""The `probe` stage: container and stream facts for every file, plus a decode check.

A file that cannot be opened or decoded gets a row error with a readable message; it is never
dropped and never stops the run. A broken audio stream is recorded in `audio_error` only.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import pyarrow as pa
from pydantic import Field

from vidcurate.core import schema
from vidcurate.core.stage import Columns, RowStage, StageConfig
from vidcurate.io.hashing import content_hash, stream_hash
from vidcurate.io.probe import PROBE_KEYS, probe_file


class ProbeConfig(StageConfig):
    decode_check: Literal["none", "ends", "full"] = Field(
        "ends", description="decode nothing, the first frame and the last second, or every frame"
    )
    count_frames: Literal["auto", "always", "never"] = Field(
        "auto", description="count packets when the header has no frame count (auto: files up to count_max_mb)"
    )
    count_max_mb: int = Field(512, ge=0, description="largest file whose packets `auto` counts")
    content_hash: bool = Field(False, description="hash the file's bytes (dedup.exact: identical files)")
    stream_hash: bool = Field(
        False, description="hash every decoded frame (dedup.exact on: stream: the same video in another container)"
    )


class Prober(RowStage[ProbeConfig]):
    """Container and stream facts of each file (size, fps, frames, duration, rotation, codecs)."""

    name: ClassVar[str] = "probe"
    requires: ClassVar[tuple[str, ...]] = ("id", "path")
    columns: ClassVar[Columns] = {
        **schema.core_columns(PROBE_KEYS),
        "content_hash": pa.string(),
        "stream_hash": pa.string(),
    }

    def output_columns(self) -> Columns:
        cfg = self.config
        skip = {k for k, on in (("content_hash", cfg.content_hash), ("stream_hash", cfg.stream_hash)) if not on}
        return {k: v for k, v in self.columns.items() if k not in skip}

    def process_row(self, row: dict[str, Any]) -> dict[str, Any]:
        cfg = self.config
        info = probe_file(
            row["path"],
            decode_check=cfg.decode_check,
            count_frames=cfg.count_frames,
            count_max_bytes=cfg.count_max_mb * 2**20,
        )
        out = {k: info.get(k) for k in PROBE_KEYS}
        if cfg.content_hash:
            out["content_hash"] = content_hash(row["path"])
        if cfg.stream_hash and info.get("media") == "video":
            out["stream_hash"] = stream_hash(row["path"])
        return out
