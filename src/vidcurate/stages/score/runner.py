"""Decode each row's span once and run a set of frame scorers on it.

Shared by the fused `score` stage (any subset of scorers) and the one-scorer stages
(`score.motion`, `score.ocr`, ...), which exist so a recipe, or the benchmark, can also run a
scorer on its own. The row's span is `start_s`/`end_s` (a clip from the split stage) or the
whole file (`duration_s`). A scorer that fails on a clip leaves its columns empty and sets the
row's error; the other scorers' columns are kept.

Rows of a shard are scored in groups (GROUP_ROWS clips, fewer when their frames pass GROUP_BYTES): each
scorer gets the frames of a whole group
in one `score_batch` call, so a model runs full batches across clips, while a thread decodes the
next rows (`prefetch`). A group whose batch call fails is scored clip by clip, so one bad clip
still costs only its own columns.
"""

from __future__ import annotations

import time
from abc import abstractmethod
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import pyarrow as pa

from vidcurate.core import schema
from vidcurate.core.errors import RowError, describe, mark_error, raise_if_fatal, row_error
from vidcurate.core.frames import DecodeStats, Frames, FrameSpec
from vidcurate.core.scorer import FrameScorer
from vidcurate.core.stage import Columns, Resources, RowStage, StageConfig, StageContext
from vidcurate.io import heap
from vidcurate.io.decode import sample

DEFAULT_MAX_FRAMES = 300
GROUP_ROWS = 16  # clips whose frames go to a scorer's score_batch together
GROUP_BYTES = 128 << 20  # ... unless their frames hold more (full-resolution frames for quality)
PREFETCH = 4  # rows decoded ahead of the one being scored
C = TypeVar("C", bound=StageConfig)


def _nbytes(frames: dict[str, Frames]) -> int:
    return sum(f.data.nbytes for f in frames.values())


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

    def required_columns(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys([*self.requires, *(c for s in self.scorers for c in s.reads())]))

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
        return self._score([(row, self._decode(row))])[0]

    def process(self, batch: pa.Table) -> pa.Table:
        """Decode ahead on a thread, score in groups; rows keep their order."""
        rows = batch.to_pylist()
        results: list[dict[str, Any] | None] = [None] * len(rows)
        group: list[tuple[int, dict[str, Any], dict[str, Frames]]] = []

        def flush() -> None:
            for (i, row, _), out in zip(group, self._score([(r, f) for _, r, f in group]), strict=True):
                results[i] = {**row, **out}
            group.clear()
            heap.trim()  # decoder and model buffers freed in turns fragment the heap

        with ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"vidcurate-{self.name}-decode") as pool:
            pending: deque[tuple[int, Future[dict[str, Frames]]]] = deque()
            todo = iter(range(len(rows)))
            for i in todo:
                pending.append((i, pool.submit(self._decode, rows[i])))
                if len(pending) > PREFETCH:
                    break
            while pending:
                i, fut = pending.popleft()
                nxt = next(todo, None)
                if nxt is not None:
                    pending.append((nxt, pool.submit(self._decode, rows[nxt])))
                try:
                    frames = fut.result()
                except Exception as e:
                    results[i] = {**rows[i], **row_error(self.name, e)}
                    continue
                group.append((i, rows[i], frames))
                if len(group) >= GROUP_ROWS or sum(_nbytes(f) for _, _, f in group) >= GROUP_BYTES:
                    flush()
            flush()
        return schema.from_rows([r for r in results if r is not None], like=batch.schema, types=self.output_columns())

    def _decode(self, row: dict[str, Any]) -> dict[str, Frames]:
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
        return {name: replace(f, row=row) for name, f in frames.items()}

    def _score(self, group: list[tuple[dict[str, Any], dict[str, Frames]]]) -> list[dict[str, Any]]:
        """Each scorer over the group at once; a failing batch is retried clip by clip."""
        outs: list[dict[str, Any]] = [{} for _ in group]
        failed: list[list[str]] = [[] for _ in group]
        for s in self.scorers:
            clips = [frames[s.name] for _, frames in group]
            t1 = time.perf_counter()
            try:
                got = s.score_batch(clips)
            except Exception as e:
                raise_if_fatal(e)
                got = []
                for k, clip in enumerate(clips):
                    try:
                        got.append(s.score(clip))
                    except Exception as e1:  # one scorer's failure keeps the others' columns
                        raise_if_fatal(e1)
                        failed[k].append(f"{s.name}: {describe(e1)}")
                        got.append(s.empty())
            self.seconds[s.name] += time.perf_counter() - t1
            self.frames_seen[s.name] += sum(len(c) for c in clips)
            for out, cols in zip(outs, got, strict=True):
                out.update(cols)
        for out, f in zip(outs, failed, strict=True):
            if f:
                out.update(mark_error(self.name, "scorer_failed", "; ".join(f)))
        return outs


class SingleScorerStage(ScorerStage[Any]):
    """One scorer as a stage of its own (`score.<name>`), configured with the scorer's parameters."""

    scorer: ClassVar[type[FrameScorer[Any]]]

    def build_scorers(self) -> list[FrameScorer[Any]]:
        return [self.scorer(self.config)]
