"""One long video across cores: its span is scanned as time ranges side by side, then merged.

A decoder keeps about two cores busy at best; a 20-minute video would otherwise take one worker
for its whole length. Here each range gets its own decoder on its own thread (PyAV and OpenCV
release the GIL while they work). A range decodes from `OVERLAP_S` before its first frame, so
the frame before it is decoded too and every frame's content score is exactly the score one pass
gives it: the score needs only the frame itself and the one before. The cut decisions (threshold,
minimum scene length, PySceneDetect's flash filter, the adaptive detector's rolling window) are
then replayed in order over the joined scores by the same detector classes, so the cuts are the
single pass's. At each seam the ranges must agree on which frame comes before the next range's
first one; where they do not (frames without timestamps, a broken index), the caller scans the
span in one pass instead.
"""

from __future__ import annotations

import itertools
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vidcurate.core.frames import DecodeStats
from vidcurate.io.decode import iter_frames
from vidcurate.io.packets import end_time

OVERLAP_S = 2.0  # decoded before a range's start: the frame before it, whatever the frame rate
_EPS = 1e-6  # the same tolerance `iter_frames` compares times with


@dataclass
class RangeScores:
    """Content scores of the frames of one range, and the frame decoded just before it."""

    times: list[float] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    before: float | None = None  # time of the frame before the range's first (None: none was decoded)
    last_end: float | None = None
    errors: int = 0
    messages: list[str] = field(default_factory=list)


def ranges_of(start: float, end: float, parts: int) -> list[tuple[float, float]]:
    """`parts` equal time ranges covering [start, end)."""
    step = (end - start) / parts
    edges = [start + k * step for k in range(parts)] + [end]
    return list(itertools.pairwise(edges))


def score_range(path: str | Path, make_sink: Any, start: float, end: float | None, first: bool) -> RangeScores:
    """Decode [start - OVERLAP_S, end) and score every frame from `start` on with a fresh sink."""
    sink = make_sink()
    out = RangeScores()
    stats = DecodeStats()
    warm_from = start if first else max(0.0, start - OVERLAP_S)
    for d in iter_frames(path, start_s=warm_from, end_s=end, stats=stats):
        score = sink.score_only(d)
        if d.time_s < start - _EPS:
            out.before = d.time_s
            continue
        out.times.append(d.time_s)
        out.scores.append(score)
        f = d.frame
        out.last_end = d.time_s + float(f.duration * f.time_base) if f.duration and f.time_base else None
    # a bad packet near a seam is met by both ranges: each counts the ones whose time falls in it
    out.errors = sum(1 for t in stats.error_times if t is None or _inside(t, None if first else start, end))
    out.messages = stats.messages
    return out


def _inside(t: float, start: float | None, end: float | None) -> bool:
    return (start is None or t >= start - _EPS) and (end is None or t < end - _EPS)


def scan_in_ranges(
    path: str | Path, make_sink: Any, *, start_s: float, end_s: float | None, duration_s: float, parts: int
) -> tuple[np.ndarray, list[Any], int, list[str]] | None:
    """(times with the end appended, boundaries, decoder errors, messages), or None when a seam disagrees."""
    end = end_s if end_s is not None else duration_s  # the probe's duration: where the file ends
    spans: list[tuple[float, float | None]] = list(ranges_of(start_s, end, parts))
    spans[-1] = (spans[-1][0], end_s)  # the last range reads to the span's end, or the file's
    with ThreadPoolExecutor(parts, thread_name_prefix="split-range") as pool:
        found = list(pool.map(lambda k: score_range(path, make_sink, *spans[k], first=k == 0), range(len(spans))))
    for a, b in itertools.pairwise(found):
        if not a.times or b.before is None or not math.isclose(b.before, a.times[-1], abs_tol=_EPS):
            return None
    times = [t for r in found for t in r.times]
    scores = [s for r in found for s in r.scores]
    if not times:
        return None
    last = next(r for r in reversed(found) if r.times)
    sink = make_sink()
    bounds = sink.replay(scores)
    end_t = end_time(times, last.last_end, end_s)
    messages = [m for r in found for m in r.messages][:5]
    return np.asarray([*times, end_t], np.float64), bounds, sum(r.errors for r in found), messages
