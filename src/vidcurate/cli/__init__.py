"""Command line: `vidcurate <verb>`. Mistakes end in one red line (and the usage) and exit code 2.

`app.py` holds the Typer app; the commands live in `run.py` (run, report, view), `data.py`
(ingest, filter, convert, probe, show), `components.py` (stages, export) and `models.py` (models).
"""

from __future__ import annotations

import sys
from typing import Any

import typer

from vidcurate.cli import components, data, fetch, models, run  # noqa: F401 - registers the commands
from vidcurate.cli.app import app, err
from vidcurate.core.errors import ConfigError, VidcurateError

__all__ = ["app", "main"]


def _usage_error(e: Any) -> None:
    """A click usage mistake: one line saying what is wrong, then the usage line; no traceback."""
    ctx = getattr(e, "ctx", None)
    err.print(f"[red]error:[/] {e.format_message()}", highlight=False, soft_wrap=True)
    if ctx is not None:
        err.print(ctx.get_usage(), highlight=False, soft_wrap=True)
        err.print(f"Try '{ctx.command_path} --help' for help.", highlight=False)


def main() -> None:
    """Entry point: our own errors and usage mistakes become one line instead of a traceback."""
    try:
        app(standalone_mode=False)
    except (ConfigError, VidcurateError) as e:
        err.print(f"[red]error:[/] {e}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except (typer.Abort, KeyboardInterrupt):
        err.print("[yellow]interrupted[/]: finished shards are kept; rerun the same command to resume")
        sys.exit(130)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except Exception as e:  # click's usage errors arrive here in non-standalone mode
        if hasattr(e, "format_message") and hasattr(e, "exit_code"):
            _usage_error(e)
            sys.exit(int(e.exit_code) or 2)
        raise
