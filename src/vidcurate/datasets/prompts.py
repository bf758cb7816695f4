"""Instruction pools for caption and classification datasets, sampled reproducibly per row.

A caption dataset has no question, so each caption is paired with an instruction drawn from a
pool. The draw depends only on (seed, row id) — not on a global random state or on row order —
so converting a subset, or the same files in another order, gives every row the same instruction.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from vidcurate.core.errors import ConfigError

POOLS: dict[str, tuple[str, ...]] = {
    "video_caption": (
        "Describe this video.",
        "Describe this video in detail.",
        "What is happening in this video?",
        "Give a brief description of the video.",
        "Summarize the visual content of the video.",
        "Provide a concise caption for this video.",
        "Write a short description of what the video shows.",
        "What does this video show?",
        "Caption this video.",
        "Explain what takes place in the video.",
    ),
    "image_caption": (
        "Describe this image.",
        "Describe this image in detail.",
        "What is shown in this image?",
        "Give a brief description of the image.",
        "Provide a concise caption for this image.",
        "Write a short description of the picture.",
        "What does this picture show?",
        "Caption this image.",
    ),
    "image_class": (
        "What object is shown in this image?",
        "What is the main object in this picture?",
        "Name the object category of this image.",
        "What category does this image belong to?",
        "Which object does this image show? Answer with its name.",
    ),
}


def load_prompt_file(path: str | Path) -> tuple[str, ...]:
    """A user pool: a JSON list of strings, or a text file with one prompt per line (``#`` comments)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"prompt file {p}: cannot read ({e.strerror or e})") from None
    if p.suffix.lower() == ".json":
        try:
            items = json.loads(text)
        except json.JSONDecodeError as e:
            raise ConfigError(f"prompt file {p}: line {e.lineno}: not valid JSON ({e.msg})") from None
        if not isinstance(items, list) or not all(isinstance(x, str) for x in items):
            raise ConfigError(f"prompt file {p}: expected a JSON list of strings")
        prompts = [x.strip() for x in items]
    else:
        prompts = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    prompts = [x for x in prompts if x]
    if not prompts:
        raise ConfigError(f"prompt file {p}: no prompts in it")
    return tuple(prompts)


class PromptPicker:
    """Chooses one instruction per row from a pool; the user's pool replaces every built-in one."""

    def __init__(self, seed: int = 0, user_pool: tuple[str, ...] | None = None) -> None:
        self.seed = seed
        self.user_pool = user_pool

    def pool(self, name: str) -> tuple[str, ...]:
        return self.user_pool or POOLS[name]

    def pick(self, pool: str, row_id: str) -> str:
        prompts = self.pool(pool)
        h = hashlib.sha1(f"{self.seed}\x1f{row_id}".encode()).digest()
        return prompts[int.from_bytes(h[:8], "big") % len(prompts)]
