"""Import a LLaMA-Factory dataset (sharegpt or alpaca JSON/JSONL with videos or images).

The record layout comes from the file's entry in `dataset_info.json` (the one beside the file,
or `--opt dataset_info=...`; the entry whose `file_name` is the file, or `--opt dataset=NAME`),
read with LLaMA-Factory's own rules: `columns` and `tags` name the keys, and once an entry has
`tags`, a tag it leaves out is unset (so a system message needs `system_tag`). Without an entry
the tag set is detected per record: `messages` with role/content/user/assistant (OpenAI style)
or `conversations` with from/value/human/gpt (the README default).

Each record becomes one row with `conversations` as from/value turns (human/gpt, a system
prompt as a leading `system` turn), the text kept exactly, so exporting to LLaMA-Factory gives
the same messages back. Media paths are relative to `media_dir`, which defaults to the dataset
folder (`--video-root` overrides it); a path that is absolute or leaves it is a row error. The
count of `<video>` (`<image>`, `<audio>`) tokens must equal the number of videos (images, audios).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from vidcurate.core.errors import ConfigError, RowError
from vidcurate.datasets.base import Converter, RecordError, Row, error_row
from vidcurate.datasets.paths import SafeRoot
from vidcurate.datasets.readers import iter_json_records

DATASET_INFO = "dataset_info.json"
TOKENS = {"videos": "<video>", "images": "<image>", "audios": "<audio>"}
# LLaMA-Factory's DatasetAttr defaults (src/llamafactory/data/parser.py).
DEFAULT_TAGS = {
    "role_tag": "from",
    "content_tag": "value",
    "user_tag": "human",
    "assistant_tag": "gpt",
    "observation_tag": "observation",
    "function_tag": "function_call",
    "system_tag": "system",
}
OPENAI_TAGS = {
    **DEFAULT_TAGS,
    "role_tag": "role",
    "content_tag": "content",
    "user_tag": "user",
    "assistant_tag": "assistant",
}
ALPACA_COLUMNS = {"prompt": "instruction", "query": "input", "response": "output", "history": None, "system": None}


class LlamaFactoryOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dataset_info: Path | None = Field(None, description="dataset_info.json (default: the one beside the file)")
    dataset: str | None = Field(None, description="entry name in dataset_info.json (default: matched by file_name)")


class Layout:
    """How one file's records are laid out: formatting, column names and role tags."""

    def __init__(self, entry: dict[str, Any] | None, name: str | None) -> None:
        self.name = name
        self.explicit = entry is not None
        entry = entry or {}
        self.formatting = entry.get("formatting", "alpaca" if self.explicit else "sharegpt")
        if self.formatting not in ("sharegpt", "alpaca"):
            raise ConfigError(f"dataset_info entry {name!r}: formatting {self.formatting!r} is not sharegpt or alpaca")
        if entry.get("ranking"):
            raise ConfigError(f"dataset_info entry {name!r}: preference (ranking) datasets are not supported")
        cols = entry.get("columns")
        base = dict(ALPACA_COLUMNS) if self.formatting == "alpaca" else {"messages": "conversations", "system": None}
        base.update({"images": None, "videos": None, "audios": None})
        if cols is not None:  # LLaMA-Factory: a column left out of `columns` is unset
            base = {k: cols.get(k) for k in base}
        self.columns: dict[str, str | None] = base
        tags = entry.get("tags")
        self.tags = dict(DEFAULT_TAGS) if tags is None else {k: tags.get(k) for k in DEFAULT_TAGS}

    @classmethod
    def detect(cls, record: dict[str, Any]) -> Layout:
        """No dataset_info entry: OpenAI-style `messages` or README-default `conversations`."""
        if "instruction" in record and "output" in record and "conversations" not in record:
            lay = cls({"formatting": "alpaca"}, None)
        else:
            lay = cls(None, None)
        if "messages" in record and "conversations" not in record:
            lay.columns["messages"] = "messages"
            lay.tags = dict(OPENAI_TAGS)
        lay.columns.update({k: k for k in TOKENS if k in record})
        lay.columns["system"] = "system" if "system" in record else None
        lay.explicit = False
        return lay


class LlamaFactory(Converter[LlamaFactoryOptions]):
    """LLaMA-Factory sharegpt/alpaca files with videos or images, read by their dataset_info.json entry."""

    name = "llamafactory"
    description = "LLaMA-Factory sharegpt/alpaca JSON(L) + dataset_info.json entry (messages or conversations tags)"
    patterns: ClassVar[tuple[str, ...]] = ("*.json", "*.jsonl")
    needs_root = False  # media_dir defaults to the dataset folder, as in LLaMA-Factory

    def wanted(self, rel: Path) -> bool:
        return rel.name != DATASET_INFO and super().wanted(rel)

    # -- files ---------------------------------------------------------------------------------

    def layout_for(self, path: Path) -> tuple[Layout | None, Path]:
        """The file's dataset_info entry as a Layout (None: detect per record) and its dataset folder."""
        opts = self.opts
        info_path = opts.dataset_info or path.parent / DATASET_INFO
        if not info_path.is_file():
            if opts.dataset_info is not None or opts.dataset is not None:
                raise ConfigError(f"{self.name}: {info_path} not found")
            return None, path.parent
        try:
            info = json.loads(info_path.read_text(encoding="utf-8-sig"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ConfigError(f"{self.name}: {info_path} is not readable JSON ({e})") from None
        if not isinstance(info, dict):
            raise ConfigError(f"{self.name}: {info_path} is not a JSON object of dataset entries")
        if opts.dataset is not None:
            if opts.dataset not in info:
                raise ConfigError(f"{self.name}: no entry {opts.dataset!r} in {info_path}")
            return Layout(info[opts.dataset], opts.dataset), info_path.parent
        rel = (
            path.resolve().relative_to(info_path.parent.resolve()).as_posix()
            if _under(path, info_path.parent)
            else None
        )
        for name, entry in info.items():
            if isinstance(entry, dict) and entry.get("file_name") in (path.name, rel):
                return Layout(entry, name), info_path.parent
        return None, path.parent

    def records(self, files: list[Path]) -> Iterator[tuple[str, Any]]:
        for f in files:
            layout, dataset_dir = self.layout_for(f)
            media_dir = self.settings.video_root or dataset_dir  # LLaMA-Factory: media_dir = dataset_dir
            for i, (where, rec) in enumerate(iter_json_records(f, self.issues)):
                yield where, (layout, f, media_dir, i, rec)

    # -- one record ----------------------------------------------------------------------------

    def rows(self, record: Any, where: str) -> Iterator[Row]:
        layout, path, media_dir, index, rec = record
        if not isinstance(rec, dict):
            raise RecordError(f"record is {type(rec).__name__}, not an object")
        if layout is None:
            layout = Layout.detect(rec)
        turns = _alpaca_turns(rec, layout) if layout.formatting == "alpaca" else _sharegpt_turns(rec, layout)
        media = {k: _media_list(rec.get(col), k) if col else [] for k, col in layout.columns.items() if k in TOKENS}
        visual = media["videos"] + media["images"]
        if len(visual) != 1:
            raise RecordError(f"{len(visual)} videos/images in one record; a row holds exactly one video or image")
        kind = "video" if media["videos"] else "image"
        row: Row = {
            "media": kind,
            "_media": visual[0],
            "_root": media_dir,
            "_id": (layout.name or path.name, index),
            "conversations": turns,
            "query": _query(turns),
        }
        if len(turns) == 2 + (turns[0]["from"] == "system"):
            row["answer"] = turns[-1]["value"]
        if isinstance(rec.get("id"), (str, int)):
            row["source_id"] = str(rec["id"])
        if media["audios"]:
            try:
                row["audios"] = [SafeRoot(media_dir).join(a) for a in media["audios"]]
            except RowError as e:
                row["audios"] = media["audios"]
                row.update(error_row(e.kind, f"audio: {e.message}"))
        text = "".join(t["value"] for t in turns if t["from"] != "system")
        for key, token in TOKENS.items():
            if "_error" not in row and text.count(token) != len(media[key]):
                row.update(
                    error_row(
                        "token_mismatch",
                        f"{text.count(token)} {token} tokens for {len(media[key])} {key} ({where})",
                    )
                )
        yield row


def _under(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def _media_list(value: Any, key: str) -> list[str]:
    """LLaMA-Factory accepts one path or a list; a list of frame lists is not a video file."""
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    for v in items:
        if isinstance(v, list):
            raise RecordError(f"'{key}' holds a list of frames; only media files are supported")
        if not isinstance(v, str) or not v.strip():
            raise RecordError(f"'{key}' holds {v!r}, not a path")
    return list(items)


def _sharegpt_turns(rec: dict[str, Any], lay: Layout) -> list[dict[str, str]]:
    """LLaMA-Factory's SharegptDatasetConverter rules: optional leading system, then user/assistant pairs."""
    col = lay.columns.get("messages")
    if not col:
        raise RecordError("the dataset_info entry names no 'messages' column")
    messages = rec.get(col)
    if not isinstance(messages, list) or not messages:
        raise RecordError(f"'{col}' is not a non-empty list of messages")
    t = lay.tags
    role, content = t["role_tag"], t["content_tag"]
    turns: list[dict[str, str]] = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or role not in m or content not in m:
            raise RecordError(f"message {i} has no {role!r}/{content!r} keys")
    if t["system_tag"] and messages[0][role] == t["system_tag"]:
        turns.append({"from": "system", "value": _text(messages[0][content], 0)})
        messages = messages[1:]
    elif (sys_col := lay.columns.get("system")) and rec.get(sys_col):
        turns.append({"from": "system", "value": _text(rec[sys_col], -1)})
    for i, m in enumerate(messages):
        want = t["user_tag"] if i % 2 == 0 else t["assistant_tag"]
        if m[role] != want:
            raise RecordError(f"message {i} has {role} {m[role]!r}, expected {want!r} (turns must alternate)")
        turns.append({"from": "human" if i % 2 == 0 else "gpt", "value": _text(m[content], i)})
    if len(messages) % 2:
        raise RecordError("odd number of messages: the last user message has no assistant answer")
    return turns


def _alpaca_turns(rec: dict[str, Any], lay: Layout) -> list[dict[str, str]]:
    """LLaMA-Factory's AlpacaDatasetConverter: history pairs, then `prompt\\nquery` -> response."""
    c = {k: v for k, v in lay.columns.items() if v}  # the columns this file names
    turns: list[dict[str, str]] = []
    if "system" in c and rec.get(c["system"]):
        turns.append({"from": "system", "value": _text(rec[c["system"]], -1)})
    history = rec.get(c["history"]) if "history" in c else None
    for pair in history if isinstance(history, list) else []:
        if not isinstance(pair, list) or len(pair) != 2:
            raise RecordError("history entries must be [prompt, response] pairs")
        turns += [{"from": "human", "value": _text(pair[0], -1)}, {"from": "gpt", "value": _text(pair[1], -1)}]
    parts = [rec[c[k]] for k in ("prompt", "query") if k in c and rec.get(c[k])]
    response = rec.get(c["response"]) if "response" in c else None
    if not parts or not isinstance(response, str):
        raise RecordError("alpaca record needs a prompt and a text response")
    turns += [{"from": "human", "value": "\n".join(map(str, parts))}, {"from": "gpt", "value": response}]
    return turns


def _text(value: Any, i: int) -> str:
    if not isinstance(value, str):
        raise RecordError(f"message {i} content is {type(value).__name__}, not text")
    return value


def _query(turns: list[dict[str, str]]) -> str:
    first = next(t["value"] for t in turns if t["from"] == "human")
    for tok in TOKENS.values():
        first = first.replace(tok, "")
    return first.strip()
