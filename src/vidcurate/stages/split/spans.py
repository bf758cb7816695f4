"""From detected cuts to clip spans: minimum scene length, fades, trim margins, long-scene windows.

Everything here works on frame indices and their presentation times, never on a nominal frame
rate, so variable-frame-rate files are cut where the picture changes. Pure functions: the
detectors find boundaries, this module decides which frames each clip keeps.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

# Two times closer than this are the same instant (timestamps are rationals turned into floats).
_EPS = 1e-6


@dataclass(frozen=True)
class Boundary:
    """A scene change: the old scene ends before frame `end`, the new one starts at frame `start`.

    A hard cut has `end == start` (the first frame of the new scene). A gradual transition
    (dissolve, wipe) has `end < start`: the frames in between belong to neither scene.
    `score` is the detector's confidence in its own units.
    """

    end: int
    start: int
    score: float | None = None


@dataclass(frozen=True)
class Clip:
    """Frames [start, end) of the scanned span; `score` belongs to the cut that opens the clip."""

    start: int
    end: int
    score: float | None = None
    reject: str | None = None  # why the clip is not kept (too short, black)


def span_s(times: np.ndarray, start: int, end: int) -> float:
    """Duration of frames [start, end): `times` has one more entry, the end of the last frame."""
    return float(times[end] - times[start])


def scenes_from_boundaries(n: int, boundaries: list[Boundary]) -> list[Clip]:
    """Scenes between boundaries, each carrying the score of the boundary that opens it."""
    out: list[Clip] = []
    pos, score = 0, None
    for b in sorted(boundaries, key=lambda b: b.start):
        end = min(max(b.end, pos), n)
        if end > pos:
            out.append(Clip(pos, end, score))
        pos, score = max(pos, min(b.start, n)), b.score
    if n > pos:
        out.append(Clip(pos, n, score))
    return out


def enforce_min_scene(times: np.ndarray, boundaries: list[Boundary], min_scene_s: float) -> list[Boundary]:
    """Drop a boundary that would close a scene shorter than `min_scene_s` (the earlier cut wins).

    Detectors already apply a minimum length in frames; this makes it hold in seconds, which
    differs on variable-frame-rate files.
    """
    if min_scene_s <= 0:
        return sorted(boundaries, key=lambda b: b.start)
    kept: list[Boundary] = []
    scene_start = 0
    for b in sorted(boundaries, key=lambda b: b.start):
        if span_s(times, scene_start, b.end) + _EPS >= min_scene_s:
            kept.append(b)
            scene_start = b.start
    return kept


def drop_black_edges(clip: Clip, black: np.ndarray) -> Clip:
    """Shrink a clip past black frames at either end (a fade through black); all black: reject."""
    s, e = clip.start, clip.end
    while s < e and black[s]:
        s += 1
    while e > s and black[e - 1]:
        e -= 1
    if s >= e:
        return Clip(clip.start, clip.end, clip.score, reject="black (every frame below fade_threshold)")
    return Clip(s, e, clip.score)


def trim_margins(times: np.ndarray, clip: Clip, trim_s: float, *, at_start: bool, at_end: bool) -> Clip:
    """Remove frames whose display interval comes within `trim_s` of a cut.

    A frame shows from its timestamp until the next one. With `trim_s` = k frame intervals,
    exactly k frames go on each side of a cut; a margin that is not a whole number of frames
    rounds up. Ends of the scanned span are not cuts and are left alone.
    """
    if trim_s <= 0:
        return clip
    s, e = clip.start, clip.end
    if at_start:
        limit = times[clip.start] + trim_s - _EPS
        while s < e and times[s] < limit:
            s += 1
    if at_end:
        limit = times[clip.end] - trim_s + _EPS
        while e > s and times[e] > limit:  # times[e] is when frame e - 1 stops showing
            e -= 1
    if s >= e:
        return Clip(clip.start, clip.end, clip.score, reject=f"nothing left after trim_s={trim_s:g} at the cuts")
    return Clip(s, e, clip.score)


def split_long(times: np.ndarray, clip: Clip, max_clip_s: float) -> list[Clip]:
    """Split a clip longer than `max_clip_s` into the fewest windows of equal length that fit.

    Window edges fall on the frame whose timestamp is nearest the ideal edge; the first window
    keeps the cut's score, the others have none (they do not start at a cut).
    """
    dur = span_s(times, clip.start, clip.end)
    if dur <= max_clip_s + _EPS:
        return [clip]
    k = math.ceil(dur / max_clip_s - _EPS)
    t0 = times[clip.start]
    edges = [clip.start]
    for j in range(1, k):
        target = t0 + dur * j / k
        i = int(np.searchsorted(times[clip.start : clip.end], target - _EPS)) + clip.start
        if i > clip.start and abs(times[i - 1] - target) < abs(times[i] - target):
            i -= 1
        i = min(max(i, edges[-1] + 1), clip.end - 1)
        edges.append(i)
    edges.append(clip.end)
    out = []
    for j, (a, b) in enumerate(itertools.pairwise(edges)):
        if b > a:
            out.append(Clip(a, b, clip.score if j == 0 else None))
    # A window that still overshoots (a long gap between two frames) is left as it is: no frame to cut at.
    return out


def fixed_windows(times: np.ndarray, n: int, window_s: float) -> list[Clip]:
    """Consecutive windows of `window_s` seconds from the first frame (the last may be shorter).

    Frame i belongs to window floor((t_i - t_0) / window_s), so a gap in the timestamps leaves
    no empty window behind.
    """
    if n == 0:
        return []
    k = np.floor((times[:n] - times[0]) / window_s + _EPS).astype(np.int64)
    edges = [0, *(np.flatnonzero(np.diff(k)) + 1).tolist(), n]
    return [Clip(a, b) for a, b in itertools.pairwise(edges)]


def plan_clips(
    times: np.ndarray,
    boundaries: list[Boundary],
    *,
    min_scene_s: float = 0.0,
    max_clip_s: float | None = None,
    min_clip_s: float = 0.0,
    trim_s: float = 0.0,
    black: np.ndarray | None = None,
) -> list[Clip]:
    """The clips of a scanned span, kept ones and rejected ones (with the reason), in order.

    `times` holds the presentation time of each of the n frames plus the end of the last one.
    """
    n = len(times) - 1
    kept_bounds = enforce_min_scene(times, boundaries, min_scene_s)
    scenes = scenes_from_boundaries(n, kept_bounds)
    out: list[Clip] = []
    for clip in scenes:
        at_start, at_end = clip.start > 0, clip.end < n
        if black is not None:
            clip = drop_black_edges(clip, black)
        if clip.reject is None:
            clip = trim_margins(times, clip, trim_s, at_start=at_start, at_end=at_end)
        if clip.reject is not None:
            out.append(clip)
            continue
        pieces = split_long(times, clip, max_clip_s) if max_clip_s else [clip]
        for p in pieces:
            dur = span_s(times, p.start, p.end)
            if dur + _EPS < min_clip_s:
                p = Clip(p.start, p.end, p.score, reject=f"clip {dur:.3f} s is shorter than min_clip_s={min_clip_s:g}")
            out.append(p)
    return out
