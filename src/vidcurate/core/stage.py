"""The stage contract: a typed config, `setup()` once per worker, `process(batch) -> batch`.

Stages never import an engine. They receive an Arrow table of healthy rows (rows whose `error`
is set are held back by the engine unless the stage says it wants them), and return a table.
A stage may add columns (mapper), drop rows by marking them rejected (filter), or turn one row
into many (splitter). Per-row failures become data: the row keeps flowing with `error` set.
"""

from __future__ import annotations

import traceback
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa
from pydantic import BaseModel, ConfigDict

from vidcurate.core import schema
from vidcurate.core.errors import RowError


class StageConfig(BaseModel):
    """Base of every stage's config: unknown keys are errors, values are validated on load."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class Resources:
    """What one worker of the stage needs; the Ray engine maps this to actor resources."""

    cpus: float = 1.0
    gpus: float = 0.0
    gpu_mem_gb: float = 0.0


class Stage(ABC):
    """Base class of all stages. Subclasses set the class variables and implement `process`."""

    name: ClassVar[str]
    Config: ClassVar[type[StageConfig]] = StageConfig
    resources: ClassVar[Resources] = Resources()
    requires: ClassVar[tuple[str, ...]] = ("id", "path")
    provides: ClassVar[tuple[str, ...]] = ()
    # Filters must see error rows (to drop or keep them); mappers should not re-fail them.
    sees_errors: ClassVar[bool] = False

    def __init__(self, config: StageConfig | None = None) -> None:
        self.config = config if config is not None else self.Config()
        # The run folder, set by the engine before setup(): stages that write files (cut, thumbnails)
        # put them under it by default, so a run's outputs stay together.
        self.run_dir: Path | None = None

    def setup(self) -> None:  # noqa: B027 - optional hook
        """Load models or open resources. Called once per worker before the first batch."""

    def needs(self) -> Resources:
        """Resources of this configured stage (a model on a GPU only when the config asks for one)."""
        return self.resources

    def required_columns(self) -> tuple[str, ...]:
        """Columns this configured stage reads. Override when they depend on the config."""
        return self.requires

    @abstractmethod
    def process(self, batch: pa.Table) -> pa.Table:
        """Transform a batch. Must not raise for a bad row: mark the row instead."""


class RowStage(Stage):
    """A stage that handles one row at a time; an exception in one row marks only that row.

    `process_row` returns a dict of the columns it adds (a mapper), or a list of such dicts
    (a splitter: each becomes a new row carrying the parent's other columns).
    """

    @abstractmethod
    def process_row(self, row: dict[str, Any]) -> Mapping[str, Any] | list[Mapping[str, Any]]:
        """Work on one row; raise `RowError` for a known bad input."""

    def process(self, batch: pa.Table) -> pa.Table:
        out: list[dict[str, Any]] = []
        for row in batch.to_pylist():
            try:
                result = self.process_row(row)
            except RowError as e:
                out.append({**row, **mark_error(self.name, e.kind, e.message)})
                continue
            except Exception as e:  # a bug or an unforeseen input: keep the row, say what happened
                out.append({**row, **mark_error(self.name, type(e).__name__, _one_line(e))})
                continue
            if isinstance(result, list):
                out.extend({**row, **r} for r in result)
            else:
                out.append({**row, **result})
        return schema.from_rows(out, like=batch.schema)


def mark_error(stage: str, kind: str, message: str) -> dict[str, str]:
    """The two error columns for a row that failed in `stage`."""
    return {"error": f"{stage}: {message}", "error_kind": f"{stage}:{kind}"}


def _one_line(e: BaseException) -> str:
    tb = traceback.extract_tb(e.__traceback__)
    where = f" (at {tb[-1].filename.rsplit('/', 1)[-1]}:{tb[-1].lineno})" if tb else ""
    return f"{type(e).__name__}: {e}{where}".replace("\n", " ")

