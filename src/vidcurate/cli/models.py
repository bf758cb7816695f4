"""`vidcurate models list` and `vidcurate models fetch NAME`: which weights exist, where, fetched ahead."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from vidcurate.cli.app import app, err, out
from vidcurate.core.errors import ConfigError

models_app = typer.Typer(help="Model weights: list where each loads from, fetch hub models ahead of a run.")
app.add_typer(models_app, name="models")


@models_app.command("list")
def list_models() -> None:
    """Each registered model: its kind, source, and whether (and where) it is on this machine."""
    from vidcurate.core import registry
    from vidcurate.models.store import cache_dir, locate

    table = Table(show_lines=False, pad_edge=False)
    for col in ("model", "kind", "source", "present", "where"):
        table.add_column(col, overflow="fold")
    for name in registry.models.names():
        loc = locate(name)
        spec = loc.spec
        assert spec is not None
        where = str(loc.path) if loc.path else f"vidcurate models fetch {name}" if spec.repo else "pip install it"
        table.add_row(name, spec.kind, spec.source, "yes" if loc.present else "[red]no[/]", where)
    out.print(table)
    out.print(f"model cache: {cache_dir()} (set VIDCURATE_MODEL_CACHE to move it)", highlight=False)


@models_app.command("fetch")
def fetch_models(
    names: Annotated[list[str], typer.Argument(help="registered model names or Hub ids")],
) -> None:
    """Download hub models into the model cache (for machines that will run offline)."""
    from vidcurate.models.store import fetch, locate, missing_message

    for name in names:
        loc = locate(name)
        if loc.present:
            out.print(f"{name}: present at {loc.path}", highlight=False)
            continue
        if loc.spec is None or not loc.spec.repo:
            raise ConfigError(missing_message(loc))
        try:
            path = fetch(loc.spec)
        except ConfigError:
            raise
        except Exception as e:
            reason = str(e).strip().splitlines()[0][:160] if str(e).strip() else type(e).__name__
            raise ConfigError(missing_message(loc, f"download failed: {reason}")) from None
        err.print(f"{name}: fetched into {path}", highlight=False)
