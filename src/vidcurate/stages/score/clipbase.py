"""What the CLIP-backed scorers share: the model reference, its frames, one backbone per process.

`aesthetic`, `clip_match` and `embed` each name a CLIP/SigLIP model (a registered name, a Hub id
or a folder; `models.store.ensure` finds it before any work) and embed the same few frames; when
they name the same model, device and dtype, the process loads it once (`models.store.shared`).
`score_batch` embeds the frames of every clip of a group in full batches, then hands each
subclass the per-clip embeddings.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np
from pydantic import Field

from vidcurate.core.frames import Frames, FrameSpec
from vidcurate.core.scorer import FrameScorer
from vidcurate.core.stage import Resources
from vidcurate.models.clip import ClipBackbone, load_clip
from vidcurate.models.device import ModelOptions, model_resources, pick_device, pick_dtype
from vidcurate.models.store import ensure


class ClipOptions(ModelOptions):
    model: str = Field(
        "clip-vit-large-patch14", description="CLIP/SigLIP model: a registered name, a Hub id or a local folder"
    )
    frames: int = Field(3, ge=1, description="frames spread over the clip (3: start, middle, end)")
    max_side: int = Field(640, ge=64, description="frames are decoded this small before the model's own resize")


C = TypeVar("C", bound=ClipOptions)


class ClipScorerBase(FrameScorer[C]):
    """Embeds each clip's frames with one backbone; subclasses turn embeddings into columns."""

    packages: ClassVar[tuple[tuple[str, str], ...]] = (("torch", "torch"), ("transformers", "transformers"))
    _path: Path | None = None
    _clip: ClipBackbone | None = None

    def frame_spec(self) -> FrameSpec:
        return FrameSpec(num=self.config.frames, max_side=self.config.max_side)

    def check(self) -> None:
        super().check()
        self._path = ensure(self.config.model, f"scorer '{self.name}'")

    def needs(self) -> Resources:
        return model_resources(self.config.device, 2.0)

    def setup(self) -> None:
        if self._clip is None:
            if self._path is None:
                self.check()
            assert self._path is not None
            device = pick_device(self.config.device)
            self._clip = load_clip(self._path, device, pick_dtype(self.config.dtype, device))

    def teardown(self) -> None:
        self._clip = None

    @property
    def clip(self) -> ClipBackbone:
        if self._clip is None:
            self.setup()
        assert self._clip is not None
        return self._clip

    def score(self, frames: Frames) -> dict[str, Any]:
        return self.score_batch([frames])[0]

    def score_batch(self, clips: Sequence[Frames]) -> list[dict[str, Any]]:
        flat = [f for c in clips for f in c.data]
        emb = self.clip.images(flat, self.config.batch_size) if flat else np.zeros((0, 0), np.float32)
        bounds = np.cumsum([0, *(len(c) for c in clips)])
        per_clip = [emb[bounds[i] : bounds[i + 1]] for i in range(len(clips))]
        return self.from_embeddings(per_clip, clips)

    def from_embeddings(self, embeddings: list[np.ndarray], clips: Sequence[Frames]) -> list[dict[str, Any]]:
        """Columns per clip from its (frames, dim) normalised embeddings (empty for a clip without frames)."""
        raise NotImplementedError
