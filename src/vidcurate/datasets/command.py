"""`vidcurate convert`: flags -> Settings, a progress line, and the summary (problems on stderr)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from vidcurate.core.errors import ConfigError
from vidcurate.datasets import registry
from vidcurate.datasets.base import Settings
from vidcurate.datasets.convert import ConvertResult, convert_to_file, options_help, parse_options

SHOWN_PROBLEMS = 5


def list_datasets(out: Console, dataset: str | None = None) -> None:
    """One line per dataset; with a name, that dataset's own --opt keys too."""
    if dataset is not None:
        cls = registry.get(dataset)
        out.print(f"[bold]{cls.name}[/]  {cls.description}", highlight=False, soft_wrap=True)
        for line in options_help(cls) or ["(no --opt options)"]:
            out.print(f"    --opt {line}", highlight=False, soft_wrap=True)
        return
    for name, desc in registry.describe():
        out.print(f"[bold]{name:<21}[/] {desc}", highlight=False, soft_wrap=True)


def run(
    dataset: str,
    annotations: Sequence[Path],
    output: Path,
    out: Console,
    err: Console,
    *,
    root_map: Sequence[str] = (),
    opt: Sequence[str] = (),
    progress: bool = True,
    **settings: Any,
) -> ConvertResult:
    """Convert, write the manifest, print the summary; input problems go to stderr, never abort."""
    roots = {k: Path(v) for k, v in parse_options(root_map, "--root-map").items()}
    try:
        cfg = Settings(roots=roots, **{k: v for k, v in settings.items() if v is not None})
    except ValidationError as e:
        from vidcurate.core.recipe import format_validation_error

        raise ConfigError(format_validation_error("convert", Settings, e)) from None
    options = parse_options(opt)
    if progress:
        with Progress(
            SpinnerColumn(),
            TextColumn("convert " + dataset + " {task.description}"),
            TimeElapsedColumn(),
            console=err,
            transient=True,
        ) as bar:
            task = bar.add_task("")
            res = convert_to_file(
                dataset,
                annotations,
                output,
                cfg,
                options,
                progress=lambda what, n: bar.update(task, description=f"{n} {what}"),
            )
    else:
        res = convert_to_file(dataset, annotations, output, cfg, options)
    summary(res, output, out, err)
    return res


def summary(res: ConvertResult, output: Path, out: Console, err: Console) -> None:
    bad = sum(res.errors.values())
    out.print(f"{res.rows} rows ({res.rows - bad} ok, {bad} with errors) -> {output}", highlight=False, soft_wrap=True)
    if res.errors:
        kinds = ", ".join(f"{k} {n}" for k, n in res.errors.most_common())
        out.print(f"row errors: {kinds}", highlight=False, soft_wrap=True)
    if res.issues.count:
        err.print(
            f"[yellow]{res.issues.count} problems in the input[/] (first {min(SHOWN_PROBLEMS, res.issues.count)}):",
            highlight=False,
        )
        for msg in res.issues.messages[:SHOWN_PROBLEMS]:
            err.print(f"  {msg}", highlight=False, soft_wrap=True, markup=False)
