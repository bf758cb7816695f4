"""`vidcurate export`: options -> ExportConfig, progress bar, and the one-screen summary."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from vidcurate.core.errors import ConfigError
from vidcurate.export import base

_UNITS = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}


def parse_bytes(text: str | None) -> int | None:
    """'500M', '2G', '1000000' -> bytes (decimal units, as tar shard sizes are usually quoted)."""
    if text is None:
        return None
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)b?\s*", text.lower())
    if not m:
        raise ConfigError(f"--shard-bytes {text!r}: use a number with an optional K/M/G suffix, e.g. 500M")
    return int(float(m.group(1)) * _UNITS[m.group(2)])


def parse_cut_options(items: list[str] | None, mode: str | None) -> dict[str, Any]:
    opts: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--cut {item!r}: use KEY=VALUE (e.g. --cut crf=23)")
        opts[key.strip()] = yaml.safe_load(value)
    if mode is not None:
        opts["mode"] = mode
    return opts


def list_formats(out: Console) -> None:
    for name, desc in base.describe():
        out.print(f"[bold]{name:<13}[/] {desc}", highlight=False, soft_wrap=True)


def run(
    fmt: str, manifest: Path, out: Console, err: Console, *, out_path: Path, progress: bool = True, **options: Any
) -> None:
    options["out"] = out_path
    try:
        cfg = base.ExportConfig(**{k: v for k, v in options.items() if v is not None})
    except ValidationError as e:
        from vidcurate.core.recipe import format_validation_error

        raise ConfigError(format_validation_error("export", base.ExportConfig, e)) from None
    total = _row_count(manifest)
    if progress:
        with Progress(
            TextColumn("export {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            transient=True,
        ) as bar:
            task = bar.add_task(fmt, total=total)
            result = base.export(fmt, manifest, cfg, progress=lambda n: bar.update(task, completed=n))
    else:
        result = base.export(fmt, manifest, cfg)
    _summary(result, out)


def _row_count(manifest: Path) -> int | None:
    if manifest.suffix.lower() in (".parquet", ".pq") and manifest.is_file():
        import pyarrow.parquet as pq

        try:
            return pq.ParquetFile(manifest).metadata.num_rows
        except Exception:  # an unreadable file is reported by the export itself
            return None
    return None


def _summary(result: base.ExportResult, out: Console) -> None:
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
