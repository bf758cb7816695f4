"""`dedup.exact`: identical files (`content_hash`), or identical decoded video (`stream_hash`).

The hashes come from the probe stage (`probe: {content_hash: true}` or `{stream_hash: true}`),
computed per shard in parallel; rows with the same hash form a group.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
import pyarrow as pa
from pydantic import Field

from vidcurate.stages.dedup.base import DedupConfig, DedupStage


class ExactConfig(DedupConfig):
    on: Literal["content", "stream"] = Field(
        "content", description="content: the file's bytes; stream: the decoded frames (another container)"
    )


class ExactDedup(DedupStage[ExactConfig]):
    """Groups rows whose files (or decoded streams) hash the same."""

    name: ClassVar[str] = "dedup.exact"
    reason: ClassVar[str] = "identical to a kept file (dup_of)"

    def signature_columns(self) -> tuple[str, ...]:
        return (f"{self.config.on}_hash",)

    def pairs(self, table: pa.Table) -> np.ndarray:
        values = table.column(self.signature_columns()[0]).to_pylist()
        first: dict[str, int] = {}
        out = []
        for i, v in enumerate(values):
            if v is None:
                continue
            j = first.setdefault(v, i)
            if j != i:
                out.append((j, i))
        return np.array(out, dtype=np.int64).reshape(-1, 2)
