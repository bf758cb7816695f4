"""Export a manifest into a training-data layout: the shared driver, row checks and registry.

Every exporter sees the same stream of checked `Sample`s: rows with an error, no path, a
missing media file, a path outside the media root or a malformed conversation are reported
with their id and reason (on the console and in `<out>.skipped.jsonl`) and never exported.
`--limit N` keeps the first N rows that were actually written. Spans either travel as
metadata or, with `materialize`, become clip files cut by the `cut` stage. Outputs are written
to temp files and renamed into place; the input manifest and media are never written.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import re
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

from vidcurate.core.errors import ConfigError, RowError, VidcurateError
from vidcurate.io import manifest as mio

EXPORTERS: dict[str, str] = {
    "llava": "vidcurate.export.llava:LlavaExporter",
    "llamafactory": "vidcurate.export.llamafactory:LlamaFactoryExporter",
    "webdataset": "vidcurate.export.webdataset:WebDatasetExporter",
    "opensora": "vidcurate.export.opensora:OpenSoraExporter",
    "parquet": "vidcurate.export.parquet:ParquetExporter",
    "frames": "vidcurate.export.frames:FramesExporter",
}

VIDEO_TOKEN = "<video>"
IMAGE_TOKEN = "<image>"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
_SPEAKERS = {"human": "human", "user": "human", "gpt": "gpt", "assistant": "gpt", "system": "system"}
# Columns that describe a failed or rejected row, never exported.
_INTERNAL = ("error", "error_kind", "reject_reason", "rejected_by", "_reject")
_SHOWN_SKIPS = 10
_UMASK = os.umask(0)
os.umask(_UMASK)


def publish_mode(tmp: str | Path, like: str | Path | None = None) -> None:
    """Give a finished temp file the mode of the file it replaces, or the umask default (not 0600)."""
    try:
        mode = os.stat(like).st_mode & 0o7777 if like is not None and os.path.exists(like) else 0o666 & ~_UMASK
        os.chmod(tmp, mode)
    except OSError:
        pass


class ExportConfig(BaseModel):
    """Options shared by all exporters; each uses the ones that apply to its layout."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    out: Path = Field(..., description="output folder, or a file for single-file formats")
    name: str | None = Field(None, description="dataset name (default: the manifest's file name)")
    media_root: Path | None = Field(None, description="write media paths relative to this folder")
    absolute: bool = Field(False, description="write absolute media paths")
    limit: int | None = Field(None, ge=1, description="export the first N valid rows")
    check_media: bool = Field(True, description="skip rows whose media file does not exist")
    shard_size: int = Field(1000, ge=1, description="webdataset: max samples per shard")
    shard_bytes: int | None = Field(None, ge=1, description="webdataset: max bytes per shard")
    fps: float | None = Field(None, gt=0, description="frames: frames per second of each span")
    num_frames: int | None = Field(None, ge=1, description="frames: N frames spread over each span")
    max_side: int | None = Field(None, ge=2, description="frames: bound the longer side (never upscales)")
    jpeg_quality: int = Field(90, ge=1, le=100)
    materialize: bool = Field(False, description="cut spans into clip files with the cut stage")
    clips_dir: Path | None = Field(None, description="where materialised clips go (default: <out>/clips)")
    cut: dict[str, Any] = Field(default_factory=dict, description="cut stage options (mode, crf, ...)")
    workers: int = Field(default_factory=lambda: min(4, os.cpu_count() or 1), ge=1)


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

    @property
    def has_span(self) -> bool:
        return self.start_s is not None or self.end_s is not None


class SkipRow(VidcurateError):
    """Raised by an exporter for one row it cannot export; the driver reports and continues."""


@dataclass
class ExportResult:
    written: int = 0
    skipped: Counter[str] = field(default_factory=Counter)  # reason kind -> count
    outputs: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skipped_file: Path | None = None
    examples: list[tuple[str, str]] = field(default_factory=list)  # first skips: (id, reason)

    @property
    def n_skipped(self) -> int:
        return sum(self.skipped.values())


class Report:
    """Counts written rows and records skipped ones (streamed to a jsonl file, never held in memory)."""

    def __init__(self, limit: int | None, skipped_path: Path) -> None:
        self.limit = limit
        self.result = ExportResult()
        self._skipped_path = skipped_path
        self._tmp: Path | None = None
        self._fh: io.TextIOWrapper | None = None

    @property
    def done(self) -> bool:
        return self.limit is not None and self.result.written >= self.limit

    def wanted(self, pending: int = 0) -> bool:
        """Whether another row should be started, counting rows already in flight."""
        return self.limit is None or self.result.written + pending < self.limit

    def ok(self) -> None:
        self.result.written += 1

    def skip(self, row_id: str, reason: str) -> None:
        kind = re.sub(r"[:(].*", "", reason).strip()[:60]
        self.result.skipped[kind] += 1
        if len(self.result.examples) < _SHOWN_SKIPS:
            self.result.examples.append((row_id, reason))
        if self._fh is None:
            self._skipped_path.parent.mkdir(parents=True, exist_ok=True)
            self._tmp = self._skipped_path.with_name(f".{self._skipped_path.name}.tmp")
            self._fh = open(self._tmp, "w", encoding="utf-8")  # noqa: SIM115 - closed in finish()
        self._fh.write(json.dumps({"id": row_id, "reason": reason}, ensure_ascii=False) + "\n")

    def finish(self) -> ExportResult:
        if self._fh is not None and self._tmp is not None:
            self._fh.close()
            publish_mode(self._tmp)
            os.replace(self._tmp, self._skipped_path)
            self.result.skipped_file = self._skipped_path
        else:
            with contextlib.suppress(FileNotFoundError):  # a stale list from an earlier run
                self._skipped_path.unlink()
        return self.result

    def abort(self) -> None:
        if self._fh is not None and self._tmp is not None:
            self._fh.close()
            with contextlib.suppress(FileNotFoundError):
                self._tmp.unlink()


class Exporter:
    """Base of every exporter. Subclasses set the class variables and implement `write`."""

    name: ClassVar[str]
    description: ClassVar[str]
    # Output: a single file with this suffix (`-o x.json` or `-o folder/` -> folder/<name><suffix>),
    # or None for a folder layout.
    suffix: ClassVar[str | None] = None
    # Conversations: required (row skipped without), checked when present, or not looked at.
    conversations: ClassVar[Literal["required", "if_present", "ignore"]] = "if_present"
    # Where paths point without --media-root: relative to the output folder, or absolute.
    default_paths: ClassVar[Literal["out_dir", "absolute"]] = "absolute"
    source_schema: pa.Schema | None = None  # the manifest's columns, set by the driver

    def __init__(self, cfg: ExportConfig, name: str) -> None:
        self.cfg = cfg
        self.dataset_name = name
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

    def write(self, samples: Iterator[Sample], report: Report) -> list[Path]:
        """Consume samples, call `report.ok()` per written row (or `report.skip`), return the outputs."""
        raise NotImplementedError


# --- registry ---------------------------------------------------------------------------------


def names() -> list[str]:
    return list(EXPORTERS)


def get(name: str) -> type[Exporter]:
    target = EXPORTERS.get(name)
    if target is None:
        import difflib

        near = difflib.get_close_matches(name, EXPORTERS, n=1)
        hint = f"; did you mean {near[0]!r}?" if near else ""
        raise ConfigError(f"unknown export format {name!r}{hint} (formats: {', '.join(EXPORTERS)})")
    module, _, cls = target.partition(":")
    return getattr(importlib.import_module(module), cls)


def describe() -> list[tuple[str, str]]:
    """(name, one-line description) of every exporter."""
    return [(n, get(n).description) for n in EXPORTERS]


# --- row checks -------------------------------------------------------------------------------


def media_kind(row: dict[str, Any], src: Path) -> str:
    media = row.get("media")
    if media:
        return str(media)
    return "image" if src.suffix.lower() in IMAGE_SUFFIXES else "video"


def check_conversation(conv: Any, media: str) -> tuple[list[dict[str, str]], str | None]:
    """Validated human/gpt turns (+ system prompt) of one row; SkipRow says what is wrong.

    Rules are those training loaders enforce: turns alternate human/gpt starting with a human
    turn, every human turn is answered, a system prompt may only come first, and the row has
    exactly one media token for its one video or image (`<image>` also stands for a video in
    LLaVA-style data, as in LLaVA-Video-178K).
    """
    if not isinstance(conv, list) or not conv:
        raise SkipRow("no conversations")
    turns: list[dict[str, str]] = []
    system: str | None = None
    for i, turn in enumerate(conv):
        if not isinstance(turn, dict):
            raise SkipRow(f"bad conversation: turn {i} is not a {{from, value}} object")
        speaker = _SPEAKERS.get(str(turn.get("from", "")).lower())
        value = turn.get("value")
        if speaker is None:
            raise SkipRow(f"bad conversation: turn {i} has unknown speaker {turn.get('from')!r}")
        if not isinstance(value, str):
            raise SkipRow(f"bad conversation: turn {i} has no text")
        if speaker == "system":
            if i != 0:
                raise SkipRow(f"bad conversation: system turn at position {i} (only the first turn may be system)")
            system = value
            continue
        turns.append({"from": speaker, "value": value})
    if not any(t["from"] == "human" for t in turns):
        raise SkipRow("bad conversation: no human turn")
    for j, t in enumerate(turns):
        want = "human" if j % 2 == 0 else "gpt"
        if t["from"] != want:
            raise SkipRow(f"bad conversation: turn {j} is {t['from']}, expected {want} (turns must alternate)")
    if len(turns) % 2:
        raise SkipRow("bad conversation: the last human turn has no gpt answer")
    n_video = sum(t["value"].count(VIDEO_TOKEN) for t in turns)
    n_image = sum(t["value"].count(IMAGE_TOKEN) for t in turns)
    if system is not None and (VIDEO_TOKEN in system or IMAGE_TOKEN in system):
        raise SkipRow("media token count mismatch: media token in the system prompt")
    ok = (n_video, n_image) == (0, 1) if media == "image" else (n_video + n_image == 1)
    if not ok:
        raise SkipRow(
            f"media token count mismatch: {n_video} {VIDEO_TOKEN} and {n_image} {IMAGE_TOKEN} tokens for one {media}"
        )
    return turns, system


def _span(row: dict[str, Any]) -> tuple[float | None, float | None]:
    start, end = row.get("start_s"), row.get("end_s")
    start = None if start is None else float(start)
    end = None if end is None else float(end)
    if start is not None and start < 0:
        raise SkipRow(f"bad span: start_s {start} < 0")
    if start is not None and end is not None and end <= start:
        raise SkipRow(f"bad span: end_s {end} <= start_s {start}")
    return start, end


def prepare(row: dict[str, Any], exporter: Exporter) -> Sample:
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
    return {k: v for k, v in row.items() if v is not None and k not in _INTERNAL}


def safe_key(row_id: str, seen: set[str]) -> str:
    """A file- and tar-safe unique key (no dots: webdataset splits keys at the first dot)."""
    base = re.sub(r"[^A-Za-z0-9_-]+", "_", row_id).strip("_") or "row"
    key, n = base, 1
    while key in seen:
        n += 1
        key = f"{base}_{n}"
    seen.add(key)
    return key


# --- parallel helper ---------------------------------------------------------------------------


def bounded_map(
    fn: Callable[[Any], Any], items: Iterable[Any], workers: int, more: Callable[[int], bool]
) -> Iterator[tuple[Any, Any, BaseException | None]]:
    """Run `fn` over `items` on at most `workers` threads, yielding (item, result, error) in order.

    At most 2 x workers items are in flight; `more(pending)` says whether to start another one
    (so a --limit stops the work instead of queueing the whole manifest).
    """
    it = iter(items)
    window: deque[tuple[Any, Future[Any]]] = deque()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        exhausted = False
        while True:
            while not exhausted and len(window) < 2 * workers and more(len(window)):
                try:
                    item = next(it)
                except StopIteration:
                    exhausted = True
                    break
                window.append((item, pool.submit(fn, item)))
            if not window:
                return
            item, fut = window.popleft()
            result: Any = None
            error: BaseException | None = None
            try:
                result = fut.result()
            except (VidcurateError, OSError, ValueError) as e:
                error = e
            yield item, result, error


# --- materialise spans -----------------------------------------------------------------------


class _Cutter:
    """Cuts span rows into clip files with the cut stage's `cut_clip` (reused, never rewritten here)."""

    def __init__(self, exporter: Exporter) -> None:
        try:
            from vidcurate.stages.cut import CutConfig, cut_clip
        except ImportError as e:
            raise ConfigError(f"--materialize needs the cut stage (vidcurate.stages.cut): {e}") from None
        cfg = exporter.cfg
        self.dir = Path(os.path.abspath(cfg.clips_dir or exporter.out_dir / "clips"))
        known = set(CutConfig.model_fields)
        unknown = sorted(set(cfg.cut) - known)
        if unknown:
            raise ConfigError(f"cut options {unknown} unknown; allowed: {', '.join(sorted(known))}")
        params = {"out_dir": str(self.dir), **cfg.cut} if "out_dir" in known else dict(cfg.cut)
        try:
            self.cut_cfg = CutConfig(**params)
        except ValueError as e:
            raise ConfigError(f"cut options: {e}") from None
        self.cut_clip = cut_clip
        self.exporter = exporter

    def __call__(self, sample: Sample) -> Sample:
        if not sample.has_span:
            return sample
        self.dir.mkdir(parents=True, exist_ok=True)
        dest = self.dir / f"{sample.key}.mp4"
        start = sample.start_s or 0.0
        end = sample.end_s
        if end is None:
            end = sample.row.get("duration_s")
        if end is None:
            raise SkipRow("cannot materialize: span has no end_s and the row no duration_s")
        try:
            # cut_clip itself writes atomically (temp name + rename)
            info = self.cut_clip(
                sample.src,
                float(start),
                float(end),
                dest,
                self.cut_cfg,
                start_frame=sample.row.get("start_frame"),
                end_frame=sample.row.get("end_frame"),
            )
        except (RowError, VidcurateError, OSError) as e:
            raise SkipRow(f"cut failed: {e}") from None
        row = dict(sample.row)
        row.update({k: v for k, v in (info or {}).items() if k not in ("id", "path", "error", "error_kind")})
        row.update(
            {
                "path": str(dest),
                "start_s": None,
                "end_s": None,
                "start_frame": None,
                "end_frame": None,
                "clip_of": str(sample.src),
                "clip_start_s": float(start),
                "clip_end_s": float(end),
            }
        )
        out = Sample(id=sample.id, src=dest, media="video", rel="", row=row, turns=sample.turns, system=sample.system)
        out.key = sample.key
        out.rel = self.exporter.rel_path(dest)
        return out


# --- driver ----------------------------------------------------------------------------------


def dataset_name(cfg: ExportConfig, manifest: Path) -> str:
    name = cfg.name or re.sub(r"[^A-Za-z0-9_.-]+", "_", manifest.stem)
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name) or name.startswith("."):
        raise ConfigError(f"--name {name!r}: use letters, digits, '_', '-', '.'")
    return name


def _protect_inputs(manifest: Path, exporter: Exporter) -> None:
    """Refuse outputs that would replace the manifest, or a folder/file in the other's place."""
    src = manifest.resolve()
    for out in [*exporter.outputs(), exporter.skipped_path]:
        if out.resolve() == src:
            raise ConfigError(f"export output {out} is the input manifest; write it elsewhere")
        if out.is_dir():
            raise ConfigError(f"export output {out} is a folder; give a file name or another folder")
    if exporter.out_dir.exists() and not exporter.out_dir.is_dir():
        raise ConfigError(f"export output folder {exporter.out_dir} is an existing file")


def export(
    fmt: str,
    manifest: str | Path,
    cfg: ExportConfig,
    *,
    progress: Callable[[int], None] | None = None,
) -> ExportResult:
    """Export `manifest` to `fmt` per `cfg`. Raises ConfigError for bad options or inputs."""
    manifest = Path(manifest)
    if not manifest.is_file():
        raise ConfigError(f"manifest {manifest} does not exist")
    if cfg.fps is not None and cfg.num_frames is not None:
        raise ConfigError("give --fps or --num-frames, not both")
    exporter = get(fmt)(cfg, dataset_name(cfg, manifest))
    exporter.source_schema = mio.manifest_schema(manifest)
    _protect_inputs(manifest, exporter)
    cutter = _Cutter(exporter) if cfg.materialize else None
    report = Report(cfg.limit, exporter.skipped_path)
    keys: set[str] = set()
    seen_ids: dict[str, int] = {}
    protected = {manifest.resolve()}

    def checked() -> Iterator[Sample]:
        n = 0
        for batch in mio.iter_manifest(manifest, batch_rows=4096):
            batch = mio.ensure_ids(batch, seen_ids)
            for row in batch.to_pylist():
                n += 1
                if progress is not None:
                    progress(n)
                if not report.wanted():
                    return
                try:
                    sample = prepare(row, exporter)
                except SkipRow as e:
                    report.skip(str(row.get("id")), str(e))
                    continue
                if exporter.needs_media_file:  # keys name files and tar members; others need none
                    sample.key = safe_key(sample.id, keys)
                yield sample

    def stream() -> Iterator[Sample]:
        if cutter is None:
            yield from checked()
            return
        for sample, clip, error in bounded_map(cutter, checked(), cfg.workers, report.wanted):
            if error is not None:
                report.skip(sample.id, str(error))
                continue
            if clip.src.resolve() in protected:
                report.skip(sample.id, f"clip {clip.src} would overwrite an input")
                continue
            yield clip

    try:
        outputs = exporter.write(stream(), report)
    except BaseException:
        report.abort()
        raise
    result = report.finish()
    result.outputs = outputs
    result.notes.extend(getattr(exporter, "notes", []))
    return result
