"""Run a converter: rows with stable ids, safe paths, instructions, checked media, in Arrow batches.

Every dataset goes through the same finishing steps, so the traps are handled once:

* ``id`` = ``stable_id(dataset, original ids...)``; a repeated record gets ``-2``, ``-3``... suffixes;
* ``path`` = the annotation's media path joined under the video root (absolute), or a row error
  when it would escape the root — the file need not exist unless ``check_videos`` is on;
* caption rows get an instruction from the prompt pool chosen by (seed, id);
* ``check_videos`` probes each distinct media file once (threads): missing or unreadable media
  become row errors carrying the expected path, and ``duration_s``/``fps``/size fill in where the
  annotation had none; a span running past the probed duration is clamped and reported.
"""

from __future__ import annotations

import fnmatch
import os
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
from pydantic import BaseModel, ValidationError

from vidcurate.core import schema
from vidcurate.core.errors import ConfigError, RowError, mark_error
from vidcurate.datasets import registry
from vidcurate.datasets.base import SPAN_TOLERANCE_S, AnyExt, Converter, Row, Settings
from vidcurate.datasets.paths import SafeRoot
from vidcurate.datasets.prompts import PromptPicker, load_prompt_file
from vidcurate.datasets.readers import Issues
from vidcurate.io.ingest import IMAGE_EXTS

STAGE = "convert"
BATCH_ROWS = 20_000
CHECK_BATCH_ROWS = 2_000  # smaller batches when probing, so progress moves
# Columns first in the output, in this order; the rest follow as they appear.
ORDER = (
    "id", "path", "media", "source", "source_id", "question_id", "query", "conversations", "caption", "answer",
    "options", "answer_index", "answer_indices", "start_s", "end_s", "duration_s", "fps", "num_frames", "width",
    "height", "split", "warning", "error", "error_kind",
)  # fmt: skip
PROBE_FILL = ("duration_s", "fps", "num_frames", "width", "height")


@dataclass
class ConvertResult:
    """What a conversion produced and what it found wrong with the input.

    `table` holds the rows for in-memory conversions; a conversion streamed to a file keeps
    only the row count (`written`), so memory does not grow with the dataset.
    """

    table: pa.Table | None
    issues: Issues
    errors: Counter[str] = field(default_factory=Counter)  # error_kind -> rows
    written: int = 0

    @property
    def rows(self) -> int:
        return self.table.num_rows if self.table is not None else self.written


def make_converter(
    name: str, settings: Settings, options: dict[str, Any] | None = None, issues: Issues | None = None
) -> Converter:
    """A converter instance with its dataset options validated (a ConfigError names a bad key)."""
    cls = registry.get(name)
    try:
        opts = cls.Options(**(options or {}))
    except ValidationError as e:
        bad = "; ".join(f"{'.'.join(str(x) for x in err['loc'])}: {err['msg']}" for err in e.errors())
        allowed = ", ".join(cls.Options.model_fields) or "none"
        raise ConfigError(f"{cls.name}: bad --opt ({bad}); options: {allowed}") from None
    if settings.roots and "roots" not in cls.uses:
        raise ConfigError(f"{cls.name}: --root-map is only for datasets with per-subset roots (videochat2)")
    if settings.video_root is None and cls.needs_root:
        raise ConfigError(f"{cls.name}: give --video-root (the folder the annotation's media paths are relative to)")
    return cls(settings, opts, issues or Issues())


def iter_tables(
    name: str,
    annotations: Sequence[str | Path],
    settings: Settings | None = None,
    options: dict[str, Any] | None = None,
    *,
    issues: Issues | None = None,
    errors: Counter[str] | None = None,
    progress: Callable[[str, int], None] | None = None,
) -> Iterator[pa.Table]:
    """Converted rows as Arrow tables of at most ``BATCH_ROWS`` rows (bounded memory per batch)."""
    settings = settings or Settings()
    issues = issues if issues is not None else Issues()
    errors = errors if errors is not None else Counter()
    conv = make_converter(name, settings, options, issues)
    paths = [Path(p) for p in annotations]
    if not paths:
        raise ConfigError(f"{conv.name}: give --annotations (a file or a folder)")
    finisher = _Finisher(conv, settings, paths, issues, errors, progress)
    size = CHECK_BATCH_ROWS if settings.check_videos else BATCH_ROWS
    batch: list[Row] = []
    n = 0
    for row in conv.run(paths):
        batch.append(finisher.row(row))
        n += 1
        if len(batch) >= size:
            yield finisher.table(batch)
            batch = []
            if progress:
                progress("rows", n)
        if settings.limit and n >= settings.limit:
            break
    if batch:
        yield finisher.table(batch)
    if progress:
        progress("rows", n)
    finisher.close()


def convert(
    name: str,
    annotations: Sequence[str | Path],
    settings: Settings | None = None,
    options: dict[str, Any] | None = None,
    progress: Callable[[str, int], None] | None = None,
) -> ConvertResult:
    """Convert a dataset's annotation files into one manifest table."""
    issues, errors = Issues(), Counter[str]()
    tables = list(iter_tables(name, annotations, settings, options, issues=issues, errors=errors, progress=progress))
    return ConvertResult(_concat(tables), issues, errors)


def convert_to_file(
    name: str,
    annotations: Sequence[str | Path],
    output: str | Path,
    settings: Settings | None = None,
    options: dict[str, Any] | None = None,
    progress: Callable[[str, int], None] | None = None,
) -> ConvertResult:
    """Convert and write the manifest (.parquet/.csv/.jsonl) atomically; inputs are never overwritten."""
    from vidcurate.io.manifest import manifest_format, write_stream

    manifest_format(output)
    out = Path(output).resolve()
    cls = registry.get(name)
    for a in annotations:
        a = Path(a).resolve()
        is_input = a.is_dir() and a in out.parents and any(fnmatch.fnmatch(out.name, p) for p in cls.patterns)
        if out == a or (is_input and out.exists()):
            raise ConfigError(f"output {output} would overwrite an annotation file in {a}; write it elsewhere")
    issues, errors = Issues(), Counter[str]()
    tables = iter_tables(name, annotations, settings, options, issues=issues, errors=errors, progress=progress)
    written = write_stream(tables, output)
    return ConvertResult(None, issues, errors, written)


def _concat(tables: list[pa.Table]) -> pa.Table:
    if not tables:
        return pa.table({"id": pa.array([], pa.string()), "path": pa.array([], pa.string())})
    return schema.concat(tables)


class _Finisher:
    """The per-row steps every dataset shares (ids, paths, prompts, media checks)."""

    def __init__(
        self,
        conv: Converter,
        settings: Settings,
        paths: list[Path],
        issues: Issues,
        errors: Counter[str],
        progress: Callable[[str, int], None] | None = None,
    ) -> None:
        self.conv = conv
        self.progress = progress
        self.settings = settings
        self.issues = issues
        self.errors = errors
        root = settings.video_root
        if root is None:  # image folders: media beside the annotations
            first = paths[0]
            root = first if first.is_dir() else first.parent
        self.root = SafeRoot(root)
        self.roots: dict[str, SafeRoot] = {}
        pool = load_prompt_file(settings.prompt_file) if settings.prompt_file else None
        self.prompts = PromptPicker(settings.seed, pool)
        self.seen: set[str] = set()
        self.dups: Counter[str] = Counter()
        self.checked: dict[tuple[str, str], dict[str, Any] | RowError] = {}
        self.pool = ThreadPoolExecutor(settings.workers) if settings.check_videos else None
        self.n_checked = 0

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown()
        root = self.settings.video_root
        if root is not None and not root.exists():
            self.issues.add("", f"video root {root} does not exist; the rows' paths point into it")
        if self.dups:
            first = next(iter(self.dups))
            self.issues.add(
                "",
                f"{sum(self.dups.values())} records repeat an earlier record's ids (ids suffixed -2, -3...; "
                f"first: {first})",
            )

    # -- one row ------------------------------------------------------------------------------

    def row(self, r: Row) -> Row:
        where = r.pop("_where", "")
        source = self.conv.name
        parts = r.pop("_id", ())
        rid = schema.stable_id(source, *parts)
        if rid in self.seen:
            self.dups[rid] += 1
            rid = f"{rid}-{self.dups[rid] + 1}"
        self.seen.add(rid)
        out: Row = {"id": rid, "media": r.pop("media", self.conv.media), "source": source}
        media_rel = r.pop("_media", None)
        root = r.pop("_root", None)
        error = r.pop("_error", None)
        warnings: list[str] = list(r.pop("_warn", ()))
        pool = r.pop("_prompt", None)
        quiet_clamp = r.pop("_quiet_clamp", False)
        if media_rel is not None:
            try:
                safe = self._root(root)
                out["path"] = (
                    safe.join_any(media_rel, media_rel.exts) if isinstance(media_rel, AnyExt) else safe.join(media_rel)
                )
            except RowError as e:
                out["path"] = str(media_rel)
                error = error or (e.kind, e.message)
        else:
            out["path"] = r.pop("path", None) or ""
        r.pop("path", None)
        out.update(r)
        if pool is not None and "conversations" not in out:
            query = self.prompts.pick(pool, rid)
            reply = out.get("caption") if out.get("caption") is not None else out.get("answer")
            out["query"] = query
            out["conversations"] = [
                {"from": "human", "value": self.conv.human(query, out["media"])},
                {"from": "gpt", "value": str(reply)},
            ]
        if error is not None:
            kind, msg = error
            out.update(mark_error(STAGE, kind, msg))
            self.issues.add(where, msg)
        for w in warnings:
            self.issues.add(where, w)
        if warnings:
            out["warning"] = f"{STAGE}: " + "; ".join(warnings)
        if quiet_clamp:
            out["_quiet_clamp"] = True
        return out

    def _root(self, name: str | Path | None) -> SafeRoot:
        if name is None:
            return self.root
        key = str(name)
        if key not in self.roots:
            self.roots[key] = SafeRoot(name)
        return self.roots[key]

    # -- a batch --------------------------------------------------------------------------------

    def table(self, rows: list[Row]) -> pa.Table:
        self._check(rows)
        for r in rows:
            r.pop("_quiet_clamp", None)
            if r.get("error_kind"):
                self.errors[r["error_kind"]] += 1
        present = set().union(*rows)
        names = [c for c in ORDER if c in present]
        t = schema.from_rows(rows)
        rest = [c for c in t.column_names if c not in names]
        return t.select(names + rest)

    def _check(self, rows: list[Row]) -> None:
        if self.pool is None:
            return
        todo = {(r["path"], r["media"]) for r in rows if not r.get("error")} - set(self.checked)
        for key, res in zip(todo, self.pool.map(lambda k: _check_media(*k), todo), strict=True):
            self.checked[key] = res
            self.n_checked += 1
            if self.progress and self.n_checked % 100 == 0:
                self.progress("media files checked", self.n_checked)
        for r in rows:
            if r.get("error"):
                continue
            res = self.checked[(r["path"], r["media"])]
            if isinstance(res, RowError):
                r.update(mark_error(STAGE, res.kind, res.message))
                continue
            for k in PROBE_FILL:
                if r.get(k) is None and res.get(k) is not None:
                    r[k] = res[k]
            self._fit_span(r, res.get("duration_s"))
        if len(self.checked) > 500_000:
            self.checked.clear()

    def _fit_span(self, r: Row, dur: float | None) -> None:
        if dur is None or r.get("end_s") is None:
            return
        start, end = r.get("start_s") or 0.0, r["end_s"]
        if start >= dur:
            r.update(mark_error(STAGE, "bad_span", f"span starts at {start:g}s, after the media ends ({dur:g}s)"))
            return
        if end > dur + SPAN_TOLERANCE_S:
            r["end_s"] = dur
            if not r.get("_quiet_clamp"):
                msg = f"span end {end:g} > media duration {dur:g}: clamped"
                r["warning"] = f"{r['warning']}; {msg}" if r.get("warning") else f"{STAGE}: {msg}"
                self.issues.add(r["path"], msg)


def _check_media(path: str, media: str) -> dict[str, Any] | RowError:
    """Probe one media file (header only); a folder of frames must hold images."""
    from vidcurate.io.probe import probe_file

    if media == "frames":
        if not os.path.isdir(path):
            return RowError("missing", f"frame folder not found: {path}")
        try:
            with os.scandir(path) as it:
                if any(os.path.splitext(e.name)[1].lower() in IMAGE_EXTS for e in it):
                    return {}
        except OSError as e:
            return RowError("unreadable", f"frame folder {path} unreadable ({e.strerror or e})")
        return RowError("empty", f"frame folder {path} holds no images")
    try:
        return probe_file(path, decode_check="none", count_frames="never")
    except RowError as e:
        if e.kind == "not_found":
            return RowError("missing", f"media not found: {path}")
        return RowError(e.kind, f"media unreadable: {e.message} ({path})")


def parse_options(pairs: Sequence[str], what: str = "--opt") -> dict[str, str]:
    """``key=value`` strings to a dict (values validated later by the converter's Options)."""
    out: dict[str, str] = {}
    for p in pairs:
        k, sep, v = p.partition("=")
        if not sep or not k.strip():
            raise ConfigError(f"{what} '{p}' is not of the form key=value")
        out[k.strip()] = v.strip()
    return out


def options_help(cls: type[Converter]) -> list[str]:
    """``key = default  description`` lines for a converter's own options."""
    fields = cls.Options.model_fields if issubclass(cls.Options, BaseModel) else {}
    return [f"{k} = {f.default!r}  {f.description or ''}".rstrip() for k, f in fields.items()]
