"""LLaMA-Factory sharegpt JSON plus its entry in `dataset_info.json`.

Writes `<out>/<name>.json` with `messages` (role/content; user/assistant, a leading system
message when the row has one) and `videos`/`images`, and merges one entry into
`<out>/dataset_info.json` by splicing the text: every other entry keeps its exact bytes, and the
file is replaced atomically. The rules LLaMA-Factory applies on load hold for every record: roles
alternate user/assistant, the count of `<video>` (`<image>`) tokens equals `len(videos)`
(`len(images)`), and paths are relative to the dataset folder, which is LLaMA-Factory's default
`media_dir` (or to `--media-root`, which then must be passed as `media_dir`). LLaVA-style rows
that use `<image>` as the video token get `<video>` instead. LLaMA-Factory reads whole files, so
spans need `--materialize`; without it they are kept as `start_s`/`end_s` and a note says so.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, Literal

from vidcurate.core.conversations import AUDIO_TOKEN, IMAGE_TOKEN, VIDEO_TOKEN
from vidcurate.core.errors import ConfigError
from vidcurate.export.base import Exporter, Sample, SkipRow
from vidcurate.export.jsonlist import JsonListWriter
from vidcurate.export.options import ExportOptions
from vidcurate.export.skiplog import SkipLog
from vidcurate.io.fs import atomic_path

DATASET_INFO = "dataset_info.json"
_ROLE = {"human": "user", "gpt": "assistant"}
_TAGS = {"role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant"}


class LlamaFactoryExporter(Exporter[ExportOptions]):
    """LLaMA-Factory sharegpt JSON (messages/role/content + videos) and a merged dataset_info.json entry."""

    name = "llamafactory"
    description = "LLaMA-Factory sharegpt JSON (messages + videos/images) merged into dataset_info.json"
    suffix: ClassVar[str | None] = ".json"
    conversations: ClassVar[Literal["required", "if_present", "ignore"]] = "required"
    default_paths: ClassVar[Literal["out_dir", "absolute"]] = "out_dir"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        assert self.out_file is not None
        self.info_path = self.out_dir / DATASET_INFO
        if self.out_file.name == DATASET_INFO:
            raise ConfigError(f"--name {self.dataset_name!r} would overwrite {DATASET_INFO}; choose another name")
        self._used: set[str] = set()
        self._system = False
        self._spans = 0

    def outputs(self) -> list[Path]:
        return [*super().outputs(), self.info_path]

    def check(self, sample: Sample) -> None:
        audios = sample.row.get("audios") or []
        n = sum(t["value"].count(AUDIO_TOKEN) for t in sample.turns or [])
        if n != len(audios):
            raise SkipRow(f"media token count mismatch: {n} {AUDIO_TOKEN} tokens for {len(audios)} audios")
        if audios:
            sample.extra_media = {"audios": [self.rel_path(Path(os.path.abspath(a))) for a in audios]}

    def record(self, sample: Sample) -> dict[str, Any]:
        turns = sample.turns or []
        n_video = sum(t["value"].count(VIDEO_TOKEN) for t in turns)
        retoken = sample.media == "video" and n_video == 0  # LLaVA-style <image> standing for the video
        messages: list[dict[str, str]] = []
        if sample.system is not None:
            messages.append({"role": "system", "content": sample.system})
            self._system = True
        for t in turns:
            text = t["value"].replace(IMAGE_TOKEN, VIDEO_TOKEN) if retoken else t["value"]
            messages.append({"role": _ROLE[t["from"]], "content": text})
        rec: dict[str, Any] = {"id": sample.id, "messages": messages}
        column = "videos" if sample.media == "video" else "images"
        rec[column] = [sample.rel]
        self._used.add(column)
        audios = (sample.extra_media or {}).get("audios")
        if audios:
            rec["audios"] = audios
            self._used.add("audios")
        if sample.has_span:
            self._spans += 1
            for k in ("start_s", "end_s"):
                if sample.row.get(k) is not None:
                    rec[k] = sample.row[k]
        return rec

    def entry(self) -> dict[str, Any]:
        columns = {"messages": "messages"}
        for c in ("images", "videos", "audios"):
            if c in self._used:
                columns[c] = c
        tags = dict(_TAGS)
        if self._system:
            tags["system_tag"] = "system"  # LLaMA-Factory sets every tag missing from `tags` to None
        assert self.out_file is not None
        return {"file_name": self.out_file.name, "formatting": "sharegpt", "columns": columns, "tags": tags}

    def write(self, samples: Iterator[Sample], log: SkipLog) -> list[Path]:
        assert self.out_file is not None
        read_info(self.info_path)  # refuse a broken dataset_info.json before doing any work
        with JsonListWriter(self.out_file) as w:
            for sample in samples:
                w.add(json.dumps(self.record(sample), ensure_ascii=False))
                log.ok()
        if not self._used:
            self._used.add("videos")
        merge_entry(self.info_path, self.dataset_name, self.entry())
        root = self.media_root
        if root is not None and root != Path(os.path.abspath(self.out_dir)):
            self.notes.append(f"paths are relative to {root}: pass media_dir: {root} to LLaMA-Factory")
        if self._spans:
            self.notes.append(
                f"{self._spans} rows have spans (kept as start_s/end_s) but LLaMA-Factory reads whole files;"
                " use --materialize to cut them into clips"
            )
        return [self.out_file, self.info_path]


# --- dataset_info.json -----------------------------------------------------------------------


def read_info(path: Path) -> str | None:
    """The file's text (None when absent); ConfigError when it is not a JSON object."""
    if not path.exists():
        return None
    text = path.read_text(encoding="utf-8")
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(f"{path}: not valid JSON (line {e.lineno}: {e.msg}); fix or move it") from None
    if not isinstance(obj, dict):
        raise ConfigError(f"{path}: expected a JSON object of dataset entries, got {type(obj).__name__}")
    return text


def _skip_ws(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t\r\n":
        i += 1
    return i


def top_level_entries(text: str) -> tuple[list[tuple[str, int, int]], int]:
    """(key, value start, value end) of each top-level member, and the index of the closing brace."""
    dec = json.JSONDecoder()
    i = _skip_ws(text, 0)
    if text[i : i + 1] != "{":
        raise ValueError("not an object")
    i = _skip_ws(text, i + 1)
    spans: list[tuple[str, int, int]] = []
    if text[i : i + 1] == "}":
        return spans, i
    while True:
        key, i = dec.raw_decode(text, i)
        i = _skip_ws(text, i)
        if text[i : i + 1] != ":":
            raise ValueError(f"expected ':' at {i}")
        start = _skip_ws(text, i + 1)
        _, end = dec.raw_decode(text, start)
        spans.append((key, start, end))
        i = _skip_ws(text, end)
        if text[i : i + 1] == ",":
            i = _skip_ws(text, i + 1)
            continue
        if text[i : i + 1] == "}":
            return spans, i
        raise ValueError(f"expected ',' or '}}' at {i}")


def _dump(value: Any, indent: str) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False).replace("\n", "\n" + indent)


def merge_entry(path: Path, name: str, entry: dict[str, Any]) -> None:
    """Set `name` in dataset_info.json to `entry`; every other entry's bytes stay as they were."""
    text = read_info(path)
    if text is None:
        new = json.dumps({name: entry}, indent=2, ensure_ascii=False) + "\n"
    else:
        spans, close = top_level_entries(text)
        own = [s for s in spans if s[0] == name]
        if own:
            _, start, end = own[-1]  # JSON keeps the last of duplicate keys
            new = text[:start] + _dump(entry, "  ") + text[end:]
        elif spans:
            end = spans[-1][2]
            new = text[:end] + ",\n  " + json.dumps(name) + ": " + _dump(entry, "  ") + text[end:]
        else:
            new = text[:close] + "\n  " + json.dumps(name) + ": " + _dump(entry, "  ") + "\n" + text[close:]
    expected = {**(json.loads(text) if text else {}), name: entry}
    if json.loads(new) != expected:  # never write a file that does not say exactly what we meant
        raise ConfigError(f"{path}: could not merge entry {name!r} safely; file left unchanged")
    with atomic_path(path, keep_mode=True) as tmp:
        tmp.write_text(new, encoding="utf-8")
