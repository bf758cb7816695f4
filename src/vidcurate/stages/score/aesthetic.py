"""Aesthetics with the LAION improved aesthetic predictor (the Open-Sora/MindSpore `--aesmin` filter).

An MLP (`models.aesthetic`) over L2-normalised CLIP ViT-L/14 image embeddings, trained on AVA and
LAION ratings: about 1 (ugly) to 10 (beautiful); Open-Sora keeps clips at 4.5 and above. Scored
on `frames` frames spread over the clip: `aesthetic` is their mean, `aesthetic_min` the worst
frame. The MLP's input size must match the backbone's embeddings (768 for ViT-L/14).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
from pydantic import Field

from vidcurate.core.errors import ConfigError
from vidcurate.core.frames import Frames
from vidcurate.core.stage import Columns
from vidcurate.models.aesthetic import AestheticHead, load_head
from vidcurate.models.store import ensure
from vidcurate.stages.score.clipbase import ClipOptions, ClipScorerBase


class AestheticConfig(ClipOptions):
    weights: str = Field(
        "laion-aesthetic-v2", description="the MLP: a registered name, or a .pth/.safetensors file or its folder"
    )


class AestheticScorer(ClipScorerBase[AestheticConfig]):
    """LAION aesthetic score of a clip (mean and minimum over its frames)."""

    name: ClassVar[str] = "aesthetic"
    columns: ClassVar[Columns] = {"aesthetic": pa.float64(), "aesthetic_min": pa.float64()}
    _weights: Path | None = None
    _head: AestheticHead | None = None

    def check(self) -> None:
        super().check()
        self._weights = ensure(self.config.weights, "scorer 'aesthetic'")

    def setup(self) -> None:
        super().setup()
        if self._head is None:
            assert self._weights is not None
            head = load_head(self._weights, self.clip.device)
            if head.in_dim != self.clip.dim:
                raise ConfigError(
                    f"scorer 'aesthetic': {self._weights} takes {head.in_dim}-d embeddings but "
                    f"{self.config.model} gives {self.clip.dim}-d (the LAION predictor needs ViT-L/14)"
                )
            self._head = head

    def teardown(self) -> None:
        super().teardown()
        self._head = None

    def from_embeddings(self, embeddings: list[np.ndarray], clips: Sequence[Frames]) -> list[dict[str, Any]]:
        if self._head is None:
            self.setup()
        assert self._head is not None
        scores = self._head(np.concatenate(embeddings)) if any(len(e) for e in embeddings) else np.zeros(0)
        out, at = [], 0
        for e in embeddings:
            s = scores[at : at + len(e)]
            at += len(e)
            out.append({"aesthetic": float(s.mean()), "aesthetic_min": float(s.min())} if len(s) else self.empty())
        return out
