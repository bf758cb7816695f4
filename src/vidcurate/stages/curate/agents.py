"""`curate.agents`: the objects a caption mentions, split into agents and non-agents.

Agents act or move on their own (people, animals, driven vehicles); non-agents are the rest of
what is visible. Seeds use this to pick videos with interacting agents and to write QA about
them. The answer is validated JSON (`AgentSplit`); names are trimmed, lowercased and de-duplicated.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pyarrow as pa
from pydantic import BaseModel, Field, field_validator

from vidcurate.core.stage import Columns
from vidcurate.llm.options import LLMOptions
from vidcurate.llm.template import PromptRef
from vidcurate.llm.usage import Tally
from vidcurate.stages.llm import LLMStage


def _names(values: list[str]) -> list[str]:
    out: dict[str, None] = {}  # ordered and de-duplicated in one pass
    for v in values:
        n = " ".join(str(v).split()).strip(" .,;").lower()
        if n:
            out[n] = None
    return list(out)


class AgentSplit(BaseModel):
    """The model's answer: two lists of short noun phrases."""

    agents: list[str] = Field(description="objects that act or move on their own")
    non_agents: list[str] = Field(description="other visible objects")

    @field_validator("agents", "non_agents")
    @classmethod
    def _clean(cls, v: list[str]) -> list[str]:
        return _names(v)


class AgentsConfig(LLMOptions):
    """A text LLM endpoint and the extraction prompt."""

    prompt: PromptRef = Field("agents", description="packaged prompt name or a template file using $caption")
    max_tokens: int | None = Field(1024, ge=1, description="completion token limit (reasoning needs room)")


class AgentExtractor(LLMStage[AgentsConfig]):
    """Split the caption's objects into agents and non-agents -> `agents`, `non_agents`."""

    name: ClassVar[str] = "curate.agents"
    requires: ClassVar[tuple[str, ...]] = ("id", "caption")
    columns: ClassVar[Columns] = {"agents": pa.list_(pa.string()), "non_agents": pa.list_(pa.string())}

    async def handle(self, row: dict[str, Any], tally: Tally) -> dict[str, Any]:
        v: AgentSplit = await self.ask(row, tally, AgentSplit)
        agents = set(v.agents)
        return {"agents": v.agents, "non_agents": [n for n in v.non_agents if n not in agents]}
