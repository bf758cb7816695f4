"""`dedup.phash`: the same footage re-encoded, resized, slightly cropped, brightened, trimmed, or
contained in a longer clip, from the `phash` scorer's per-frame signatures (`match_phash`).

A mirrored copy is a duplicate only with `flip_invariant: true` (mirroring is also how datasets
augment: a mirrored clip is often wanted).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pyarrow as pa
from pydantic import Field

from vidcurate.stages.dedup.base import DedupConfig, DedupStage
from vidcurate.stages.dedup.match_phash import PhashParams, find_pairs


def _unsigned(values: list[int] | None) -> np.ndarray:
    return np.asarray(values or [], dtype=np.int64).view(np.uint64)


class PhashDedupConfig(DedupConfig):
    max_distance: int = Field(10, ge=0, le=32, description="bits (of 64) two frames of one picture may differ by")
    min_overlap: float = Field(0.8, gt=0, le=1, description="share of the shorter clip the aligned frames cover")
    min_matched: float = Field(0.7, gt=0, le=1, description="share of aligned frames within max_distance")
    flip_invariant: bool = Field(False, description="a mirrored copy counts as a duplicate")
    tables: int = Field(16, ge=1, le=64, description="LSH tables (more: higher recall, more candidates)")
    bits: int = Field(26, ge=8, le=60, description="bits sampled per table")


class PhashDedup(DedupStage[PhashDedupConfig]):
    """Near-duplicate clips by aligned pHash sequences."""

    name: ClassVar[str] = "dedup.phash"
    reason: ClassVar[str] = "the same footage as a kept clip (dup_of)"

    def signature_columns(self) -> tuple[str, ...]:
        return ("phash_sig", "phash_flip") if self.config.flip_invariant else ("phash_sig",)

    def pairs(self, table: pa.Table) -> np.ndarray:
        cfg = self.config
        sigs = [_unsigned(v) for v in table.column("phash_sig").to_pylist()]
        flips = [_unsigned(v) for v in table.column("phash_flip").to_pylist()] if cfg.flip_invariant else None
        params = PhashParams(
            max_distance=cfg.max_distance,
            min_overlap=cfg.min_overlap,
            min_matched=cfg.min_matched,
            tables=cfg.tables,
            bits=cfg.bits,
        )
        return find_pairs(sigs, flips, params)
