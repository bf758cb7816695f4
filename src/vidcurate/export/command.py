"""`vidcurate export`: flags -> the format's typed options, a progress bar, the one-screen summary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ByteSize, TypeAdapter, ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from vidcurate.core.errors import ConfigError
from vidcurate.export import driver
from vidcurate.export.skiplog import ExportResult


def key_values(items: list[str] | None, flag: str) -> dict[str, Any]:
    """`KEY=VALUE` items (values read as YAML: numbers, booleans, lists) -> a dict."""
    opts: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{flag} {item!r}: use KEY=VALUE (e.g. {flag} crf=23)")
        opts[key.strip().replace("-", "_")] = yaml.safe_load(value)
    return opts


def parse_bytes(text: str | None) -> int | None:
    """'500M', '2G', '1000000' -> bytes (decimal units, as tar shard sizes are usually quoted)."""
    if text is None:
        return None
    try:
        return int(TypeAdapter(ByteSize).validate_python(text))
    except ValidationError:
        raise ConfigError(f"--shard-bytes {text!r}: use a number with an optional K/M/G suffix, e.g. 500M") from None


def list_formats(out: Console) -> None:
    for name, desc in driver.describe():
        out.print(f"[bold]{name:<13}[/] {desc}", highlight=False, soft_wrap=True)


def run(
    fmt: str,
    manifest: Path,
    stdout: Console,
    stderr: Console,
    *,
    progress: bool = True,
    opt: list[str] | None = None,
    cut: list[str] | None = None,
    **flags: Any,
) -> ExportResult:
    """Validate the options for `fmt` (flags given, `--opt` and `--cut` items), export, print a summary."""
    params = {k: v for k, v in flags.items() if v is not None and (v is not False or k == "check_media")}
    params.update(key_values(opt, "--opt"))
    cut_params = key_values(cut, "--cut")
    if cut_params:
        params["cut"] = {**params.get("cut", {}), **cut_params}
    cfg = driver.options(fmt, params)
    total = _row_count(manifest)
    if progress:
        with Progress(
            TextColumn("export {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=stderr,
            transient=True,
        ) as bar:
            task = bar.add_task(fmt, total=total)
            result = driver.export(fmt, manifest, cfg, progress=lambda n: bar.update(task, completed=n))
    else:
        result = driver.export(fmt, manifest, cfg)
    summary(result, stdout)
    return result


def _row_count(manifest: Path) -> int | None:
    if manifest.suffix.lower() in (".parquet", ".pq") and manifest.is_file():
        import pyarrow.parquet as pq

        try:
            return int(pq.ParquetFile(manifest).metadata.num_rows)
        except Exception:
            return None
    return None


def summary(result: ExportResult, out: Console) -> None:
    shown = ", ".join(str(p) for p in result.outputs[:3]) + (" ..." if len(result.outputs) > 3 else "")
    out.print(f"exported {result.written} rows -> {shown}", highlight=False, soft_wrap=True)
    if result.n_skipped:
        kinds = ", ".join(f"{k}: {n}" for k, n in result.skipped.most_common())
        out.print(f"[yellow]skipped {result.n_skipped}[/] ({kinds})", highlight=False, soft_wrap=True)
        for row_id, reason in result.examples:
            out.print(f"  {row_id}: {reason}", highlight=False, soft_wrap=True)
        if result.skipped_file is not None:
            out.print(f"  every skipped row and its reason: {result.skipped_file}", highlight=False, soft_wrap=True)
    for note in result.notes:
        out.print(f"[cyan]note:[/] {note}", highlight=False, soft_wrap=True)
