"""Export a manifest for training: the driver every format shares.

Rows stream from the manifest in batches, are checked (`base.prepare`), optionally cut into clips
(`--materialize`, a bounded thread pool), and handed to the format's `write`. `--limit N` keeps the
first N rows that were actually written. Outputs are written to temp files and renamed into place;
the input manifest and media are never written. An export that writes nothing is an error that
says why, by reason.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

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

    def checked() -> Iterator[Sample]:
        n = 0
        for batch in mio.iter_manifest(manifest, batch_rows=4096):
            batch = mio.ensure_ids(batch, seen_ids)
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

    try:
        outputs = exporter.write(stream(), log)
    except BaseException:
        log.abort()
        raise
    result = log.finish()
    result.outputs = outputs
    result.notes.extend(exporter.notes)
    return result
