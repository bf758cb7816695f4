"""Commands over components: stages (and scorers, exporters), export."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vidcurate.cli.app import app, err, out
from vidcurate.core.errors import ConfigError


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
