"""`curate.motion`: from the caption, is the video dynamic (things visibly moving)?

The seed projects ask an LLM (DeepSeek-R1) over captions to keep only videos with moving objects.
The answer is validated JSON (`MotionVerdict`); a `filter: {where: "is_dynamic"}` then keeps the
dynamic ones, and the reason stays in `motion_reason` for review.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pyarrow as pa
from pydantic import BaseModel, Field

from vidcurate.core.stage import Columns
from vidcurate.llm.options import LLMOptions
from vidcurate.llm.template import PromptRef
from vidcurate.llm.usage import Tally
from vidcurate.stages.llm import LLMStage


class MotionVerdict(BaseModel):
    """The model's answer: a boolean and one sentence of evidence."""

    is_dynamic: bool = Field(description="true when people, animals, objects or the camera visibly move")
    reason: str = Field(description="one sentence naming what moves, or why nothing does")


class MotionConfig(LLMOptions):
    """A text LLM endpoint and the judging prompt (reasoning models are fine: <think> is skipped)."""

    prompt: PromptRef = Field("motion", description="packaged prompt name or a template file using $caption")
    max_tokens: int | None = Field(1024, ge=1, description="completion token limit (reasoning needs room)")


class MotionCurator(LLMStage[MotionConfig]):
    """Judge from the caption whether the video is dynamic -> `is_dynamic`, `motion_reason`."""

    name: ClassVar[str] = "curate.motion"
    requires: ClassVar[tuple[str, ...]] = ("id", "caption")
    columns: ClassVar[Columns] = {"is_dynamic": pa.bool_(), "motion_reason": pa.string()}

    async def handle(self, row: dict[str, Any], tally: Tally) -> dict[str, Any]:
        v: MotionVerdict = await self.ask(row, tally, MotionVerdict)
        return {"is_dynamic": v.is_dynamic, "motion_reason": v.reason.strip()}
