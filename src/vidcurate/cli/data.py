"""Commands over manifests and media: ingest, filter, convert, probe, show."""

from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from vidcurate.cli.app import app, err, out
from vidcurate.core.errors import ConfigError


class DecodeCheck(str, Enum):
    none = "none"
    ends = "ends"
    full = "full"


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
    decode_check: Annotated[DecodeCheck, typer.Option(help="none | ends | full")] = DecodeCheck.ends,
) -> None:
    """Print what `probe` finds in each file, one JSON object per line."""
    from vidcurate.core.errors import RowError
    from vidcurate.io.probe import probe_file

    for f in files:
        try:
            record = {"path": str(f), **probe_file(f, decode_check=decode_check.value)}
        except RowError as e:
            record = {"path": str(f), "error": e.message, "error_kind": e.kind}
        sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
    sys.stdout.flush()


@app.command()
def show(
    manifest: Annotated[Path, typer.Argument(help="a manifest (.parquet, .csv, .jsonl)")],
    rows: Annotated[int, typer.Option(help="rows to print")] = 5,
) -> None:
    """A manifest at a glance: its schema, row count, a few rows and per-column statistics."""
    from vidcurate.io.inspect import describe_manifest

    describe_manifest(manifest, out, rows=rows)
