"""Multiple-choice questions rendered one way: ``Question\\nA. ...\\nB. ...``, answers in a chosen style.

Conversion scripts in the wild print Python list reprs as options, glue a ``.`` after a question
mark (``"?."``) or keep only one of several correct choices. Here options are lines, the question
is left as written, and several correct choices stay several.
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence
from typing import Literal

AnswerStyle = Literal["letter", "letter_text", "text"]
ANSWER_STYLES: tuple[str, ...] = ("letter", "letter_text", "text")
LETTERS = string.ascii_uppercase
NONE_CORRECT = "None of the choices is correct."

_OPTION_LINE = re.compile(r"^\s*\(?([A-Z])[.):]\s+(.*\S)\s*$")


def clean_options(options: Sequence[object]) -> list[str]:
    """Option texts as stripped strings; an empty or non-text option is a ValueError."""
    if isinstance(options, (str, bytes)) or not isinstance(options, Sequence):
        raise ValueError(f"options must be a list, got {type(options).__name__}")
    if not 2 <= len(options) <= len(LETTERS):
        raise ValueError(f"expected 2 to {len(LETTERS)} options, got {len(options)}")
    out = []
    for i, o in enumerate(options):
        if isinstance(o, bool) or not isinstance(o, (str, int, float)):
            raise ValueError(f"option {i} is {type(o).__name__}, not text")
        text = str(o).strip()
        if not text:
            raise ValueError(f"option {i} is empty")
        out.append(text)
    return out


def render_question(question: str, options: Sequence[str], instruction: str | None = None) -> str:
    """``Question\\nA. opt\\nB. opt`` (+ an optional instruction line); punctuation left as written."""
    lines = [question.strip()]
    lines += [f"{LETTERS[i]}. {o}" for i, o in enumerate(options)]
    if instruction:
        lines.append(instruction.strip())
    return "\n".join(lines)


def render_answer(options: Sequence[str], index: int, style: AnswerStyle) -> str:
    """One correct option as ``A``, ``A. text`` or ``text``."""
    if style == "letter":
        return LETTERS[index]
    if style == "letter_text":
        return f"{LETTERS[index]}. {options[index]}"
    if style == "text":
        return options[index]
    raise ValueError(f"answer style must be one of {', '.join(ANSWER_STYLES)}, not {style!r}")


def render_answers(options: Sequence[str], indices: Sequence[int], style: AnswerStyle) -> str:
    """Several correct options (CLEVRER): ``A, C`` for letters, one per line otherwise."""
    if not indices:
        return NONE_CORRECT
    if style == "letter":
        return ", ".join(LETTERS[i] for i in indices)
    return "\n".join(render_answer(options, i, style) for i in indices)


def check_index(index: object, n: int, what: str = "answer") -> int:
    """An int answer index into `n` options (ints written as strings accepted); else ValueError."""
    if isinstance(index, bool):
        raise ValueError(f"{what} {index!r} is not an option index")
    if isinstance(index, str):
        s = index.strip()
        if not s.lstrip("-").isdigit():
            raise ValueError(f"{what} {index!r} is not an option index")
        index = int(s)
    if isinstance(index, float) and index.is_integer():
        index = int(index)
    if not isinstance(index, int):
        raise ValueError(f"{what} {index!r} is not an option index")
    if not 0 <= index < n:
        raise ValueError(f"{what} {index} is out of range for {n} options")
    return index


def parse_rendered(text: str) -> tuple[list[str], int] | None:
    """Options and the first line index of an already rendered ``A. ...`` block, or None."""
    opts: list[str] = []
    first = -1
    for i, line in enumerate(text.splitlines()):
        m = _OPTION_LINE.match(line)
        if m and m.group(1) == LETTERS[len(opts)]:
            if not opts:
                first = i
            opts.append(m.group(2))
        elif opts:
            break
    return (opts, first) if len(opts) >= 2 else None


def letter_of(answer: str, n: int) -> int | None:
    """The option index an answer such as ``"E. training."``, ``"(B)"`` or ``"C"`` names, or None."""
    m = re.match(r"^\s*\(?([A-Z])(?:[.):]|\s|$)", answer)
    if m is None:
        return None
    i = LETTERS.index(m.group(1))
    return i if i < n else None
