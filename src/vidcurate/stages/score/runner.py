"""Decode each row's span once and run a set of frame scorers on it.

Shared by the fused `score` stage (any subset of scorers) and the one-scorer stages
(`score.motion`, `score.ocr`, ...), which exist so a recipe, or the benchmark, can also run a
scorer on its own. The row's span is `start_s`/`end_s` (a clip from the split stage) or the
whole file (`duration_s`). A scorer that fails on a clip leaves its columns empty and sets the
row's error; the other scorers' columns are kept.
"""

from __future__ import annotations

import time
from abc import abstractmethod
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from vidcurate.core.errors import RowError, describe, mark_error, raise_if_fatal
from vidcurate.core.frames import DecodeStats, FrameSpec
from vidcurate.core.scorer import FrameScorer
from vidcurate.core.stage import Columns, Resources, RowStage, StageConfig, StageContext
from vidcurate.io.decode import sample

DEFAULT_MAX_FRAMES = 300
C = TypeVar("C", bound=StageConfig)


def capped(spec: FrameSpec, span_s: float | None, max_frames: int) -> FrameSpec:
    """Thin an fps spec so a long span never yields more than `max_frames` frames (bounded memory)."""
    if spec.fps is not None and span_s is not None and span_s * spec.fps > max_frames:
        return replace(spec, fps=max_frames / span_s)
    return spec


def row_span(row: dict[str, Any]) -> tuple[float | None, float | None, float | None]:
    """(start_s, end_s, length in seconds) of a row; unknown parts are None."""
    start = row.get("start_s")
    end = row.get("end_s")
    stop = end if end is not None else row.get("duration_s")
    length = stop - (start or 0.0) if stop is not None else None
    return start, end, length


class ScorerStage(RowStage[C]):
    """Base of the score stages: `build_scorers()` says which; decoding and bookkeeping live here."""

    requires: ClassVar[tuple[str, ...]] = ("id", "path")

    def __init__(self, config: C | None = None) -> None:
        super().__init__(config)
        self.max_frames: int = DEFAULT_MAX_FRAMES
        self.scorers = self.build_scorers()
        for s in self.scorers:
            s.check()
        self.decode_stats = DecodeStats()  # totals over every row: tests and benchmarks read them
        self.seconds: dict[str, float] = {"decode": 0.0, **{s.name: 0.0 for s in self.scorers}}
        self.frames_seen: dict[str, int] = {s.name: 0 for s in self.scorers}

    @abstractmethod
    def build_scorers(self) -> list[FrameScorer[Any]]:
        """The configured scorers, in the order their columns appear."""

    def output_columns(self) -> Columns:
        return {k: v for s in self.scorers for k, v in s.columns.items()}

    def needs(self) -> Resources:
        """The most any of the scorers needs (one GPU model makes the stage a GPU stage)."""
        needs = [s.needs() for s in self.scorers] or [Resources()]
        return Resources(
            cpus=max(1.0, *(n.cpus for n in needs)),
            gpus=max(n.gpus for n in needs),
            gpu_mem_gb=max(n.gpu_mem_gb for n in needs),
        )

    def setup(self, ctx: StageContext | None = None) -> None:
        super().setup(ctx)
        for s in self.scorers:
            s.setup()

    def teardown(self) -> None:
        for s in self.scorers:
            s.teardown()

    def process_row(self, row: dict[str, Any]) -> dict[str, Any]:
        start, end, length = row_span(row)
        specs = {s.name: capped(s.spec, length, self.max_frames) for s in self.scorers}
        stats = DecodeStats()
        t0 = time.perf_counter()
        try:
            frames = sample(row["path"], specs, start_s=start, end_s=end, duration_s=row.get("duration_s"), stats=stats)
        finally:
            self.seconds["decode"] += time.perf_counter() - t0
            self.decode_stats.add(stats)
        if stats.frames == 0 or not any(len(f) for f in frames.values()):
            where = f" between {start or 0:.2f}s and {end:.2f}s" if end is not None else ""
            raise RowError("no_frames", f"{Path(row['path']).name}: no decodable frame{where}")
        out: dict[str, Any] = {}
        failed: list[str] = []
        for s in self.scorers:
            t1 = time.perf_counter()
            try:
                out.update(s.score(frames[s.name]))
            except Exception as e:  # one scorer's failure keeps the others' columns
                raise_if_fatal(e)
                failed.append(f"{s.name}: {describe(e)}")
                out.update(s.empty())
            self.seconds[s.name] += time.perf_counter() - t1
            self.frames_seen[s.name] += len(frames[s.name])
        if failed:
            out.update(mark_error(self.name, "scorer_failed", "; ".join(failed)))
        return out


class SingleScorerStage(ScorerStage[Any]):
    """One scorer as a stage of its own (`score.<name>`), configured with the scorer's parameters."""

    scorer: ClassVar[type[FrameScorer[Any]]]

    def build_scorers(self) -> list[FrameScorer[Any]]:
        return [self.scorer(self.config)]
