"""The exporter contract and the checks every exported row passes.

Every exporter sees the same stream of checked `Sample`s: rows with an error, no path, a
missing media file, a path outside the media root or a malformed conversation are reported
with their id and reason (`SkipLog`) and never exported. An exporter declares its options
(`Options`, a subclass of `ExportOptions`), its output (one file with `suffix`, or a folder), and
whether it needs conversations; the driver (`export/driver.py`) does the rest.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Generic, Literal, TypeVar

import pyarrow as pa

from vidcurate.core.conversations import ConversationError, check_turns
from vidcurate.core.errors import VidcurateError
from vidcurate.export.options import ExportOptions
from vidcurate.export.skiplog import SkipLog
from vidcurate.io.images import is_image_path

# Columns that describe a failed or rejected row, never exported.
INTERNAL = ("error", "error_kind", "reject_reason", "rejected_by", "_reject")
Opt = TypeVar("Opt", bound=ExportOptions)


@dataclass
class Sample:
    """One checked row ready to export. `src` is the absolute media file, `rel` the path to write."""

    id: str
    src: Path
    media: str
    rel: str
    row: dict[str, Any]
    start_s: float | None = None
    end_s: float | None = None
    turns: list[dict[str, str]] | None = None  # human/gpt turns, validated
    system: str | None = None
    key: str = ""
    extra_media: dict[str, list[str]] | None = None  # other media of the row (audios), as written

    @property
    def has_span(self) -> bool:
        return self.start_s is not None or self.end_s is not None


class SkipRow(VidcurateError):
    """Raised by an exporter for one row it cannot export; the driver reports and continues."""


class Exporter(Generic[Opt]):
    """Base of every exporter. Subclasses set the class variables and implement `write`."""

    name: ClassVar[str]
    description: ClassVar[str]
    Options: ClassVar[type[ExportOptions]] = ExportOptions
    # Output: a single file with this suffix (`-o x.json` or `-o folder/` -> folder/<name><suffix>),
    # or None for a folder layout.
    suffix: ClassVar[str | None] = None
    # Conversations: required (row skipped without), checked when present, or not looked at.
    conversations: ClassVar[Literal["required", "if_present", "ignore"]] = "if_present"
    # Where paths point without --media-root: relative to the output folder, or absolute.
    default_paths: ClassVar[Literal["out_dir", "absolute"]] = "absolute"
    # Rows arrive sorted by path, so a format can store each media file once (WebDataset).
    group_by_media: ClassVar[bool] = False
    # Spans are written as start_s/end_s metadata (a note says so) unless --materialize cuts them.
    spans_as_metadata: ClassVar[bool] = True
    source_schema: pa.Schema | None = None  # the manifest's columns, set by the driver

    def __init__(self, cfg: Opt, name: str) -> None:
        self.cfg: Opt = cfg
        self.dataset_name = name
        self.notes: list[str] = []
        if cfg.out is None:
            raise ValueError("export: no output path (give -o, or `out:` in the recipe step)")
        out = Path(cfg.out)
        if self.suffix is not None and out.suffix.lower() == self.suffix:
            self.out_file: Path | None = out
            self.out_dir = out.parent
        elif self.suffix is not None:
            self.out_file, self.out_dir = out / f"{name}{self.suffix}", out
        else:
            self.out_file, self.out_dir = None, out

    # --- paths ------------------------------------------------------------------------------

    @property
    def media_root(self) -> Path | None:
        """The folder written paths are relative to, or None for absolute paths."""
        if self.cfg.absolute:
            return None
        if self.cfg.media_root is not None:
            return Path(os.path.abspath(self.cfg.media_root))
        return Path(os.path.abspath(self.out_dir)) if self.default_paths == "out_dir" else None

    def rel_path(self, src: Path) -> str:
        """`src` as written in the export: relative to the media root (never escaping it) or absolute."""
        root = self.media_root
        if root is None:
            return str(src)
        rel = os.path.relpath(src, root)
        if rel == os.pardir or rel.startswith(os.pardir + os.sep) or os.path.isabs(rel):
            raise SkipRow(f"path outside media root: {src} is not under {root} (use --media-root or --absolute)")
        return rel.replace(os.sep, "/")

    def outputs(self) -> list[Path]:
        """Files this export will write (checked against the inputs before anything is written)."""
        return [self.out_file] if self.out_file is not None else []

    @property
    def skipped_path(self) -> Path:
        if self.out_file is not None:
            return self.out_file.with_name(self.out_file.stem + ".skipped.jsonl")
        return self.out_dir / "skipped.jsonl"

    @property
    def needs_media_file(self) -> bool:
        """Whether the media bytes are read (embedded, decoded or cut), not only referenced."""
        return self.cfg.materialize

    # --- per row ----------------------------------------------------------------------------

    def check(self, sample: Sample) -> None:
        """Format-specific checks; raise SkipRow with the reason."""

    def write(self, samples: Iterator[Sample], log: SkipLog) -> list[Path]:
        """Consume samples, call `log.ok()` per written row (or `log.skip`), return the outputs."""
        raise NotImplementedError


def media_kind(row: dict[str, Any], src: Path) -> str:
    media = row.get("media")
    if media:
        return str(media)
    return "image" if is_image_path(src) else "video"


def check_conversation(conv: Any, media: str) -> tuple[list[dict[str, str]], str | None]:
    """Validated turns and system prompt (`core.conversations.check_turns`); SkipRow says what is wrong."""
    try:
        return check_turns(conv, media)
    except ConversationError as e:
        raise SkipRow(str(e)) from None


def _span(row: dict[str, Any]) -> tuple[float | None, float | None]:
    start, end = row.get("start_s"), row.get("end_s")
    start = None if start is None else float(start)
    end = None if end is None else float(end)
    if start is not None and start < 0:
        raise SkipRow(f"bad span: start_s {start} < 0")
    if start is not None and end is not None and end <= start:
        raise SkipRow(f"bad span: end_s {end} <= start_s {start}")
    return start, end


def prepare(row: dict[str, Any], exporter: Exporter[Any]) -> Sample:
    """Check one manifest row for `exporter`; SkipRow with the reason when it cannot be exported."""
    if row.get("error"):
        raise SkipRow(f"row has an error: {row['error']}")
    path = row.get("path")
    if not path or not isinstance(path, str):
        raise SkipRow("no path")
    src = Path(os.path.abspath(os.path.expanduser(path)))
    media = media_kind(row, src)
    if media not in ("video", "image"):
        raise SkipRow(f"unknown media {media!r}")
    start, end = _span(row)
    if (exporter.cfg.check_media or exporter.needs_media_file) and not src.is_file():
        raise SkipRow(f"media file not found: {src}")
    turns = system = None
    conv = row.get("conversations")
    if exporter.conversations == "required" or (exporter.conversations == "if_present" and conv):
        turns, system = check_conversation(conv, media)
    rel = "" if (exporter.cfg.materialize and (start is not None or end is not None)) else exporter.rel_path(src)
    sample = Sample(
        id=str(row["id"]), src=src, media=media, rel=rel, row=row, start_s=start, end_s=end, turns=turns, system=system
    )
    exporter.check(sample)
    return sample


def export_row(row: dict[str, Any]) -> dict[str, Any]:
    """The row's exportable columns: internal error/reject columns and nulls dropped."""
    return {k: v for k, v in row.items() if v is not None and k not in INTERNAL}


def safe_key(row_id: str, seen: set[str]) -> str:
    """A file- and tar-safe unique key (no dots: webdataset splits keys at the first dot)."""
    base = re.sub(r"[^A-Za-z0-9_-]+", "_", row_id).strip("_") or "row"
    key, n = base, 1
    while key in seen:
        n += 1
        key = f"{base}_{n}"
    seen.add(key)
    return key
