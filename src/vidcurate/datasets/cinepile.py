"""CinePile: Parquet (or CSV) rows of five ``choices``, ``answer_key`` (the TEXT) and ``answer_key_position``.

``answer_key_position`` is the index; it must point at the ``answer_key`` text, else the row is an
error (the two disagree). Clips are ``<youtube id>.mp4`` with the id from ``videoID`` (the
``*_with_videoID`` variants) or ``yt_clip_link``. A CSV's ``choices`` cell is parsed as a Python literal.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from vidcurate.datasets import choices
from vidcurate.datasets.base import Converter, RecordError, Row, error_row, ext_field, text
from vidcurate.datasets.paths import youtube_id
from vidcurate.datasets.readers import iter_csv, iter_parquet
from vidcurate.datasets.timeparse import literal

REQUIRED = ("question", "choices", "answer_key", "answer_key_position")


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ext: str = ext_field("clip file extension (<youtube id>.<ext>)")


class CinePile(Converter[Options]):
    name = "cinepile"
    description = "CinePile movie-clip multiple choice (parquet/csv; answer_key text + answer_key_position)"
    patterns = ("*.parquet", "*.csv")

    def records(self, files: list[Path]) -> Iterator[tuple[str, Any]]:
        for f in files:
            if f.suffix.lower() == ".csv":
                yield from iter_csv(f, self.issues, REQUIRED)
            else:
                yield from iter_parquet(f, self.issues, REQUIRED)

    def rows(self, rec: dict[str, Any], where: str) -> Iterable[Row]:
        yt = (rec.get("videoID") or "").strip() or youtube_id(rec.get("yt_clip_link"))
        if not yt:
            raise RecordError("no videoID and no YouTube id in yt_clip_link")
        question = text(rec["question"], "question")
        base: Row = {"_media": self.video_file(yt), "_id": (yt, question), "source_id": yt}
        for src, dst in (("question_category", "question_type"), ("movie_name", "movie_name")):
            if rec.get(src):
                base[dst] = str(rec[src])
        return [self.guard(base, lambda: self._build(rec, question))]

    def _build(self, rec: dict[str, Any], question: str) -> Row:
        opts = rec["choices"]
        if isinstance(opts, str):
            opts = literal(opts, "choices")
        opts = choices.clean_options(opts)
        pos = choices.check_index(rec["answer_key_position"], len(opts), "answer_key_position")
        key = text(rec["answer_key"], "answer_key")
        if opts[pos] != key:
            msg = f"answer_key_position {pos} points at {opts[pos]!r} but answer_key is {key!r}"
            return {"query": question, "options": opts, **error_row("bad_answer", msg)}
        return self.qa(question, options=opts, answer_index=pos)
