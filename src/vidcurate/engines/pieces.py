"""A shard run as row ranges on several workers, then committed as one part.

Two cases take this path. A shard whose worker died is redone one row per task, so the row that
kills the worker is found and marked (`worker_died`) while the others are kept. And a shard that
a stage before has expanded (one 20-minute video split into 120 clips) is cut into pieces of the
run's shard size (at least MIN_PIECE_ROWS) for row-local stages that read media, so its clips are
scored or cut on every worker instead of one. The pieces follow from the data alone (row count
and shard size, both fixed for a run), never from which workers happen to be free, so a rerun
gives the same batches. Pieces are written to the run's scratch folder and merged in row order
into the shard's part, committed like any other (`combine.commit_shard`); a killed run redoes the
whole shard.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from vidcurate.core.stage import Stage
from vidcurate.engines import combine
from vidcurate.engines.shard import failed_rows, read_input, write_part
from vidcurate.engines.tasks import Outcome, ShardStats, ShardTask
from vidcurate.io.runfolder import RunFolder

MIN_PIECE_ROWS = 4


@dataclass
class Pieces:
    """A shard being run as row ranges: those left to do, and those done (by first row)."""

    rows: int
    left: dict[int, int]  # first row -> end row (exclusive) of each piece still to do
    done: dict[int, tuple[Path, Path | None, ShardStats]] = field(default_factory=dict)

    @classmethod
    def of(cls, rows: int, size: int) -> Pieces:
        return cls(rows=rows, left={a: min(rows, a + size) for a in range(0, rows, max(1, size))})


def fans_out(stage: Stage[Any]) -> bool:
    """Whether a stage's big shards run as pieces: row-local, reading media (costly rows), not global."""
    return stage.row_local and stage.reads_media and not stage.barrier


def fan_out(task: ShardTask, shard_rows: int) -> Pieces | None:
    """Pieces for a shard with more input rows than the run's shard size; None to run it whole.

    A piece holds at least MIN_PIECE_ROWS rows, so a scorer still batches a few clips together.
    """
    rows = pq.read_metadata(task.src).num_rows
    return Pieces.of(rows, max(shard_rows, MIN_PIECE_ROWS)) if rows > shard_rows else None


def piece_tasks(task: ShardTask, pieces: Pieces, tmp: Path, starts: list[int] | None = None) -> list[ShardTask]:
    """One task per piece still to do (or per first row in `starts`), writing into `tmp`."""
    out = []
    for a in sorted(pieces.left) if starts is None else starts:
        base = f"{task.dirname}-{task.shard:05d}-{a:06d}"
        out.append(
            ShardTask(
                task.spec,
                task.dirname,
                task.stage_key,
                task.shard,
                task.src,
                tmp / f"{base}.parquet",
                tmp / f"{base}.rejected.parquet",
                task.key,
                rows=(a, pieces.left[a]),
            )
        )
    return out


def piece_outcome(o: Outcome, pieces: Pieces, stage_name: str, tmp: Path) -> list[ShardTask]:
    """Record how a piece ended; returns the one-row tasks a dead worker's piece is redone as."""
    assert o.task.rows is not None
    a, b = o.task.rows
    if o.stats is not None:
        rej = o.task.rejected if o.task.rejected.exists() else None
        pieces.done[a] = (o.task.dest, rej, o.stats)
    elif o.died is not None and b - a > 1:  # find the row that kills the worker: one row per task
        del pieces.left[a]
        pieces.left.update({i: i + 1 for i in range(a, b)})
        return piece_tasks(o.task, pieces, tmp, starts=list(range(a, b)))
    elif o.died is not None:
        table, stats = failed_rows(stage_name, read_input(o.task.src, o.task.rows), o.died)
        write_part(table, o.task.dest)
        pieces.done[a] = (o.task.dest, None, stats)
    else:
        return []  # an error: the run stops; this shard stays undone
    pieces.left.pop(a, None)
    return []


def merge(folder: RunFolder, dirname: str, pieces: Pieces, task: ShardTask) -> ShardStats:
    """The shard's part from its pieces in row order, committed like any other part."""
    stats = ShardStats(shard=task.shard, key=task.key)
    kept, rejected = [], []
    for a in sorted(pieces.done):
        part, rej, s = pieces.done[a]
        kept.append(pq.read_table(part))
        if rej is not None:
            rejected.append(pq.read_table(rej))
        stats.add(s)
    combine.commit_shard(folder.stage(dirname), task.shard, kept, rejected, stats)
    folder.record_written(stats.files)
    for part, rej, _ in pieces.done.values():
        part.unlink(missing_ok=True)
        if rej is not None:
            rej.unlink(missing_ok=True)
    return stats
