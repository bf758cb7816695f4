"""What every export takes, typed; each format adds its own options (`Exporter.Options`).

The same models validate `vidcurate export` flags (and `--opt KEY=VALUE`) and a recipe's export
step (`- export: {format: webdataset, shard_size: 500}`), so a key that a format does not know is
an error naming the keys it does know, wherever it was written.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from vidcurate.core.errors import ConfigError
from vidcurate.io.clip import ClipOptions


class ExportOptions(BaseModel):
    """Options shared by every format."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    out: Path | None = Field(
        None, description="output folder, or a file for single-file formats (a recipe step: <run>/export/<format>)"
    )
    name: str | None = Field(None, description="dataset name (default: the manifest's file name)")
    media_root: Path | None = Field(None, description="write media paths relative to this folder")
    absolute: bool = Field(False, description="write absolute media paths")
    limit: int | None = Field(None, ge=1, description="export the first N valid rows")
    check_media: bool = Field(True, description="skip rows whose media file does not exist")
    materialize: bool = Field(False, description="cut spans (start_s/end_s) into clip files")
    clips_dir: Path | None = Field(None, description="where materialised clips go (default: <out>/clips)")
    cut: ClipOptions = Field(default_factory=ClipOptions, description="how materialised clips are encoded")
    workers: int = Field(default_factory=lambda: min(4, os.cpu_count() or 1), ge=1, description="parallel videos")


def build_options(fmt: str, cls: type[ExportOptions], params: dict[str, Any], where: str = "export") -> ExportOptions:
    """`params` validated as `cls` (one line naming the key and the keys `fmt` takes on a mistake)."""
    from vidcurate.core.recipe import format_validation_error

    try:
        return cls(**params)
    except ValidationError as e:
        raise ConfigError(format_validation_error(f"{where} {fmt}", cls, e)) from None
    except TypeError as e:
        raise ConfigError(f"{where} {fmt}: {e}") from None
