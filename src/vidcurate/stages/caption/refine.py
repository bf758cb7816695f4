"""`caption.refine`: an LLM rewrites each caption with a prompt (Open-Sora's --refine-llm-caption).

The default prompt (`prompts/refine.txt`) keeps the facts and removes repetition, hedging and
meta phrases; any template with `$caption` can replace it. The earlier caption stays in the
previous stage's output folder.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pyarrow as pa
from pydantic import Field

from vidcurate.core.errors import RowError
from vidcurate.core.stage import Columns
from vidcurate.llm.options import LLMOptions
from vidcurate.llm.template import PromptRef
from vidcurate.llm.usage import Tally
from vidcurate.stages.llm import LLMStage


class RefineConfig(LLMOptions):
    """A text LLM endpoint and the rewrite prompt."""

    prompt: PromptRef = Field("refine", description="packaged prompt name or a template file using $caption")


class CaptionRefiner(LLMStage[RefineConfig]):
    """Rewrite `caption` with an LLM (the answer replaces it; a failed row keeps its caption and gets an error)."""

    name: ClassVar[str] = "caption.refine"
    requires: ClassVar[tuple[str, ...]] = ("id", "caption")
    columns: ClassVar[Columns] = {"caption": pa.string()}

    async def handle(self, row: dict[str, Any], tally: Tally) -> dict[str, Any]:
        text = " ".join((await self.ask(row, tally)).split()).strip().strip('"')
        if not text:
            raise RowError("empty", "the model answered with an empty caption")
        return {"caption": text}
