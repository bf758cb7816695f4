"""Filter rows with a DuckDB SQL predicate plus the shortcut flags Open-Sora users know.

Filtering never scores anything, so thresholds change without re-running the expensive stages.
Every rejected row keeps a reason (the first condition it failed) and is written to a rejected
file, so nothing disappears without a trace. A condition whose value is missing (NULL) fails.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ClassVar

import duckdb
import pyarrow as pa
from pydantic import AfterValidator, Field

from vidcurate.core import schema
from vidcurate.core.errors import ConfigError
from vidcurate.core.stage import Columns, NonBlankStr, Stage, StageConfig, StageContext
from vidcurate.io import manifest as mio
from vidcurate.io.fs import atomic_path


class FilterConfig(StageConfig):
    """Keep rows that satisfy every condition given."""

    where: SqlPredicate | None = Field(None, description="SQL predicate over manifest columns (DuckDB dialect)")
    fmin: int | None = Field(None, description="minimum num_frames")
    fmax: int | None = Field(None, description="maximum num_frames")
    dmin: float | None = Field(None, description="minimum duration_s")
    dmax: float | None = Field(None, description="maximum duration_s")
    min_width: int | None = None
    min_height: int | None = None
    min_side: int | None = Field(None, description="minimum of width and height (displayed)")
    ar_min: float | None = Field(None, description="minimum aspect ratio, width / height")
    ar_max: float | None = Field(None, description="maximum aspect ratio, width / height")
    drop_errors: bool = Field(False, description="reject rows whose `error` is set")
    max_decode_errors: int | None = Field(
        None, ge=0, description="maximum decoder errors met in the video (probe, split and cut count them)"
    )


def _parses(where: str) -> str:
    """A `where` must at least be SQL DuckDB can parse (found when the recipe loads, not mid-run)."""
    try:
        duckdb.extract_statements(f"SELECT 1 FROM t WHERE ({where}\n)")
    except duckdb.Error as e:
        raise ValueError(f"not a valid SQL predicate: {str(e).splitlines()[0]}") from None
    return where


SqlPredicate = Annotated[NonBlankStr, AfterValidator(_parses)]


@dataclass(frozen=True)
class Condition:
    label: str  # shown as the reject reason
    sql: str  # the predicate; NULL counts as failed
    columns: tuple[str, ...]


def conditions(cfg: FilterConfig) -> list[Condition]:
    """The config as an ordered list of named SQL conditions (errors first)."""
    out: list[Condition] = []
    if cfg.drop_errors:
        out.append(Condition("error", "error IS NULL", ("error", "error_kind")))

    def bound(col: str, op: str, value: Any, flag: str) -> None:
        if value is not None:
            out.append(Condition(f"{col} {op} {value} ({flag})", f'"{col}" {op} {value!r}', (col,)))

    bound("num_frames", ">=", cfg.fmin, "fmin")
    bound("num_frames", "<=", cfg.fmax, "fmax")
    bound("duration_s", ">=", cfg.dmin, "dmin")
    bound("duration_s", "<=", cfg.dmax, "dmax")
    bound("width", ">=", cfg.min_width, "min_width")
    bound("height", ">=", cfg.min_height, "min_height")
    if cfg.max_decode_errors is not None:
        n = cfg.max_decode_errors
        out.append(
            Condition(
                f"decode_errors <= {n} (max_decode_errors)", f"coalesce(decode_errors, 0) <= {n}", ("decode_errors",)
            )
        )
    if cfg.min_side is not None:
        out.append(
            Condition(
                f"least(width, height) >= {cfg.min_side} (min_side)",
                f"least(width, height) >= {cfg.min_side}",
                ("width", "height"),
            )
        )
    ar = "(width::DOUBLE * coalesce(sar, 1.0) / nullif(height, 0))"
    if cfg.ar_min is not None:
        out.append(Condition(f"aspect >= {cfg.ar_min} (ar_min)", f"{ar} >= {cfg.ar_min!r}", ("width", "height", "sar")))
    if cfg.ar_max is not None:
        out.append(Condition(f"aspect <= {cfg.ar_max} (ar_max)", f"{ar} <= {cfg.ar_max!r}", ("width", "height", "sar")))
    if cfg.where:
        out.append(Condition(cfg.where.strip(), cfg.where, ()))
    return out


def reason_sql(conds: list[Condition]) -> str:
    """A CASE expression giving the first failed condition's label, or NULL for a kept row."""
    if not conds:
        return "NULL::VARCHAR"
    parts = []
    for c in conds:
        label = c.label.replace("'", "''")
        if c.label == "error":
            parts.append(f"WHEN NOT coalesce(({c.sql}), false) THEN 'error: ' || coalesce(error_kind, 'error')")
        else:
            parts.append(f"WHEN ({c.sql}) IS NULL THEN '{label} [value missing]'")
            parts.append(f"WHEN NOT ({c.sql}) THEN '{label}'")
    return "CASE " + " ".join(parts) + " ELSE NULL END"


def _sql_error(e: duckdb.Error, columns: list[str]) -> ConfigError:
    msg = str(e).splitlines()[0]
    return ConfigError(f"filter: {msg} (columns available: {', '.join(columns)})")


class RowFilter(Stage[FilterConfig]):
    """The `filter` stage: marks rows that fail a condition as rejected, with the reason."""

    name: ClassVar[str] = "filter"
    requires: ClassVar[tuple[str, ...]] = ("id",)
    sees_errors: ClassVar[bool] = True
    reads_media: ClassVar[bool] = False

    def __init__(self, config: FilterConfig | None = None) -> None:
        super().__init__(config)
        self._conds = conditions(self.config)
        self._reason = reason_sql(self._conds)
        self._con: duckdb.DuckDBPyConnection | None = None

    def required_columns(self) -> tuple[str, ...]:
        cols = {c for cond in self._conds for c in cond.columns}
        return tuple(sorted(cols))

    def check_input(self, columns: Columns) -> None:
        """The conditions bind against the columns this stage will get (an unknown name fails now)."""
        empty = pa.table({n: pa.array([], t if not pa.types.is_null(t) else pa.string()) for n, t in columns.items()})
        empty = _with_missing_columns(empty, self.required_columns())
        with duckdb.connect() as con:
            con.register("_batch", empty)
            try:
                con.execute(f"SELECT {self._reason} AS r FROM _batch").fetchall()
            except duckdb.Error as e:
                raise _sql_error(e, empty.column_names) from None

    def setup(self, ctx: StageContext | None = None) -> None:
        super().setup(ctx)
        self._con = duckdb.connect()
        self._con.execute("SET threads TO 1")

    def teardown(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None

    def process(self, batch: pa.Table) -> pa.Table:
        if self._con is None:
            raise RuntimeError("filter: setup() was not called (use `with stage.running(): ...`)")
        batch = _with_missing_columns(batch, self.required_columns())
        self._con.register("_batch", batch)
        try:
            reasons = _arrow(self._con.sql(f"SELECT {self._reason} AS r FROM _batch"))
        except duckdb.Error as e:
            raise _sql_error(e, batch.column_names) from None
        finally:
            self._con.unregister("_batch")
        return batch.append_column(schema.REJECT, reasons.column(0).cast(pa.string()))


def _with_missing_columns(batch: pa.Table, cols: tuple[str, ...]) -> pa.Table:
    """Columns named by the flags but absent (e.g. every row failed probe) read as NULL."""
    for c in cols:
        if c not in batch.column_names:
            batch = batch.append_column(c, pa.nulls(batch.num_rows, type=schema.arrow_type(c) or pa.string()))
    return batch


@dataclass(frozen=True)
class FilterResult:
    kept: int
    rejected: int
    output: Path
    rejected_path: Path


def filter_file(src: str | Path, dest: str | Path, rejected: str | Path, cfg: FilterConfig) -> FilterResult:
    """Filter a manifest file to `dest`, writing rejected rows with `reject_reason` to `rejected`.

    Parquet in and out stream through DuckDB, so memory stays bounded whatever the size.
    """
    src, dest, rejected = Path(src), Path(dest), Path(rejected)
    for out in (dest, rejected):
        if out.resolve() == src.resolve():
            raise ConfigError(f"refusing to overwrite the input manifest {src}; choose another output path")
    if dest.resolve() == rejected.resolve():
        raise ConfigError("the kept and rejected outputs must be different files")
    with duckdb.connect() as con:
        return _filter_with(con, src, dest, rejected, conditions(cfg))


def _filter_with(
    con: duckdb.DuckDBPyConnection, src: Path, dest: Path, rejected: Path, conds: list[Condition]
) -> FilterResult:
    if mio.manifest_format(src) == "parquet":
        if not src.is_file():
            raise ConfigError(f"manifest {src} does not exist")
        from_sql = f"read_parquet('{_q(src)}')"
        columns = mio.manifest_schema(src).names
    else:
        table = mio.read_manifest(src)
        con.register("_src", table)
        from_sql = "_src"
        columns = table.column_names
    missing = sorted({c for cond in conds for c in cond.columns} - set(columns))
    cast_missing = ", ".join(f'NULL::{_duck_type(c)} AS "{c}"' for c in missing)
    base = f"(SELECT *{', ' + cast_missing if cast_missing else ''} FROM {from_sql})"
    reason = reason_sql(conds)
    drop = f" EXCLUDE ({', '.join(repr(c) for c in missing)})" if missing else ""
    try:
        con.execute(f"CREATE TEMP VIEW _r AS SELECT *, {reason} AS __reason FROM {base}")
        kept_sql = f"SELECT *{_exclude(drop, '__reason')} FROM _r WHERE __reason IS NULL"
        rej_sql = (
            f"SELECT *{_exclude(drop, '__reason')}, __reason AS reject_reason, 'filter' AS rejected_by "
            "FROM _r WHERE __reason IS NOT NULL"
        )
        n_kept = _copy(con, kept_sql, dest)
        n_rej = _copy(con, rej_sql, rejected)
    except duckdb.Error as e:
        raise _sql_error(e, list(columns)) from None
    return FilterResult(kept=n_kept, rejected=n_rej, output=dest, rejected_path=rejected)


def _exclude(drop: str, extra: str) -> str:
    if drop:
        return drop[:-1] + f", {extra})"
    return f" EXCLUDE ({extra})"


def _q(p: Path) -> str:
    return str(p).replace("'", "''")


def _duck_type(col: str) -> str:
    t = schema.arrow_type(col)
    if t is None or pa.types.is_string(t):
        return "VARCHAR"
    if pa.types.is_floating(t):
        return "DOUBLE"
    if pa.types.is_boolean(t):
        return "BOOLEAN"
    return "BIGINT"


def _arrow(rel: duckdb.DuckDBPyRelation) -> pa.Table:
    """A relation's result as Arrow (the method's name changed across DuckDB releases)."""
    fn = getattr(rel, "to_arrow_table", None) or rel.arrow
    return fn()


def _copy(con: duckdb.DuckDBPyConnection, sql: str, dest: Path) -> int:
    """Run `sql` into `dest` (format by extension), atomically; returns the row count."""
    if mio.manifest_format(dest) != "parquet":
        table = _arrow(con.sql(sql))
        mio.write_manifest(table, dest)
        return table.num_rows
    with atomic_path(dest) as tmp:
        row = con.execute(f"COPY ({sql}) TO '{_q(tmp)}' (FORMAT parquet, COMPRESSION zstd)").fetchone()
    return int(row[0]) if row else 0
