"""`dedup.semantic`: near-identical content by embedding (the `embed` scorer's, or any vector column).

Pairs at cosine >= `threshold` (default 0.98: the same shot in another encode or crop; unrelated
clips of one scene sit around 0.8-0.9 with CLIP ViT-L/14), found without comparing all pairs
(`match_semantic`).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pyarrow as pa
from pydantic import Field

from vidcurate.core.errors import ConfigError
from vidcurate.stages.dedup.base import DedupConfig, DedupStage
from vidcurate.stages.dedup.match_semantic import find_pairs


class SemanticConfig(DedupConfig):
    column: str = Field("clip_embedding", description="a list<float> column of embeddings")
    threshold: float = Field(0.98, gt=0, le=1, description="cosine at or above which two rows are duplicates")
    partitions: int | None = Field(None, ge=1, description="k-means partitions (default: sqrt of the rows)")
    probes: int = Field(3, ge=1, le=8, description="partitions each vector joins")


class SemanticDedup(DedupStage[SemanticConfig]):
    """Near-duplicate rows by embedding cosine."""

    name: ClassVar[str] = "dedup.semantic"
    reason: ClassVar[str] = "near-identical embedding to a kept row (dup_of)"

    def signature_columns(self) -> tuple[str, ...]:
        return (self.config.column,)

    def pairs(self, table: pa.Table) -> np.ndarray:
        col = table.column(self.config.column)
        values = col.to_pylist()
        present = [i for i, v in enumerate(values) if v is not None and len(v)]
        if len(present) < 2:
            return np.zeros((0, 2), dtype=np.int64)
        dims = {len(values[i]) for i in present}
        if len(dims) != 1:
            raise ConfigError(f"dedup.semantic: {self.config.column} holds vectors of sizes {sorted(dims)}")
        x = np.asarray([values[i] for i in present], dtype=np.float32)
        cfg = self.config
        found = find_pairs(x, cfg.threshold, cfg.partitions, cfg.probes)
        idx = np.asarray(present, dtype=np.int64)
        return idx[found] if len(found) else found
