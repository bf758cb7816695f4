"""Command line: `vidcurate <verb>`. Config mistakes end in one red line and exit code 2."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from vidcurate.core.errors import ConfigError, VidcurateError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Turn raw video collections into training data for video-language and video-generation models.",
)
# Piped output (a log, a CI job, grep) is not wrapped or truncated at 80 columns.
err = Console(stderr=True, width=None if sys.stderr.isatty() else 240)
out = Console(width=None if sys.stdout.isatty() else 240)


@app.command()
def ingest(
    folder: Annotated[Path, typer.Argument(help="folder to scan recursively for videos and images")],
    output: Annotated[Path, typer.Option("-o", "--output", help="manifest to write (.parquet, .csv, .jsonl)")],
) -> None:
    """Scan a folder into a manifest (ids stable across reruns; problems become error rows)."""
    from vidcurate.io import ingest as ing
    from vidcurate.io import manifest as mio

    src = folder.resolve()
    if output.resolve() == src or src in output.resolve().parents:
        raise ConfigError(f"output {output} is inside the input folder {folder}; write it elsewhere")
    table = ing.ingest_table(folder)
    mio.write_manifest(table, output)
    n_err = table.column("error").null_count if "error" in table.column_names else table.num_rows
    problems = table.num_rows - n_err if "error" in table.column_names else 0
    out.print(f"{table.num_rows - problems} media files, {problems} problems -> {output}")


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
    summary = runner.run(input)
    print_summary(summary, out)
    try:  # the report is a view of the run: its failure must never fail the run
        from vidcurate.report.html import write_report

        out.print(f"report in [cyan]{write_report(out_dir, console=err)}[/]  (browse: vidcurate view {out_dir})")
    except Exception as e:
        err.print(f"[yellow]warning:[/] the run finished but its report was not written: {e}", highlight=False)


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
    host: Annotated[str, typer.Option(help="address to bind (loopback: the viewer has no login)")] = "127.0.0.1",
) -> None:
    """Browse a run in the browser: SQL filter, sort, thumbnails, play clips. Read-only."""
    try:
        from vidcurate.report.app import serve
    except ImportError as e:
        raise ConfigError(f"the viewer needs FastAPI and uvicorn: pip install 'vidcurate[view]' ({e})") from None

    out.print(f"vidcurate viewer on [cyan]http://{host}:{port}/[/]  (Ctrl+C to stop)")
    serve(run_dir, host=host, port=port)


@app.command("filter")
def filter_cmd(
    manifest: Annotated[Path, typer.Argument(help="manifest to filter (.parquet, .csv, .jsonl)")],
    output: Annotated[Path, typer.Option("-o", "--output", help="kept rows")],
    where: Annotated[str | None, typer.Option(help="SQL predicate (DuckDB) over columns")] = None,
    rejected: Annotated[Path | None, typer.Option(help="rejected rows (default: rejected.parquet beside -o)")] = None,
    fmin: Annotated[int | None, typer.Option(help="min num_frames")] = None,
    fmax: Annotated[int | None, typer.Option(help="max num_frames")] = None,
    dmin: Annotated[float | None, typer.Option(help="min duration_s")] = None,
    dmax: Annotated[float | None, typer.Option(help="max duration_s")] = None,
    min_width: Annotated[int | None, typer.Option()] = None,
    min_height: Annotated[int | None, typer.Option()] = None,
    min_side: Annotated[int | None, typer.Option(help="min of width, height")] = None,
    ar_min: Annotated[float | None, typer.Option(help="min aspect ratio width/height")] = None,
    ar_max: Annotated[float | None, typer.Option(help="max aspect ratio width/height")] = None,
    drop_errors: Annotated[bool, typer.Option(help="reject rows with an error")] = False,
) -> None:
    """Keep rows matching every condition; rejected rows go to a second file with the reason."""
    from pydantic import ValidationError

    from vidcurate.core.recipe import format_validation_error
    from vidcurate.stages.filter import FilterConfig, filter_file

    params = dict(
        where=where,
        fmin=fmin,
        fmax=fmax,
        dmin=dmin,
        dmax=dmax,
        min_width=min_width,
        min_height=min_height,
        min_side=min_side,
        ar_min=ar_min,
        ar_max=ar_max,
        drop_errors=drop_errors,
    )
    try:
        cfg = FilterConfig(**params)
    except ValidationError as e:
        raise ConfigError(format_validation_error("filter", FilterConfig, e)) from None
    if not any(v not in (None, False) for v in params.values()):
        raise ConfigError("filter: give --where or at least one condition flag (see --help)")
    rej = rejected or output.with_name("rejected" + output.suffix)
    res = filter_file(manifest, output, rej, cfg)
    out.print(f"kept {res.kept} -> {res.output}\nrejected {res.rejected} -> {res.rejected_path}")


@app.command("convert")
def convert_cmd(
    dataset: Annotated[str | None, typer.Argument(help="dataset name, e.g. activitynet-qa (see --list)")] = None,
    annotations: Annotated[
        list[Path] | None, typer.Option("--annotations", "-a", help="annotation file or folder (repeatable)")
    ] = None,
    video_root: Annotated[Path | None, typer.Option(help="folder the annotation's media paths are relative to")] = None,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="manifest (.parquet/.csv/.jsonl)")] = None,
    list_datasets: Annotated[bool, typer.Option("--list", help="list datasets (with a name: its --opt keys)")] = False,
    check_videos: Annotated[bool, typer.Option(help="probe media: missing/unreadable -> row errors")] = False,
    prompt_file: Annotated[Path | None, typer.Option(help="instruction pool for captions (lines or JSON)")] = None,
    seed: Annotated[int | None, typer.Option(help="instruction choice seed (with each row id)")] = None,
    answer_style: Annotated[str | None, typer.Option(help="multiple choice: letter | letter_text | text")] = None,
    mc_instruction: Annotated[str | None, typer.Option(help="line appended after the options")] = None,
    split: Annotated[str | None, typer.Option(help="only this split (comma list), e.g. val or train,restval")] = None,
    root_map: Annotated[list[str] | None, typer.Option(help="SUBSET=DIR video root per subset (repeatable)")] = None,
    opt: Annotated[list[str] | None, typer.Option(help="dataset option KEY=VALUE (repeatable; --list NAME)")] = None,
    limit: Annotated[int | None, typer.Option(help="stop after N rows")] = None,
    workers: Annotated[int | None, typer.Option(help="threads probing media (--check-videos)")] = None,
    progress: Annotated[bool, typer.Option(help="show progress")] = True,
) -> None:
    """Convert a public dataset's annotations into a manifest of unified conversation rows."""
    from vidcurate.datasets import command

    if list_datasets:
        command.list_datasets(out, dataset)
        return
    if dataset is None or not annotations or output is None:
        raise ConfigError("convert: give DATASET --annotations PATH -o MANIFEST (or --list)")
    command.run(
        dataset,
        annotations,
        output,
        out,
        err,
        root_map=root_map or (),
        opt=opt or (),
        progress=progress,
        video_root=video_root,
        check_videos=check_videos,
        prompt_file=prompt_file,
        seed=seed,
        answer_style=answer_style,
        mc_instruction=mc_instruction,
        split=split,
        limit=limit,
        workers=workers,
    )


@app.command()
def probe(
    files: Annotated[list[Path], typer.Argument(help="media files")],
    decode_check: Annotated[str, typer.Option(help="none | ends | full")] = "ends",
) -> None:
    """Print what `probe` finds in each file, as JSON lines."""
    from vidcurate.core.errors import RowError
    from vidcurate.io.probe import probe_file

    for f in files:
        try:
            info = probe_file(f, decode_check=decode_check)  # type: ignore[arg-type]
            out.print_json(json.dumps({"path": str(f), **info}))
        except RowError as e:
            out.print_json(json.dumps({"path": str(f), "error": e.message, "error_kind": e.kind}))


@app.command()
def stages() -> None:
    """List the stages (and scorers, exporters) with their parameters; plugins and overrides are marked."""
    from vidcurate.core import registry

    for kind in ("stage", "scorer", "exporter"):
        reg = registry.KINDS[kind]
        out.print(f"[bold underline]{kind}s[/]")
        for entry in reg.entries():
            name = f"score.{entry.name}" if kind == "scorer" else entry.name
            origin = "" if entry.origin == "builtin" else f"  [cyan]({entry.origin})[/]"
            if entry.overrides:
                origin += f"  [yellow]overrides the built-in {entry.overrides}[/]"
            try:
                cls = reg.get(entry.name)
            except ConfigError as e:
                out.print(f"[bold]{name}[/]  (unavailable: {e}){origin}")
                continue
            doc = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
            out.print(f"[bold]{name}[/]  {doc}{origin}", highlight=False)
            config = getattr(cls, "Options", None) if kind == "exporter" else cls.Config
            for key, f in (config.model_fields if config is not None else {}).items():
                value = None if f.is_required() else f.get_default(call_default_factory=True)
                default = "(required)" if f.is_required() else repr(value) if value is not None else "'-'"
                out.print(f"    {key} = {default}  {f.description or ''}", highlight=False)


@app.command("export")
def export_cmd(
    fmt: Annotated[str | None, typer.Argument(metavar="FORMAT", help="export format (see --list)")] = None,
    manifest: Annotated[Path | None, typer.Argument(help="manifest (.parquet, .csv, .jsonl)")] = None,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="output folder or file")] = None,
    list_formats: Annotated[bool, typer.Option("--list", help="list the formats and exit")] = False,
    media_root: Annotated[Path | None, typer.Option(help="write media paths relative to this folder")] = None,
    absolute: Annotated[bool, typer.Option(help="write absolute media paths")] = False,
    limit: Annotated[int | None, typer.Option(help="export the first N valid rows")] = None,
    name: Annotated[str | None, typer.Option(help="dataset name (files, shards, dataset_info)")] = None,
    shard_size: Annotated[int | None, typer.Option(help="webdataset: max samples per shard (default 1000)")] = None,
    shard_bytes: Annotated[str | None, typer.Option(help="webdataset: max bytes per shard, e.g. 500M")] = None,
    fps: Annotated[float | None, typer.Option(help="frames: frames per second")] = None,
    num_frames: Annotated[int | None, typer.Option(help="frames: frames per video, spread over the span")] = None,
    max_side: Annotated[int | None, typer.Option(help="frames: bound the longer side in pixels")] = None,
    materialize: Annotated[bool, typer.Option(help="cut spans (start_s/end_s) into clip files")] = False,
    clips_dir: Annotated[Path | None, typer.Option(help="where cut clips go (default: <out>/clips)")] = None,
    cut_mode: Annotated[str | None, typer.Option(help="cut: reencode | copy")] = None,
    cut: Annotated[list[str] | None, typer.Option(help="cut option KEY=VALUE (repeatable, e.g. crf=23)")] = None,
    opt: Annotated[list[str] | None, typer.Option(help="format option KEY=VALUE (repeatable)")] = None,
    check_media: Annotated[bool, typer.Option(help="skip rows whose media file is missing")] = True,
    workers: Annotated[int | None, typer.Option(help="parallel videos (frames, cutting)")] = None,
    progress: Annotated[bool, typer.Option(help="show a progress bar")] = True,
) -> None:
    """Export a manifest for training: llava, llamafactory, webdataset, opensora, parquet, frames."""
    from vidcurate.export import command

    if list_formats:
        command.list_formats(out)
        return
    if fmt is None or manifest is None or output is None:
        raise ConfigError("export: give FORMAT MANIFEST -o OUT (or --list)")
    cut_items = [*(cut or []), *([f"mode={cut_mode}"] if cut_mode else [])]
    command.run(
        fmt,
        manifest,
        out,
        err,
        progress=progress,
        opt=opt,
        cut=cut_items,
        out=output,
        media_root=media_root,
        absolute=absolute,
        limit=limit,
        name=name,
        shard_size=shard_size,
        shard_bytes=command.parse_bytes(shard_bytes),
        fps=fps,
        num_frames=num_frames,
        max_side=max_side,
        materialize=materialize,
        clips_dir=clips_dir,
        check_media=None if check_media else False,
        workers=workers,
    )


def main() -> None:
    """Entry point: turn our own errors into one line instead of a traceback."""
    try:
        app(standalone_mode=False)
    except (ConfigError, VidcurateError) as e:
        err.print(f"[red]error:[/] {e}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except typer.Abort:
        sys.exit(130)
    except KeyboardInterrupt:
        err.print("[yellow]interrupted[/]: finished shards are kept; rerun the same command to resume")
        sys.exit(130)
    except Exception as e:  # click usage errors arrive here in non-standalone mode
        import click

        if isinstance(e, click.exceptions.ClickException):
            e.show()
            sys.exit(e.exit_code)
        raise


if __name__ == "__main__":
    main()
