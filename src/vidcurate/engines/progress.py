"""Progress of a run: one bar per stage, shards done out of all, rows seen, elapsed time and ETA."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class RunProgress:
    """Bars advance per shard (stages run at once, so every stage has its own ETA)."""

    def __init__(self, console: Console, stages: list[str], shards: int, *, enabled: bool = True) -> None:
        self.progress = Progress(
            TextColumn("[bold]{task.description:<18}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("shards  {task.fields[rows]:>8} rows"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=console,
            disable=not enabled,
            transient=False,
        )
        self.tasks: list[TaskID] = [self.progress.add_task(s, total=max(shards, 1), rows=0) for s in stages]
        self.rows = [0] * len(stages)
        self.progress.start()

    def resumed(self, stage: int, shards: int, rows: int) -> None:
        """Shards an earlier invocation finished (they do not count toward the ETA's speed)."""
        self.rows[stage] += rows
        self.progress.reset(self.tasks[stage], completed=shards, rows=self.rows[stage])

    def shard_done(self, stage: int, rows: int) -> None:
        self.rows[stage] += rows
        self.progress.update(self.tasks[stage], advance=1, rows=self.rows[stage])

    def stop(self) -> None:
        self.progress.stop()
