"""`curate.visual`: the `curate.motion` question asked of a VLM over the frames themselves.

The seed asks Gemini over frames; any OpenAI-compatible VLM works. Useful where captions are
missing or untrusted; the answer (`MotionVerdict`, validated) goes to `visual_is_dynamic` and
`visual_motion_reason`, side by side with the caption-based verdict.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

from vidcurate.core.stage import StageConfig
from vidcurate.llm.media import FrameOptions
from vidcurate.llm.stage import VisionStage
from vidcurate.llm.template import check_prompt
from vidcurate.llm.usage import Tally
from vidcurate.stages.curate.motion import MotionVerdict


class VisualConfig(FrameOptions):
    """A VLM endpoint, how the video is shown, and the judging prompt."""

    prompt: str = Field("visual_motion", description="packaged prompt name or a template file")
    response_format: Literal["auto", "json_object", "json_schema", "none"] = Field(
        "auto", description="auto: json_object, dropped if the server rejects it; json_schema: strict schema"
    )

    @field_validator("prompt")
    @classmethod
    def _prompt(cls, v: str) -> str:
        return check_prompt(v)


class VisualMotionCurator(VisionStage):
    """Judge from sampled frames whether the video is dynamic -> `visual_is_dynamic`, `visual_motion_reason`."""

    name: ClassVar[str] = "curate.visual"
    Config: ClassVar[type[StageConfig]] = VisualConfig
    requires: ClassVar[tuple[str, ...]] = ("id", "path")
    provides: ClassVar[tuple[str, ...]] = ("visual_is_dynamic", "visual_motion_reason")

    async def handle(self, row: dict[str, Any], tally: Tally) -> dict[str, Any]:
        v: MotionVerdict = await self.ask(row, tally, MotionVerdict)
        return {"visual_is_dynamic": v.is_dynamic, "visual_motion_reason": v.reason.strip()}
