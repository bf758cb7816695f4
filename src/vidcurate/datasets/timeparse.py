"""Timestamps and Python-repr cells as public datasets write them, parsed without executing anything.

Datasets disagree on units: InternVid writes ``"00:03:10.567"``, Panda-70M and Koala-36M write
``"0:00:19.227"`` inside Python-repr strings, WebVid writes ISO-8601 durations (``"PT00H00M17S"``).
Repr cells go through :func:`ast.literal_eval` only (never ``eval``/``json.loads``), with a size cap,
so a cell like ``"__import__('os').system('x')"`` is rejected as data, not run.
"""

from __future__ import annotations

import ast
import functools
import math
import re
from typing import Any

_HMS = re.compile(r"^\s*(?:(\d+):)?(\d{1,2}):(\d{1,2}(?:\.\d+)?)\s*$")
_ISO = re.compile(r"^\s*P(?:(\d+(?:\.\d+)?)D)?T?(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?\s*$")
# Longest repr cell accepted: Panda-70M rows with hundreds of clips are ~50 kB.
MAX_LITERAL_CHARS = 2_000_000


def hms_to_s(value: Any) -> float:
    """``"HH:MM:SS.mmm"``, ``"H:MM:SS.fff"`` or ``"MM:SS"`` (or a plain number) to seconds."""
    if isinstance(value, bool):
        raise ValueError(f"not a timestamp: {value!r}")
    if isinstance(value, (int, float)):
        return _finite(float(value), value)
    if not isinstance(value, str):
        raise ValueError(f"not a timestamp: {value!r}")
    m = _HMS.match(value)
    if m is None:
        raise ValueError(f"not a timestamp (want HH:MM:SS.mmm): {value!r}")
    h, mnt, sec = int(m.group(1) or 0), int(m.group(2)), float(m.group(3))
    if mnt >= 60 or sec >= 60:
        raise ValueError(f"not a timestamp (minutes/seconds >= 60): {value!r}")
    return h * 3600 + mnt * 60 + sec


def iso_duration_s(value: Any) -> float:
    """ISO-8601 durations such as WebVid's ``"PT00H00M17S"`` to seconds; plain numbers pass."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _finite(float(value), value)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"not a duration: {value!r}")
    return _iso_text(value)


@functools.lru_cache(maxsize=4096)  # a dataset has a few thousand distinct durations
def _iso_text(value: str) -> float:
    if not value.lstrip().startswith("P"):
        try:
            return _finite(float(value), value)
        except ValueError:
            raise ValueError(f"not an ISO-8601 duration: {value!r}") from None
    m = _ISO.match(value)
    if m is None or not any(m.groups()):
        raise ValueError(f"not an ISO-8601 duration: {value!r}")
    d, h, mnt, s = (float(g) if g else 0.0 for g in m.groups())
    return d * 86400 + h * 3600 + mnt * 60 + s


def literal(value: Any, what: str = "value") -> Any:
    """A Python-repr string (``"['0:00:01.0', '0:00:02.0']"``) to its value, safely.

    Only literals are accepted (strings, numbers, lists, tuples, dicts...); a name, call or
    attribute raises ValueError, so nothing in the cell is ever executed.
    """
    if not isinstance(value, str):
        return value
    if len(value) > MAX_LITERAL_CHARS:
        raise ValueError(f"{what}: repr string too long ({len(value)} characters)")
    try:
        return ast.literal_eval(value.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as e:
        short = value if len(value) <= 60 else value[:57] + "..."
        raise ValueError(f"{what}: not a Python literal ({type(e).__name__}): {short!r}") from None


def span_pair(value: Any, what: str = "timestamp") -> tuple[float, float]:
    """One ``[start, end]`` pair of timestamps (strings or numbers) to seconds."""
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ValueError(f"{what}: expected a [start, end] pair, got {value!r}")
    return hms_to_s(value[0]), hms_to_s(value[1])


def _finite(x: float, original: Any) -> float:
    if not math.isfinite(x):
        raise ValueError(f"not a finite number: {original!r}")
    return x
