"""Export a manifest for training: the driver every format shares.

Rows stream from the manifest in batches, are checked (`base.prepare`), optionally cut into clips
(`--materialize`, a bounded thread pool), and handed to the format's `write`. `--limit N` keeps the
first N rows that were actually written. Outputs are written to temp files and renamed into place;
the input manifest and media are never written. An export that would write nothing is an error
that says why, by reason, and touches no output. Formats that store each media file once
(`group_by_media`) get the rows sorted by path (DuckDB's external sort: bounded memory), so all
rows of one video arrive together.
"""

from __future__ import annotations

import itertools
import re
import tempfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pyarrow as pa

from vidcurate.core import registry
from vidcurate.core.errors import ConfigError, VidcurateError
from vidcurate.export.base import Exporter, Sample, SkipRow, prepare, safe_key
from vidcurate.export.materialize import ClipMaterializer
from vidcurate.export.options import ExportOptions, build_options
from vidcurate.export.skiplog import ExportResult, SkipLog
from vidcurate.io import manifest as mio


def exporter_class(fmt: str) -> type[Exporter[Any]]:
    cls: type[Exporter[Any]] = registry.exporters.get(fmt)
    return cls


def describe() -> list[tuple[str, str]]:
    """(name, one-line description) of every exporter."""
    return [(n, exporter_class(n).description) for n in registry.exporters.names()]


def options(fmt: str, params: dict[str, Any], where: str = "export") -> ExportOptions:
    """A format's options from plain values (CLI flags, `--opt`, a recipe step)."""
    return build_options(fmt, exporter_class(fmt).Options, params, where)


def bounded_map(
    fn: Callable[[Any], Any], items: Iterable[Any], workers: int, more: Callable[[int], bool]
) -> Iterator[tuple[Any, Any, BaseException | None]]:
    """Run `fn` over `items` on at most `workers` threads, yielding (item, result, error) in order.

    At most 2 x workers items are in flight; `more(pending)` says whether to start another one
    (so a --limit stops the work instead of queueing the whole manifest).
    """
    it = iter(items)
    window: deque[tuple[Any, Future[Any]]] = deque()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        exhausted = False
        while True:
            while not exhausted and len(window) < 2 * workers and more(len(window)):
                try:
                    item = next(it)
                except StopIteration:
                    exhausted = True
                    break
                window.append((item, pool.submit(fn, item)))
            if not window:
                return
            item, fut = window.popleft()
            result: Any = None
            error: BaseException | None = None
            try:
                result = fut.result()
            except (VidcurateError, OSError, ValueError) as e:
                error = e
            yield item, result, error


class EmptyExport(VidcurateError):
    """Every row was skipped (or the manifest is empty): nothing to train on, nothing written."""


def by_media(batches: Iterator[pa.Table], sort_memory: str = "1GB") -> Iterator[pa.Table]:
    """The rows sorted by `path`, in manifest order within one path (spills to disk past `sort_memory`)."""
    import duckdb

    first = next(batches, None)
    if first is None:
        return
    order = "_vc_order"
    out_schema = first.schema.append(pa.field(order, pa.int64()))

    def numbered() -> Iterator[pa.RecordBatch]:
        n = 0
        for t in itertools.chain([first], batches):
            t = t.cast(first.schema).append_column(order, pa.array(range(n, n + t.num_rows), pa.int64()))
            n += t.num_rows
            yield from t.to_batches()

    with tempfile.TemporaryDirectory(prefix="vidcurate-sort-") as tmp, duckdb.connect() as con:
        con.execute(f"SET temp_directory = '{tmp}'")
        con.execute(f"SET memory_limit = '{sort_memory}'")
        con.register("rows", pa.RecordBatchReader.from_batches(out_schema, numbered()))
        for batch in con.sql(f"SELECT * EXCLUDE ({order}) FROM rows ORDER BY path, {order}").to_arrow_reader(4096):
            yield pa.Table.from_batches([batch])


def _empty_message(fmt: str, manifest: Path, result: ExportResult) -> str:
    if not result.n_skipped:
        return f"export {fmt}: {manifest} has no rows; nothing written"
    kinds = ", ".join(f"{k}: {n}" for k, n in result.skipped.most_common())
    where = f"; every row and its reason: {result.skipped_file}" if result.skipped_file else ""
    return f"export {fmt}: no row can be exported, nothing written ({result.n_skipped} skipped: {kinds}){where}"


def dataset_name(cfg: ExportOptions, manifest: Path) -> str:
    name = cfg.name or re.sub(r"[^A-Za-z0-9_.-]+", "_", manifest.stem)
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name) or name.startswith("."):
        raise ConfigError(f"--name {name!r}: use letters, digits, '_', '-', '.'")
    return name


def _protect_inputs(manifest: Path, exporter: Exporter[Any]) -> None:
    """Refuse outputs that would replace the manifest, or a folder/file in the other's place."""
    src = manifest.resolve()
    for out in [*exporter.outputs(), exporter.skipped_path]:
        if out.resolve() == src:
            raise ConfigError(f"export output {out} is the input manifest; write it elsewhere")
        if out.is_dir():
            raise ConfigError(f"export output {out} is a folder; give a file name or another folder")
    if exporter.out_dir.exists() and not exporter.out_dir.is_dir():
        raise ConfigError(f"export output folder {exporter.out_dir} is an existing file")


def export(
    fmt: str,
    manifest: str | Path,
    cfg: ExportOptions | Mapping[str, Any],
    *,
    progress: Callable[[int], None] | None = None,
) -> ExportResult:
    """Export `manifest` to `fmt` per `cfg` (the format's options). Raises ConfigError for bad inputs."""
    manifest = Path(manifest)
    if not manifest.is_file():
        raise ConfigError(f"manifest {manifest} does not exist")
    cls = exporter_class(fmt)
    if not isinstance(cfg, cls.Options):
        cfg = options(fmt, dict(cfg) if isinstance(cfg, Mapping) else cfg.model_dump(exclude_unset=True))
    try:
        exporter = cls(cfg, dataset_name(cfg, manifest))
    except ValueError as e:
        raise ConfigError(str(e)) from None
    exporter.source_schema = mio.manifest_schema(manifest)
    _protect_inputs(manifest, exporter)
    cutter = ClipMaterializer(exporter) if cfg.materialize else None
    log = SkipLog(cfg.limit, exporter.skipped_path)
    keys: set[str] = set()
    seen_ids: dict[str, int] = {}
    protected = {manifest.resolve()}

    spans = 0

    def checked() -> Iterator[Sample]:
        nonlocal spans
        n = 0
        batches = (mio.ensure_ids(b, seen_ids) for b in mio.iter_manifest(manifest, batch_rows=4096))
        for batch in by_media(batches) if exporter.group_by_media else batches:
            for row in batch.to_pylist():
                n += 1
                if progress is not None:
                    progress(n)
                if not log.wanted():
                    return
                try:
                    sample = prepare(row, exporter)
                except SkipRow as e:
                    log.skip(str(row.get("id")), str(e))
                    continue
                if exporter.needs_media_file:  # keys name files and tar members; others need none
                    sample.key = safe_key(sample.id, keys)
                if sample.has_span and not cfg.materialize:
                    spans += 1
                yield sample

    def stream() -> Iterator[Sample]:
        if cutter is None:
            yield from checked()
            return
        for sample, clip, error in bounded_map(cutter, checked(), cfg.workers, log.wanted):
            if error is not None:
                log.skip(sample.id, str(error))
                continue
            if clip.src.resolve() in protected:
                log.skip(sample.id, f"clip {clip.src} would overwrite an input")
                continue
            yield clip

    samples = stream()
    try:
        first = next(samples, None)
        if first is None:  # nothing to write: no output is created or replaced
            raise EmptyExport(_empty_message(fmt, manifest, log.finish()))
        outputs = exporter.write(itertools.chain([first], samples), log)
    except EmptyExport:
        raise
    except BaseException:
        log.abort()
        raise
    result = log.finish()
    if result.written == 0:
        raise EmptyExport(_empty_message(fmt, manifest, result))
    result.outputs = outputs
    result.notes.extend(exporter.notes)
    if spans and exporter.spans_as_metadata:
        result.notes.append(
            f"{spans} rows have a span (start_s/end_s) written as metadata: a trainer that ignores it sees the "
            "whole video; --materialize cuts each span into its own clip"
        )
    return result
