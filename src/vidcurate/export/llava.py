"""LLaVA-style conversation JSON: a list of {id, video|image, conversations, query, ...}.

The layout LLaVA, LLaVA-NeXT-Video, VideoChat2 and ViLAMP-style trainers read: media paths are
relative to a root the trainer is given (`video_folder`/`image_folder`), so a path that is not
under `--media-root` (default: the JSON's folder) is refused unless `--absolute`. Spans travel as
`start_s`/`end_s` seconds unless `--materialize` cut them into clips.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, Literal

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


def llava_record(sample: Sample) -> dict[str, Any]:
    rec: dict[str, Any] = {"id": sample.id, sample.media: sample.rel, "conversations": sample.turns}
    if sample.system is not None:
        rec["system"] = sample.system
    for k in EXTRA_KEYS:
        v = sample.row.get(k)
        if v is not None:
            rec[k] = v
    return rec


class LlavaExporter(Exporter[ExportOptions]):
    """LLaVA conversation JSON (id, video|image, conversations, query); paths relative to --media-root."""

    name = "llava"
    description = "LLaVA conversation JSON list {id, video|image, conversations, query}; paths relative to a root"
    suffix: ClassVar[str | None] = ".json"
    conversations: ClassVar[Literal["required", "if_present", "ignore"]] = "required"
    default_paths: ClassVar[Literal["out_dir", "absolute"]] = "out_dir"

    def write(self, samples: Iterator[Sample], log: SkipLog) -> list[Path]:
        assert self.out_file is not None
        with JsonListWriter(self.out_file) as w:
            for sample in samples:
                w.add(json.dumps(llava_record(sample), ensure_ascii=False))
                log.ok()
        return [self.out_file]
