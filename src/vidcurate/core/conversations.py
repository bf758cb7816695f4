"""LLaVA-style conversations: media tokens, speaker names, and the rules trainers enforce.

Converters build turns with these names and tokens; exporters check them with `check_turns`
before writing, so a dataset and its export agree on what a valid conversation is.
"""

from __future__ import annotations

from typing import Any

VIDEO_TOKEN = "<video>"
IMAGE_TOKEN = "<image>"
AUDIO_TOKEN = "<audio>"
MEDIA_TOKENS = {"video": VIDEO_TOKEN, "frames": VIDEO_TOKEN, "image": IMAGE_TOKEN}
SPEAKERS = {"human": "human", "user": "human", "gpt": "gpt", "assistant": "gpt", "system": "system"}


class ConversationError(ValueError):
    """A conversation a trainer would refuse; the message says which turn and why."""


def speaker(name: Any) -> str | None:
    """`human`, `gpt` or `system` for the names datasets use (`user`, `assistant`...), else None."""
    return SPEAKERS.get(str(name).lower())


def strip_tokens(text: str, tokens: tuple[str, ...] = (VIDEO_TOKEN, IMAGE_TOKEN, AUDIO_TOKEN)) -> str:
    """The text without media tokens (a query as a human would type it)."""
    for tok in tokens:
        text = text.replace(tok, "")
    return text.strip()


def check_turns(conv: Any, media: str) -> tuple[list[dict[str, str]], str | None]:
    """Validated human/gpt turns (+ system prompt) of one row; ConversationError says what is wrong.

    Rules are those training loaders enforce: turns alternate human/gpt starting with a human
    turn, every human turn is answered, a system prompt may only come first, and the row has
    exactly one media token for its one video or image (`<image>` also stands for a video in
    LLaVA-style data, as in LLaVA-Video-178K).
    """
    if not isinstance(conv, list) or not conv:
        raise ConversationError("no conversations")
    turns: list[dict[str, str]] = []
    system: str | None = None
    for i, turn in enumerate(conv):
        if not isinstance(turn, dict):
            raise ConversationError(f"bad conversation: turn {i} is not a {{from, value}} object")
        who = speaker(turn.get("from", ""))
        value = turn.get("value")
        if who is None:
            raise ConversationError(f"bad conversation: turn {i} has unknown speaker {turn.get('from')!r}")
        if not isinstance(value, str):
            raise ConversationError(f"bad conversation: turn {i} has no text")
        if who == "system":
            if i != 0:
                raise ConversationError(
                    f"bad conversation: system turn at position {i} (only the first turn may be system)"
                )
            system = value
            continue
        turns.append({"from": who, "value": value})
    if not any(t["from"] == "human" for t in turns):
        raise ConversationError("bad conversation: no human turn")
    for j, t in enumerate(turns):
        want = "human" if j % 2 == 0 else "gpt"
        if t["from"] != want:
            raise ConversationError(
                f"bad conversation: turn {j} is {t['from']}, expected {want} (turns must alternate)"
            )
    if len(turns) % 2:
        raise ConversationError("bad conversation: the last human turn has no gpt answer")
    n_video = sum(t["value"].count(VIDEO_TOKEN) for t in turns)
    n_image = sum(t["value"].count(IMAGE_TOKEN) for t in turns)
    if system is not None and (VIDEO_TOKEN in system or IMAGE_TOKEN in system):
        raise ConversationError("media token count mismatch: media token in the system prompt")
    ok = (n_video, n_image) == (0, 1) if media == "image" else (n_video + n_image == 1)
    if not ok:
        raise ConversationError(
            f"media token count mismatch: {n_video} {VIDEO_TOKEN} and {n_image} {IMAGE_TOKEN} tokens for one {media}"
        )
    return turns, system
