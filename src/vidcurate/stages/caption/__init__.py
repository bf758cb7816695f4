"""`caption`: a VLM describes each row's video (frames from the sampler, or a video URL).

The sampled frames go to the model as JPEG images after the prompt's system part and before its
text (Qwen-VL's order). Prompts are files (`vidcurate/llm/prompts/caption.txt` by default, or a
path in the recipe) and may use row columns as `$column`. Requests are cached on disk, so a rerun
or resumed run only asks for rows it has no answer for.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pyarrow as pa
from pydantic import Field

from vidcurate.core.errors import RowError
from vidcurate.core.stage import Columns
from vidcurate.llm.media import FrameOptions
from vidcurate.llm.template import PromptRef
from vidcurate.llm.usage import Tally
from vidcurate.stages.llm import VisionStage


class CaptionConfig(FrameOptions):
    """A VLM endpoint, how the video is shown, and the prompt."""

    prompt: PromptRef = Field("caption", description="packaged prompt name or a template file ($column placeholders)")
    skip_existing: bool = Field(False, description="keep a caption the row already has (no request)")


class VlmCaptioner(VisionStage[CaptionConfig]):
    """Caption each row with a VLM over sampled frames (or a video URL) -> `caption`."""

    name: ClassVar[str] = "caption"
    requires: ClassVar[tuple[str, ...]] = ("id", "path")
    columns: ClassVar[Columns] = {"caption": pa.string()}

    async def handle(self, row: dict[str, Any], tally: Tally) -> dict[str, Any]:
        cfg = self.config
        if cfg.skip_existing and row.get("caption"):
            return {"caption": row["caption"]}
        text = (await self.ask(row, tally)).strip()
        if not text:
            raise RowError("empty", "the model answered with an empty caption")
        return {"caption": text}
