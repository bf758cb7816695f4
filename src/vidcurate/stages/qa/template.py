"""`qa.template`: multiple-choice questions about a clip's tracks and camera motion (`questions`).

Up to `qa_num` questions per clip, spread over the question types, chosen and ordered by `seed`
and the row id (deterministic, and different per clip); the correct option's letter is drawn the
same way among 3-4 options, so no letter is favoured. The questions land in `qa` and in
`conversations` (one multi-turn conversation per clip).
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from vidcurate.core.stage import Columns, RowStage, StageConfig
from vidcurate.stages.qa.common import COLUMNS, stable_int, with_qas
from vidcurate.stages.qa.questions import Margins, generate


class TemplateConfig(StageConfig):
    qa_num: int = Field(5, ge=1, le=50, description="at most this many questions per clip")
    seed: int = Field(0, description="which questions and which answer letters (with the row id)")
    types: list[str] | None = Field(None, description="only these question types (direction, faster, ...)")
    min_track_s: float = Field(1.0, ge=0, description="tracks shorter than this are not asked about")
    speed_ratio: float = Field(1.5, gt=1, description="'which is faster' needs speeds this far apart")
    time_gap_s: float = Field(0.5, ge=0, description="'which enters first' needs entries this far apart")


class TemplateQA(RowStage[TemplateConfig]):
    """Template multiple-choice QA from `tracks` (and `camera_motion` when scored)."""

    name: ClassVar[str] = "qa.template"
    requires: ClassVar[tuple[str, ...]] = ("id", "tracks")
    columns: ClassVar[Columns] = COLUMNS
    reads_media: ClassVar[bool] = False

    def process_row(self, row: dict[str, Any]) -> dict[str, Any]:
        cfg = self.config
        margins = Margins(min_track_s=cfg.min_track_s, speed_ratio=cfg.speed_ratio, time_gap_s=cfg.time_gap_s)
        found = generate(list(row.get("tracks") or []), row.get("camera_motion"), margins)
        if cfg.types is not None:
            found = [q for q in found if q["type"] in cfg.types]
        picked = self._pick(found, str(row["id"]))
        qas = []
        for k, q in enumerate(picked):
            options = list(q["distractors"])
            at = stable_int(cfg.seed, row["id"], k, "letter") % (len(options) + 1)
            options.insert(at, q["correct"])
            qas.append({"type": q["type"], "question": q["question"], "options": options, "answer_index": at,
                        "answer": q["correct"], "source": "template", "subjects": q["subjects"]})  # fmt: skip
        return with_qas(row, qas)

    def _pick(self, found: list[dict[str, Any]], rid: str) -> list[dict[str, Any]]:
        """Round-robin over the types (in a seeded order), a seeded choice within each type."""
        seed = self.config.seed
        by: dict[str, list[dict[str, Any]]] = {}
        for q in sorted(found, key=lambda q: stable_int(seed, rid, q["question"])):
            by.setdefault(q["type"], []).append(q)
        order = sorted(by, key=lambda t: stable_int(seed, rid, t))
        out: list[dict[str, Any]] = []
        while len(out) < self.config.qa_num and any(by.values()):
            for t in order:
                if by[t] and len(out) < self.config.qa_num:
                    out.append(by[t].pop(0))
        return out
