"""`curate.visual`: the `curate.motion` question asked of a VLM over the frames themselves.

The seed asks Gemini over frames; any OpenAI-compatible VLM works. Useful where captions are
missing or untrusted; the answer (`MotionVerdict`, validated) goes to `visual_is_dynamic` and
`visual_motion_reason`, side by side with the caption-based verdict.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pyarrow as pa
from pydantic import Field

from vidcurate.core.stage import Columns
from vidcurate.llm.media import FrameOptions
from vidcurate.llm.template import PromptRef
from vidcurate.llm.usage import Tally
from vidcurate.stages.curate.motion import MotionVerdict
from vidcurate.stages.llm import VisionStage


class VisualConfig(FrameOptions):
    """A VLM endpoint, how the video is shown, and the judging prompt."""

    prompt: PromptRef = Field("visual_motion", description="packaged prompt name or a template file")


class VisualMotionCurator(VisionStage[VisualConfig]):
    """Judge from sampled frames whether the video is dynamic -> `visual_is_dynamic`, `visual_motion_reason`."""

    name: ClassVar[str] = "curate.visual"
    requires: ClassVar[tuple[str, ...]] = ("id", "path")
    columns: ClassVar[Columns] = {"visual_is_dynamic": pa.bool_(), "visual_motion_reason": pa.string()}

    async def handle(self, row: dict[str, Any], tally: Tally) -> dict[str, Any]:
        v: MotionVerdict = await self.ask(row, tally, MotionVerdict)
        return {"visual_is_dynamic": v.is_dynamic, "visual_motion_reason": v.reason.strip()}
