"""The Typer app and the consoles every command prints to."""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from vidcurate import __version__

app = typer.Typer(
    add_completion=False,
    no_args_is_help=False,
    help="Turn raw video collections into training data for video-language and video-generation models.",
)
# Piped output (a log, a CI job, grep) is not wrapped or truncated at 80 columns.
err = Console(stderr=True, width=None if sys.stderr.isatty() else 240)
out = Console(width=None if sys.stdout.isatty() else 240)


def _version(value: bool) -> None:
    if value:
        out.print(f"vidcurate {__version__}", highlight=False)
        raise typer.Exit()


@app.callback(invoke_without_command=True)
def root(
    ctx: typer.Context,
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="print the version"),
) -> None:
    """Turn raw video collections into training data for video-language and video-generation models."""
    if ctx.invoked_subcommand is None:
        commands = getattr(ctx.command, "commands", {})
        ctx.fail(f"missing command (one of: {', '.join(sorted(commands))})")
