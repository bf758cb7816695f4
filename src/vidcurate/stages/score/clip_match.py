"""Text-video match: CLIP cosine similarity x 100 between a clip's frames and a text.

The text is a row's column (`text_column: caption`: does the caption describe the clip?) or a
fixed option (`option: animal`, or a list of options: which topic is it?), optionally inside a
`prompt` (``"a photo of {}"``). Open-Sora's pipeline keeps clips whose match with the topic, and
later with their caption, is at least 20 (CLIP ViT-L/14: unrelated text scores ~10-15, a fitting
caption ~25-35). Columns (named after `column`, default ``clip_match``): the mean over frames,
the worst frame (`_min`), and the option that matched best (`_option`, for option lists).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
from pydantic import Field, model_validator

from vidcurate.core import schema
from vidcurate.core.frames import Frames
from vidcurate.core.stage import Columns, NonBlankStr
from vidcurate.stages.score.clipbase import ClipOptions, ClipScorerBase


class ClipMatchConfig(ClipOptions):
    text_column: NonBlankStr | None = Field(None, description="compare each clip with this column (caption)")
    option: NonBlankStr | list[NonBlankStr] | None = Field(None, description="a fixed text, or texts to choose from")
    prompt: str = Field("{}", description="wraps each option, e.g. 'a photo of {}'")
    column: str = Field("clip_match", pattern=r"^[a-z][a-z0-9_]*$", description="name of the output columns")

    @model_validator(mode="after")
    def _one_text(self) -> ClipMatchConfig:
        if (self.text_column is None) == (self.option is None):
            raise ValueError("give text_column (a column such as caption) or option (a text or list), not both")
        if "{}" not in self.prompt:
            raise ValueError("prompt must contain {} where the option goes")
        return self


def match_columns(name: str) -> Columns:
    return {name: pa.float64(), f"{name}_min": pa.float64(), f"{name}_option": pa.string()}


class ClipMatchScorer(ClipScorerBase[ClipMatchConfig]):
    """How well a clip matches a text (CLIP cosine x 100)."""

    name: ClassVar[str] = "clip_match"
    columns: ClassVar[Columns] = match_columns("clip_match")
    _options: np.ndarray | None = None

    def __init__(self, config: ClipMatchConfig | None = None) -> None:
        super().__init__(config)
        if self.config.column != "clip_match":
            self.columns = match_columns(self.config.column)  # type: ignore[misc]
            schema.declare(f"scorer clip_match ({self.config.column})", self.columns)

    @property
    def option_texts(self) -> list[str]:
        opt = self.config.option
        return [] if opt is None else [opt] if isinstance(opt, str) else list(opt)

    def reads(self) -> tuple[str, ...]:
        return (self.config.text_column,) if self.config.text_column else ()

    def teardown(self) -> None:
        super().teardown()
        self._options = None

    def from_embeddings(self, embeddings: list[np.ndarray], clips: Sequence[Frames]) -> list[dict[str, Any]]:
        col = self.config.column
        if self.config.text_column is None:
            if self._options is None:
                self._options = self.clip.texts([self.config.prompt.format(o) for o in self.option_texts])
            texts: list[np.ndarray | None] = [self._options] * len(clips)
            labels: list[str | None] = list(self.option_texts)
        else:
            raw = [(c.row or {}).get(self.config.text_column) for c in clips]
            wanted = sorted({t.strip() for t in raw if isinstance(t, str) and t.strip()})
            emb = dict(zip(wanted, self.clip.texts(wanted), strict=True)) if wanted else {}
            texts = [emb[t.strip()][None, :] if isinstance(t, str) and t.strip() else None for t in raw]
            labels = [None]
        out = []
        for e, t in zip(embeddings, texts, strict=True):
            if not len(e) or t is None:
                out.append(self.empty())
                continue
            sims = 100.0 * (e @ t.T)  # (frames, texts)
            best = int(np.argmax(sims.mean(axis=0)))
            out.append(
                {
                    col: float(sims[:, best].mean()),
                    f"{col}_min": float(sims[:, best].min()),
                    f"{col}_option": labels[best] if len(labels) > 1 or labels[0] is not None else None,
                }
            )
        return out
