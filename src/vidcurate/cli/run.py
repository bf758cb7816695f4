"""Commands over runs: run (and its dry run), report, view."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from vidcurate.cli.app import app, err, out
from vidcurate.core.errors import ConfigError

if TYPE_CHECKING:
    from vidcurate.core.recipe import Recipe
    from vidcurate.engines.plan import StagePlan
    from vidcurate.engines.source import SourceInfo


@app.command()
def run(
    recipe: Annotated[str, typer.Argument(help="recipe YAML, or a packaged recipe's name (default, caption)")],
    input: Annotated[Path, typer.Option("--input", "-i", help="a folder of videos or a manifest file")],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="run folder (created; resumable)")],
    workers: Annotated[int | None, typer.Option(help="worker processes (default: cores)")] = None,
    shard_size: Annotated[int | None, typer.Option(help="rows per shard (default: auto)")] = None,
    overwrite: Annotated[bool, typer.Option(help="redo every stage (removes only this run's stage folders)")] = False,
    progress: Annotated[bool, typer.Option(help="show progress bars")] = True,
    engine: Annotated[str | None, typer.Option(help="local | ray (default: the recipe's, else local)")] = None,
    ray_address: Annotated[str | None, typer.Option(help="Ray cluster address, e.g. auto")] = None,
    dry_run: Annotated[
        bool, typer.Option(help="print what would run (resumed and redone shards, why); run nothing")
    ] = (False),
) -> None:
    """Run a recipe. A rerun resumes; a changed stage config redoes that stage and the later ones."""
    from vidcurate import engines
    from vidcurate.core.recipe import load_recipe
    from vidcurate.report.summary import print_summary

    r = load_recipe(recipe)
    if engine not in (None, "local", "ray"):
        raise ConfigError(f"--engine must be local or ray, got {engine!r}")
    extra = {"address": ray_address} if (engine or r.engine.kind) == "ray" else {}
    runner = engines.create(
        r,
        out_dir,
        kind=engine,
        workers=workers,
        shard_size=shard_size,
        overwrite=overwrite,
        console=err,
        progress=progress,
        **extra,
    )
    if dry_run:
        print_plan(r, out_dir, *runner.dry_run(input))
        return
    summary = runner.run(input)
    print_summary(summary, out)
    try:  # the report is a view of the run: its failure must never fail the run
        from vidcurate.report.html import write_report

        out.print(f"report in [cyan]{write_report(out_dir, console=err)}[/]  (browse: vidcurate view {out_dir})")
    except Exception as e:
        err.print(f"[yellow]warning:[/] the run finished but its report was not written: {e}", highlight=False)


def print_plan(recipe: Recipe, out_dir: Path, source: SourceInfo, plans: list[StagePlan]) -> None:
    """The dry run's table: per stage, shards resumed and redone, and why."""
    from rich.table import Table

    out.print(
        f"plan for [bold]{recipe.source}[/] -> [cyan]{out_dir}[/]: {source.rows} input rows in {source.shards} shards "
        f"of {source.shard_size} (nothing was run or written)",
        highlight=False,
        soft_wrap=True,
    )
    t = Table(title_justify="left")
    for col in ("stage", "resume", "redo", "why"):
        t.add_column(col, justify="left" if col in ("stage", "why") else "right", no_wrap=col != "why")
    for p in plans:
        reasons = Counter(p.todo.values())
        why = ", ".join(f"{why} ({n})" for why, n in reasons.most_common()) or "-"
        t.add_row(p.dirname, str(len(p.done)), str(len(p.todo)), why)
    out.print(t)
    for step in recipe.exports:
        out.print(f"export {step.format}: runs on the final manifest once every stage is done", highlight=False)


@app.command()
def report(
    run_dir: Annotated[Path, typer.Argument(help="a run folder (vidcurate run --out)")],
    output: Annotated[Path | None, typer.Option("-o", "--output", help="HTML file (RUN_DIR/report.html)")] = None,
) -> None:
    """Write one self-contained HTML report of a run: funnel, histograms with thresholds, thumbnails, errors."""
    from vidcurate.report.html import write_report

    out.print(f"report in [cyan]{write_report(run_dir, output, console=err)}[/]")


@app.command()
def view(
    run_dir: Annotated[Path, typer.Argument(help="a run folder (vidcurate run --out)")],
    port: Annotated[int, typer.Option(help="port to listen on")] = 8765,
    host: Annotated[str, typer.Option(help="address to bind; beyond loopback every request needs the token")] = (
        "127.0.0.1"
    ),
    token: Annotated[str | None, typer.Option(help="the token for a non-loopback host (default: a new one)")] = None,
) -> None:
    """Browse a run in the browser: SQL filter, sort, thumbnails, play clips. Read-only."""
    try:
        from vidcurate.report.app import serve
    except ImportError as e:
        raise ConfigError(f"the viewer needs FastAPI and uvicorn: pip install 'vidcurate[view]' ({e})") from None

    def say(line: str) -> None:
        out.print(line, highlight=False, soft_wrap=True)
        out.file.flush()

    serve(run_dir, host=host, port=port, token=token, say=say)
