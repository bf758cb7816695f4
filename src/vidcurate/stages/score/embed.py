"""A clip's CLIP embedding: the mean of its frames' embeddings, L2-normalised.

For semantic deduplication and search: the cosine of two rows' embeddings is their dot product.
`clip_embedding` is a list of float32 (float16 with `float16: true`, in `clip_embedding_f16`,
half the size); every row has the model's dimension (768 for ViT-L/14, 512 for B/32).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
from pydantic import Field

from vidcurate.core.frames import Frames
from vidcurate.core.stage import Columns
from vidcurate.stages.score.clipbase import ClipOptions, ClipScorerBase


class EmbedConfig(ClipOptions):
    frames: int = Field(4, ge=1, description="frames averaged into the clip's embedding")
    float16: bool = Field(False, description="store float16 (clip_embedding_f16) instead of float32")


class EmbedScorer(ClipScorerBase[EmbedConfig]):
    """Mean-pooled, normalised CLIP embedding of a clip."""

    name: ClassVar[str] = "embed"
    columns: ClassVar[Columns] = {
        "clip_embedding": pa.list_(pa.float32()),
        "clip_embedding_f16": pa.list_(pa.float16()),
    }

    def __init__(self, config: EmbedConfig | None = None) -> None:
        super().__init__(config)
        keep = "clip_embedding_f16" if self.config.float16 else "clip_embedding"
        self.columns = {keep: type(self).columns[keep]}  # type: ignore[misc]

    def from_embeddings(self, embeddings: list[np.ndarray], clips: Sequence[Frames]) -> list[dict[str, Any]]:
        (col,) = self.columns
        out = []
        for e in embeddings:
            if not len(e):
                out.append(self.empty())
                continue
            m = e.mean(axis=0)
            m = m / max(float(np.linalg.norm(m)), 1e-12)
            out.append({col: m.astype(np.float16 if self.config.float16 else np.float32)})
        return out
