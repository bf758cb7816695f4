"""The stage contract: a typed config, `setup(ctx)` and `teardown()` once per worker, `process(batch)`.

Stages never import an engine. They receive an Arrow table of healthy rows (rows whose `error`
is set are held back by the engine unless the stage says it wants them), and return a table.
A stage may add columns (mapper), drop rows by marking them rejected (filter), or turn one row
into many (splitter). Per-row failures become data through `core.errors.row_error`.

    class Prober(RowStage[ProbeConfig]):
        name = "probe"
        columns = {"fps": pa.float64(), ...}      # what it adds, typed; the schema collects them
        def process_row(self, row): ...

The config class is read from the type argument; `self.config` is typed as it. The engine builds a
stage, calls `setup(ctx)` once in each worker that runs it, `process` per shard, and `teardown()`
once when the run ends. `ctx` (a `StageContext`) is the stage's only view of the run folder: where
its output files go and how to record them, so the run can remove files no row references any more.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, ClassVar, Generic, Protocol, TypeVar, cast, get_args, get_origin

import pyarrow as pa
from pydantic import AfterValidator, BaseModel, ConfigDict

from vidcurate.core import schema
from vidcurate.core.errors import ConfigError, RowError, row_error

Columns = Mapping[str, pa.DataType]


class StageConfig(BaseModel):
    """Base of every stage's config: unknown keys are errors, values are validated on load."""

    model_config = ConfigDict(extra="forbid", frozen=True)


C = TypeVar("C", bound=StageConfig)


def _not_blank(v: str) -> str:
    if not v.strip():
        raise ValueError("must not be empty")
    return v


NonBlankStr = Annotated[str, AfterValidator(_not_blank)]  # a config string that may not be blank


@dataclass(frozen=True)
class Resources:
    """What one worker of the stage needs. The Ray engine maps this to actor resources; the local
    engine caps how many shards of the stage run at once (`max_workers`, one per GPU for GPU stages)."""

    cpus: float = 1.0
    gpus: float = 0.0
    gpu_mem_gb: float = 0.0
    max_workers: int | None = None


class Outputs(Protocol):
    """Where a run keeps stage outputs (implemented by `io.runfolder.RunFolder`)."""

    def output_dir(self, kind: str) -> Path: ...

    @property
    def tmp_dir(self) -> Path: ...


@dataclass
class StageContext:
    """What the engine tells a stage: where its files go, which worker it is, which device to use.

    Without a run (a stage used from Python), `output_dir` needs the stage's own config to name
    a folder; `StageContext.detached()` is that context.
    """

    stage: str
    worker: int = 0
    device: str = "auto"
    outputs: Outputs | None = None
    # A barrier stage's whole input: every shard's part of the stage before it (a global match reads them).
    upstream: tuple[Path, ...] = ()
    _written: list[str] = field(default_factory=list, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @classmethod
    def detached(cls, stage: str = "stage") -> StageContext:
        return cls(stage=stage)

    @property
    def in_run(self) -> bool:
        return self.outputs is not None

    def output_dir(self, kind: str) -> Path:
        """The run's folder for outputs of one kind (`clips`, `thumbs`, `crops`, ...), created."""
        if self.outputs is None:
            raise ConfigError(f"{self.stage}: no run folder to write {kind}/ into; give the stage an output folder")
        d = self.outputs.output_dir(kind)
        d.mkdir(parents=True, exist_ok=True)
        return d

    @property
    def tmp_dir(self) -> Path | None:
        return self.outputs.tmp_dir if self.outputs is not None else None

    def record(self, path: str | Path) -> None:
        """A file this stage wrote for a row: the run removes it once no row references it."""
        with self._lock:
            self._written.append(str(path))

    def take_written(self) -> list[str]:
        """The files recorded since the last call (the engine stores them with the shard)."""
        with self._lock:
            out, self._written = self._written, []
        return out

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_lock", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()


class Stage(ABC, Generic[C]):
    """Base class of all stages. Subclasses set the class variables and implement `process`."""

    name: ClassVar[str]
    Config: ClassVar[type[StageConfig]] = StageConfig
    resources: ClassVar[Resources] = Resources()
    requires: ClassVar[tuple[str, ...]] = ("id", "path")
    columns: ClassVar[Columns] = {}  # declared output columns and their Arrow types
    # Filters must see error rows (to drop or keep them); mappers should not re-fail them.
    sees_errors: ClassVar[bool] = False
    # Whether the stage opens the row's media file: then a replaced file invalidates its shard.
    reads_media: ClassVar[bool] = True
    # A barrier stage starts only once every shard of the stage before it is done.
    barrier: ClassVar[bool] = False
    # Each row's output depends on that row alone: the engine may then run a big shard as row
    # pieces on several workers (`engines/pieces.py`). Row stages and LLM stages are.
    row_local: ClassVar[bool] = False
    # Error kinds that say "try again later" (a timeout), not "this row is bad": a rerun redoes
    # the shards that have them, without --overwrite.
    retryable_errors: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "Config" not in cls.__dict__:
            for base in getattr(cls, "__orig_bases__", ()):
                if get_origin(base) is not None:
                    args = [a for a in get_args(base) if isinstance(a, type) and issubclass(a, StageConfig)]
                    if args:
                        cls.Config = args[0]
                        break
        if cls.__dict__.get("columns"):
            schema.declare(f"stage {cls.__dict__.get('name', cls.__qualname__)}", cls.columns)

    def __init__(self, config: C | None = None) -> None:
        self.config: C = config if config is not None else cast(C, self.Config())
        self.context: StageContext = StageContext.detached(getattr(self, "name", type(self).__name__))

    def setup(self, ctx: StageContext | None = None) -> None:
        """Load models or open resources. Called once per worker before the first batch.

        The engine passes the run's context; from Python, without a run, a detached one is used.
        """
        self.context = ctx if ctx is not None else StageContext.detached(self.name)

    def teardown(self) -> None:
        """Release what `setup` took (models, connections, threads). Called once per worker."""

    @contextmanager
    def running(self, ctx: StageContext | None = None) -> Iterator[Stage[C]]:
        """`setup` then `teardown` around a block: the engine's lifecycle, for use from Python."""
        self.setup(ctx)
        try:
            yield self
        finally:
            self.teardown()

    def check_input(self, columns: Columns) -> None:
        """Fail before the run when the columns the stage will get make it fail every row (a bad SQL name)."""

    def preflight(self) -> None:
        """Check, once before a run and on the driver, what would fail every row (a server, a model)."""

    def needs(self) -> Resources:
        """Resources of this configured stage (a model on a GPU only when the config asks for one)."""
        return self.resources

    def required_columns(self) -> tuple[str, ...]:
        """Columns this configured stage reads. Override when they depend on the config."""
        return self.requires

    def output_columns(self) -> Columns:
        """Columns this configured stage adds, with their types. Override when they depend on the config."""
        return self.columns

    @abstractmethod
    def process(self, batch: pa.Table) -> pa.Table:
        """Transform a batch. Must not raise for a bad row: mark the row instead."""


class RowStage(Stage[C]):
    """A stage that handles one row at a time; an exception in one row marks only that row.

    `process_row` returns a dict of the columns it adds (a mapper), or a list of such dicts
    (a splitter: each becomes a new row carrying the parent's other columns).
    """

    row_local: ClassVar[bool] = True

    @abstractmethod
    def process_row(self, row: dict[str, Any]) -> Mapping[str, Any] | list[Mapping[str, Any]]:
        """Work on one row; raise `RowError` for a known bad input."""

    def row_threads(self) -> int:
        """Rows worked on at once, on threads (a stage waiting on ffmpeg or I/O raises it)."""
        return 1

    def process(self, batch: pa.Table) -> pa.Table:
        rows = batch.to_pylist()
        threads = min(self.row_threads(), len(rows))
        if threads > 1:
            with ThreadPoolExecutor(max_workers=threads, thread_name_prefix=f"vidcurate-{self.name}") as pool:
                results = list(pool.map(self.apply, rows))
        else:
            results = [self.apply(r) for r in rows]
        out = [r for rs in results for r in rs]
        return schema.from_rows(out, like=batch.schema, types=self.output_columns())

    def apply(self, row: dict[str, Any]) -> list[dict[str, Any]]:
        """The rows `process_row` makes of one row, or the row with its error."""
        try:
            result = self.process_row(row)
        except Exception as e:  # a bug or an unforeseen input: keep the row, say what happened
            return [{**row, **row_error(self.name, e)}]
        if isinstance(result, list):
            return [{**row, **r} for r in result]
        return [{**row, **result}]


__all__ = [
    "Columns",
    "NonBlankStr",
    "Outputs",
    "Resources",
    "RowError",
    "RowStage",
    "Stage",
    "StageConfig",
    "StageContext",
]
