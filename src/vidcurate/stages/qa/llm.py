"""`qa.llm`: free-form question-answer pairs written by an LLM from a clip's trajectories.

The tracks are serialised compactly (a line per object: colour or label, when it is visible, how it
enters and leaves, direction and speed, size change, a few centre positions) into the `qa_tracks`
prompt; the answer must be JSON `{"qa": [{"question", "answer"}]}` and is validated (a malformed
answer is repaired or retried by the client, then the row gets an error). Requests go through the
shared client: cache, retries, concurrency limit, usage accounting. Pairs join `qa` and the clip's
conversation after any template questions.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, Field

from vidcurate.core.stage import Columns
from vidcurate.llm.options import LLMOptions
from vidcurate.llm.template import PromptRef
from vidcurate.llm.usage import Tally
from vidcurate.stages.llm import LLMStage
from vidcurate.stages.qa.common import COLUMNS, with_qas

PROVIDED = ("trajectories", "qa_num", "duration", "camera")  # filled by the stage, not read from columns


class QAPair(BaseModel):
    question: str = Field(min_length=5)
    answer: str = Field(min_length=1)


class QAList(BaseModel):
    qa: list[QAPair] = Field(min_length=1, max_length=20)


class TrackQAConfig(LLMOptions):
    prompt: PromptRef = Field("qa_tracks", description="packaged prompt name or a template file")
    qa_num: int = Field(3, ge=1, le=20, description="pairs asked for per clip")
    max_tokens: int | None = Field(1024, ge=1, description="completion token limit")
    points: int = Field(5, ge=2, le=20, description="centre positions per object in the prompt")


def describe_tracks(tracks: list[dict[str, Any]], points: int = 5) -> str:
    """One line per track: what the prompt tells the model."""
    lines = []
    for t in tracks:
        ts = t.get("times_s") or []
        if not ts:
            continue
        who = " ".join(x for x in (t.get("color"), t.get("label") or "object") if x)
        parts = [f"#{t['id']} {who}: visible {ts[0]:.1f}-{ts[-1]:.1f} s"]
        if t.get("enter_side"):
            parts.append(f"enters from the {t['enter_side']} at {t['enter_s']:.1f} s")
        if t.get("exit_side"):
            parts.append(f"leaves through the {t['exit_side']} at {t['exit_s']:.1f} s")
        if t.get("direction"):
            parts.append(f"moves {t['direction']} at {t.get('speed') or 0:.2f} frame widths/s")
        if t.get("depth"):
            parts.append(f"{t['depth']} (size x{t.get('scale_change') or 1:.2f})")
        step = max(1, (len(ts) - 1) // max(1, points - 1))
        path = []
        for i in list(range(0, len(ts), step))[:points]:
            b = t["boxes"][i]
            path.append(f"{ts[i]:.1f}s ({(b[0] + b[2]) / 2:.2f},{(b[1] + b[3]) / 2:.2f})")
        parts.append("path " + " ".join(path))
        lines.append("; ".join(parts))
    return "\n".join(lines)


class TrackQA(LLMStage[TrackQAConfig]):
    """LLM-written QA pairs from `tracks` -> `qa`, `conversations`."""

    name: ClassVar[str] = "qa.llm"
    requires: ClassVar[tuple[str, ...]] = ("id", "tracks")
    columns: ClassVar[Columns] = COLUMNS
    reads_media: ClassVar[bool] = False

    def required_columns(self) -> tuple[str, ...]:
        return tuple(c for c in super().required_columns() if c not in PROVIDED)

    async def handle(self, row: dict[str, Any], tally: Tally) -> dict[str, Any]:
        tracks = list(row.get("tracks") or [])
        if not tracks:
            return with_qas(row, [])  # nothing moves: nothing to ask about
        start, end = row.get("start_s"), row.get("end_s")
        dur = (end - (start or 0.0)) if end is not None else row.get("duration_s")
        ctx = {
            **row,
            "trajectories": describe_tracks(tracks, self.config.points),
            "qa_num": str(self.config.qa_num),
            "duration": f"{dur:.1f}" if isinstance(dur, (int, float)) else "unknown",
            "camera": str(row.get("camera_motion") or "unknown"),
        }
        got: QAList = await self.send(self.messages(ctx), tally, QAList)
        pairs = got.qa[: self.config.qa_num]
        new: list[dict[str, Any]] = [
            {"type": "free", "question": p.question.strip(), "options": [], "answer_index": None,
             "answer": p.answer.strip(), "source": "llm", "subjects": []}
            for p in pairs
        ]  # fmt: skip
        return with_qas(row, new)
