"""The converter contract: one class per public dataset turns annotation records into unified rows.

A converter only knows its dataset's format. It yields plain dicts with the unified columns
(``query``, ``conversations``, ``answer``, ``options``, ``answer_index``, ``caption``, spans, ids) and
a few private keys that the driver (:mod:`vidcurate.datasets.convert`) settles the same way for
every dataset:

* ``_media``: the media path as the annotation gives it, relative to the video root (``_root``
  overrides the root for one row) — joined safely, never escaping the root;
* ``_id``: the original ids (video, question, span...) the stable row id is derived from;
* ``_prompt``: the name of a prompt pool; the driver picks an instruction for the row from it and
  builds the conversation around ``caption`` (or ``answer``);
* ``_warn``: fixes applied to the record (a clamped span) — reported, and kept in ``warning``;
* ``_error``: ``(kind, message)`` — the record is broken but its media is known: an error row.

Records that cannot be parsed at all raise :class:`RecordError` (or a KeyError/TypeError/ValueError)
from :meth:`Converter.rows`; the record is reported with its file and line and the rest converts.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field

from vidcurate.core.conversations import IMAGE_TOKEN, VIDEO_TOKEN, strip_tokens
from vidcurate.core.errors import ConfigError
from vidcurate.datasets import choices
from vidcurate.datasets.readers import Issues, bad_byte, not_utf8

Row = dict[str, Any]
MEDIA_TOKENS = {"video": "<video>", "frames": "<video>", "image": "<image>"}
# A clip end this far past the duration is a real annotation error, not float noise.
SPAN_TOLERANCE_S = 1e-3


# What a dataset's videos may be stored as when the annotation gives only an id (the first is the default).
VIDEO_EXTS = ("mp4", "mkv", "webm", "avi", "mov", "m4v", "flv")
AUTO_EXT = "auto"


class AnyExt(str):
    """A media path without its extension: the driver picks whichever of `exts` exists under the root."""

    exts: tuple[str, ...] = VIDEO_EXTS


def ext_field(what: str) -> Any:
    """The ``ext`` option of converters whose annotations name a video by id."""
    return Field(AUTO_EXT, description=f"{what}; auto: the first of {', '.join(VIDEO_EXTS)} that exists")


class RecordError(ValueError):
    """One annotation record cannot be converted."""


class NoOptions(BaseModel):
    """This dataset has no options of its own."""

    model_config = ConfigDict(extra="forbid")


class Settings(BaseModel):
    """Options every converter understands (the `vidcurate convert` flags)."""

    model_config = ConfigDict(extra="forbid")

    video_root: Path | None = Field(None, description="folder the annotation's media paths are relative to")
    check_videos: bool = Field(False, description="probe each media file; missing/unreadable -> row error")
    prompt_file: Path | None = Field(None, description="your own instruction pool (text lines or JSON list)")
    seed: int = Field(0, description="picks each caption row's instruction, with the row id")
    answer_style: choices.AnswerStyle = Field("letter_text", description="letter | letter_text | text")
    mc_instruction: str | None = Field(None, description="a line appended after multiple-choice options")
    split: str | None = Field(None, description="only files/records of this split (train, val, test...)")
    roots: dict[str, Path] = Field(default_factory=dict, description="per-subset video roots (videochat2)")
    workers: int = Field(4, ge=1, description="threads probing media for --check-videos")
    limit: int | None = Field(None, ge=1, description="stop after this many rows")


Opts = TypeVar("Opts", bound=BaseModel)


class Converter(Generic[Opts]):
    """Base class: find the annotation files, read records, turn each record into rows.

    The options model is read from the type argument (`class NExTQA(Converter[Options])`).
    """

    name: ClassVar[str]
    description: ClassVar[str]
    media: ClassVar[str] = "video"
    Options: ClassVar[type[BaseModel]] = NoOptions
    # Files picked from an --annotations folder (fnmatch on the path relative to it).
    patterns: ClassVar[tuple[str, ...]] = ("*.json",)
    # False: the media live beside the annotations (image folders); the root defaults to them.
    needs_root: ClassVar[bool] = True
    # True: --split selects records by their own split field, not files by name.
    split_in_records: ClassVar[bool] = False
    # Shared settings this converter uses beyond the common ones ("roots").
    uses: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "Options" not in cls.__dict__:
            for base in getattr(cls, "__orig_bases__", ()):
                args = [a for a in get_args(base) if isinstance(a, type) and issubclass(a, BaseModel)]
                if get_origin(base) is not None and args:
                    cls.Options = args[0]
                    break

    def __init__(self, settings: Settings, options: Opts, issues: Issues) -> None:
        self.settings = settings
        self.opts: Opts = options
        self.issues = issues

    # -- files --------------------------------------------------------------------------------

    def files(self, paths: Sequence[Path]) -> list[Path]:
        """The annotation files: given files as they are, folders searched with `patterns` and --split."""
        out: list[Path] = []
        for p in paths:
            if p.is_file():
                out.append(p)
            elif p.is_dir():
                found = sorted(f for f in p.rglob("*") if f.is_file() and self.wanted(f.relative_to(p)))
                if self.settings.split and not self.split_in_records:
                    found = [f for f in found if self.in_split(f.relative_to(p))]
                if not found:
                    what = f" for split '{self.settings.split}'" if self.settings.split else ""
                    raise ConfigError(
                        f"{self.name}: no annotation files{what} in {p} (looked for {', '.join(self.patterns)})"
                    )
                out.extend(found)
            else:
                raise ConfigError(f"{self.name}: annotations {p} do not exist")
        return out

    def wanted(self, rel: Path) -> bool:
        return any(fnmatch.fnmatch(rel.as_posix(), pat) or fnmatch.fnmatch(rel.name, pat) for pat in self.patterns)

    @property
    def splits(self) -> set[str]:
        """--split as a set (``train,restval`` selects both)."""
        return {x.strip().lower() for x in (self.settings.split or "").split(",") if x.strip()}

    def in_split(self, rel: Path) -> bool:
        """Does a file belong to --split? A split name appears whole in its path (`val_2` in
        ``val_2.json``; `val` in ``val_q.json`` and ``val_2.json``, never in ``valid.json``)."""
        path = rel.as_posix().lower()
        return any(re.search(rf"(?<![a-z0-9]){re.escape(s)}(?![a-z0-9])", path) for s in self.splits)

    def want_split(self, value: Any) -> bool:
        """For datasets whose records carry their split: keep this record?"""
        return not self.splits or str(value).strip().lower() in self.splits

    # -- records ------------------------------------------------------------------------------

    def records(self, files: list[Path]) -> Iterator[tuple[str, Any]]:
        """``(where, record)`` for every record of every file."""
        raise NotImplementedError

    def rows(self, record: Any, where: str) -> Iterable[Row]:
        """The rows of one record (a QA dataset: one per question)."""
        raise NotImplementedError

    def run(self, paths: Sequence[Path]) -> Iterator[Row]:
        """Every row of every record; a record that fails is reported and skipped."""
        for where, record in self.records(self.files(paths)):
            if self.issues.unclean and (b := bad_byte(record)) is not None:
                self.issues.add(where, not_utf8(b))
                continue
            try:
                rows = list(self.rows(record, where))
            except KeyError as e:
                self.issues.add(where, f"missing field {e}; record skipped")
                continue
            except (RecordError, TypeError, ValueError, AttributeError, IndexError) as e:
                self.issues.add(where, f"{_describe(e)}; record skipped")
                continue
            except ConfigError:
                raise
            except Exception as e:  # whatever else a strange record triggers: reported, never a crash
                self.issues.add(where, f"unexpected {type(e).__name__} ({e}); record skipped")
                continue
            for r in rows:
                r["_where"] = where
                yield r

    # -- helpers for subclasses -----------------------------------------------------------------

    @staticmethod
    def guard(base: Row, build: Callable[..., Row], *args: Any) -> Row:
        """``base`` (media, ids) plus what ``build(*args)`` returns; if the record is broken, an error row."""
        try:
            return {**base, **build(*args)}
        except KeyError as e:
            return {**base, **error_row("bad_record", f"missing field {e}")}
        except (RecordError, TypeError, ValueError, AttributeError, IndexError) as e:
            return {**base, **error_row("bad_record", _describe(e))}
        except ConfigError:
            raise
        except Exception as e:
            return {**base, **error_row("bad_record", f"unexpected {type(e).__name__} ({e})")}

    @property
    def token(self) -> str:
        return MEDIA_TOKENS[self.media]

    def video_file(self, stem: str) -> str:
        """The media path of a video named by id: ``stem.ext`` for a given --opt ext, else looked up."""
        ext = str(getattr(self.opts, "ext", AUTO_EXT)).lstrip(".")
        return AnyExt(stem) if ext == AUTO_EXT else f"{stem}.{ext}"

    def human(self, text: str, media: str | None = None) -> str:
        """The first human turn: the media token on its own line, then the text."""
        return f"{MEDIA_TOKENS[media or self.media]}\n{text.strip()}"

    def qa(
        self,
        question: Any,
        answer: Any = None,
        *,
        options: Sequence[Any] | None = None,
        answer_index: Any = None,
        answer_indices: Sequence[Any] | None = None,
        media: str | None = None,
    ) -> Row:
        """The unified QA columns: open-ended (`answer`) or multiple choice (`options` + index/indices)."""
        q = text(question, "question")
        if options is None:
            ans = None if answer is None else text(answer, "answer", allow_empty=True)
            conv = [{"from": "human", "value": self.human(q, media)}]
            if ans is not None:
                conv.append({"from": "gpt", "value": ans})
            return {"query": q, "conversations": conv, "answer": ans}
        opts = choices.clean_options(options)
        query = choices.render_question(q, opts, self.settings.mc_instruction)
        row: Row = {"query": query, "options": opts}
        reply = None
        if answer_indices is not None:
            idx = sorted({choices.check_index(i, len(opts)) for i in answer_indices})
            row["answer_indices"] = idx
            if len(idx) == 1:
                row["answer_index"] = idx[0]
            row["answer"] = "; ".join(opts[i] for i in idx) if idx else choices.NONE_CORRECT
            reply = choices.render_answers(opts, idx, self.settings.answer_style)
        elif answer_index is not None:
            i = choices.check_index(answer_index, len(opts))
            row["answer_index"] = i
            row["answer"] = opts[i]
            reply = choices.render_answer(opts, i, self.settings.answer_style)
        conv = [{"from": "human", "value": self.human(query, media)}]
        if reply is not None:
            conv.append({"from": "gpt", "value": reply})
        row["conversations"] = conv
        return row

    def caption_row(self, caption: Any, pool: str | None = None) -> Row:
        """A caption row; the driver adds the instruction (from `pool`) and the conversation."""
        default = "image_caption" if self.media == "image" else "video_caption"
        return {"caption": text(caption, "caption"), "_prompt": pool or default}

    def conversation(self, turns: Any, media: str | None = None) -> tuple[list[dict[str, str]], str]:
        """Checked LLaVA-style turns (human first, then alternating) with the media token first.

        LLaVA-style data writes ``<image>`` for a video; the token is normalised to the row's media
        and moved to the start of the first turn (later human turns lose theirs: one media, one token).
        Returns the turns and the query (first human text without the token).
        """
        if not isinstance(turns, list) or not turns:
            raise RecordError("'conversations' must be a non-empty list of turns")
        out = []
        for i, t in enumerate(turns):
            if not isinstance(t, dict) or not isinstance(t.get("value"), str):
                raise RecordError(f"conversation turn {i} is not a {{from, value}} object with text")
            role = {"user": "human", "assistant": "gpt"}.get(str(t.get("from")), str(t.get("from")))
            want = "human" if i % 2 == 0 else "gpt"
            if role != want:
                raise RecordError(f"conversation turn {i} is from {t.get('from')!r}, expected {want!r}")
            value = t["value"]
            if role == "human":  # the one media token goes first in the first turn, wherever it was
                value = strip_tokens(value, (VIDEO_TOKEN, IMAGE_TOKEN))
            out.append({"from": role, "value": value})
        query = out[0]["value"]
        out[0] = {"from": "human", "value": self.human(query, media)}
        return out, query

    def span(self, start: Any, end: Any, duration: float | None = None) -> tuple[Row, list[str]]:
        """``start_s``/``end_s`` from seconds; reversed or out-of-range spans clamped, with a warning."""
        s, e = _num(start, "start"), _num(end, "end")
        warn = []
        if s > e:
            warn.append(f"span start {s:g} > end {e:g}: swapped")
            s, e = e, s
        if s < 0:
            warn.append(f"span start {s:g} < 0: clamped to 0")
            s = 0.0
        if duration is not None:
            if e > duration + SPAN_TOLERANCE_S:
                warn.append(f"span end {e:g} > duration {duration:g}: clamped")
            e = min(e, duration)
            if s > duration:
                raise RecordError(f"span start {s:g} is past the duration {duration:g}")
        if e <= s:
            raise RecordError(f"empty span [{s:g}, {e:g}]")
        return {"start_s": s, "end_s": e}, warn


def obj(value: Any, what: str = "record") -> dict[str, Any]:
    """A JSON object, or a RecordError saying what it is instead."""
    if not isinstance(value, dict):
        raise RecordError(f"{what} is {type(value).__name__}, not an object")
    return value


def text(value: Any, what: str, *, allow_empty: bool = False) -> str:
    """A text field as a stripped string; numbers become text, other types are a RecordError."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise RecordError(f"'{what}' is {type(value).__name__}, not text")
    s = str(value).strip()
    if not s and not allow_empty:
        raise RecordError(f"'{what}' is empty")
    return s


def _num(value: Any, what: str) -> float:
    if isinstance(value, bool):
        raise RecordError(f"'{what}' is a boolean, not a number")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise RecordError(f"'{what}' is {value!r}, not a number") from None
    if x != x or x in (float("inf"), float("-inf")):
        raise RecordError(f"'{what}' is not finite")
    return x


def number(value: Any, what: str) -> float:
    """A float from a number or numeric string; anything else is a RecordError."""
    return _num(value, what)


def optional_number(value: Any) -> float | None:
    """A float, or None for blanks and junk (optional metadata such as scores)."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if x == x and abs(x) != float("inf") else None


def optional_int(value: Any) -> int | None:
    x = optional_number(value)
    return int(x) if x is not None and x.is_integer() else None


def error_row(kind: str, message: str) -> Row:
    """Private marker: the driver turns it into `error`/`error_kind` and reports it."""
    return {"_error": (kind, message)}


def _describe(e: BaseException) -> str:
    if isinstance(e, (RecordError, ValueError)):
        return str(e)
    return f"wrong type ({e})"
