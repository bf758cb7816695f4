"""LLaVA-style conversation JSON: a list of {id, video|image, conversations, query, ...}.

The layout LLaVA, LLaVA-NeXT-Video, VideoChat2 and ViLAMP-style trainers read: media paths are
relative to a root the trainer is given (`video_folder`/`image_folder`), so a path that is not
under `--media-root` (default: the JSON's folder) is refused unless `--absolute`. Spans travel as
`start_s`/`end_s` seconds unless `--materialize` cut them into clips.

The media token follows the trainer: LLaVA-NeXT, LLaVA-Video and ViLAMP find the media only
through ``<image>`` (a video sample too: their preprocessing counts ``<image>`` and never looks
for ``<video>``), so that is the default; ``--opt media_token=<video>`` writes what
LLaMA-Factory-style code expects. Keys a source record carried (``keep_keys``, e.g.
``max_frame_num``) are written back under their own names, and ``--opt keep=col1,col2`` adds
columns of your choice.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

from vidcurate.core.conversations import IMAGE_TOKEN, VIDEO_TOKEN
from vidcurate.core.schema import passthrough_column
from vidcurate.export.base import Exporter, Sample
from vidcurate.export.jsonlist import JsonListWriter
from vidcurate.export.options import ExportOptions
from vidcurate.export.skiplog import SkipLog

# Row columns carried into each record when set (the answer in structured form, ids, spans).
EXTRA_KEYS = (
    "query",
    "source",
    "source_id",
    "question_id",
    "answer",
    "options",
    "answer_index",
    "answer_indices",
    "start_s",
    "end_s",
    "clip_of",
    "clip_start_s",
    "clip_end_s",
)


class LlavaOptions(ExportOptions):
    """What the trainer reading the JSON expects."""

    media_token: str = Field(IMAGE_TOKEN, description="the token marking the media in the first turn")
    keep: list[str] = Field(default_factory=list, description="more columns to write into each record")

    @field_validator("media_token")
    @classmethod
    def _token(cls, v: str) -> str:
        if not (v.startswith("<") and v.endswith(">")) or len(v) < 3 or any(c.isspace() for c in v):
            raise ValueError(f"{v!r} is not a token like <image> or <video>")
        return v

    @field_validator("keep", mode="before")
    @classmethod
    def _split(cls, v: Any) -> Any:
        return [x.strip() for x in v.split(",") if x.strip()] if isinstance(v, str) else v


def llava_record(sample: Sample, token: str = IMAGE_TOKEN, keep: list[str] | None = None) -> dict[str, Any]:
    tok = IMAGE_TOKEN if sample.media == "image" else token  # an image is <image> for every trainer
    turns = [{**t, "value": _retoken(t["value"], tok)} if t["from"] == "human" else t for t in sample.turns or []]
    rec: dict[str, Any] = {"id": sample.id, sample.media: sample.rel, "conversations": turns}
    if sample.system is not None:
        rec["system"] = sample.system
    row = sample.row
    for k in EXTRA_KEYS:
        v = row.get(k)
        if v is not None:
            rec[k] = v
    for key in row.get("keep_keys") or ():
        name, _, kind = key.partition(":")
        v = row.get(passthrough_column(name))
        if v is not None and name not in rec:
            rec[name] = json.loads(v) if kind == "json" else v
    for col in keep or ():
        if row.get(col) is not None:
            rec[col] = row[col]
    return rec


def _retoken(text: str, token: str) -> str:
    return text.replace(VIDEO_TOKEN, token).replace(IMAGE_TOKEN, token)


class LlavaExporter(Exporter[LlavaOptions]):
    """LLaVA conversation JSON (id, video|image, conversations, query); paths relative to --media-root."""

    name = "llava"
    description = "LLaVA/LLaVA-NeXT/ViLAMP conversation JSON {id, video|image, conversations}; <image> token"
    suffix: ClassVar[str | None] = ".json"
    conversations: ClassVar[Literal["required", "if_present", "ignore"]] = "required"
    default_paths: ClassVar[Literal["out_dir", "absolute"]] = "out_dir"
    Options = LlavaOptions

    def write(self, samples: Iterator[Sample], log: SkipLog) -> list[Path]:
        assert self.out_file is not None
        token, keep = self.cfg.media_token, self.cfg.keep
        with JsonListWriter(self.out_file) as w:
            for sample in samples:
                w.add(json.dumps(llava_record(sample, token, keep), ensure_ascii=False))
                log.ok()
        return [self.out_file]
