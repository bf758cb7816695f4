"""`curate.motion`: from the caption, is the video dynamic (things visibly moving)?

The seed projects ask an LLM (DeepSeek-R1) over captions to keep only videos with moving objects.
The answer is validated JSON (`MotionVerdict`); a `filter: {where: "is_dynamic"}` then keeps the
dynamic ones, and the reason stays in `motion_reason` for review.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, Field, field_validator

from vidcurate.core.stage import StageConfig
from vidcurate.llm.options import StructuredOptions
from vidcurate.llm.stage import LLMStage
from vidcurate.llm.template import check_prompt
from vidcurate.llm.usage import Tally


class MotionVerdict(BaseModel):
    """The model's answer: a boolean and one sentence of evidence."""

    is_dynamic: bool = Field(description="true when people, animals, objects or the camera visibly move")
    reason: str = Field(description="one sentence naming what moves, or why nothing does")


class MotionConfig(StructuredOptions):
    """A text LLM endpoint and the judging prompt (reasoning models are fine: <think> is skipped)."""

    prompt: str = Field("motion", description="packaged prompt name or a template file using $caption")
    max_tokens: int | None = Field(1024, ge=1, description="completion token limit (reasoning needs room)")

    @field_validator("prompt")
    @classmethod
    def _prompt(cls, v: str) -> str:
        return check_prompt(v)


class MotionCurator(LLMStage):
    """Judge from the caption whether the video is dynamic -> `is_dynamic`, `motion_reason`."""

    name: ClassVar[str] = "curate.motion"
    Config: ClassVar[type[StageConfig]] = MotionConfig
    requires: ClassVar[tuple[str, ...]] = ("id", "caption")
    provides: ClassVar[tuple[str, ...]] = ("is_dynamic", "motion_reason")

    async def handle(self, row: dict[str, Any], tally: Tally) -> dict[str, Any]:
        v: MotionVerdict = await self.ask(row, tally, MotionVerdict)
        return {"is_dynamic": v.is_dynamic, "motion_reason": v.reason.strip()}
