"""Duplicate pairs -> groups -> which member to keep (the same answer on any engine, any order)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def components(n: int, pairs: np.ndarray) -> np.ndarray:
    """Connected-component label (the smallest member index) of each of `n` items joined by `pairs`."""
    parent = np.arange(n, dtype=np.int64)

    def find(i: int) -> int:
        root = i
        while parent[root] != root:
            root = int(parent[root])
        while parent[i] != root:  # path compression
            parent[i], i = root, int(parent[i])
        return root

    for a, b in pairs.tolist():
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return np.array([find(i) for i in range(n)], dtype=np.int64)


def keep_order(rows: Sequence[dict[str, Any]], score: str | None) -> list[tuple[Any, ...]]:
    """A sort key per row: higher resolution, then longer, then a higher score, then the smaller id."""
    keys = []
    for r in rows:
        w, h = r.get("width") or 0, r.get("height") or 0
        start, end = r.get("start_s"), r.get("end_s")
        dur = (end - (start or 0.0)) if end is not None else (r.get("duration_s") or 0.0)
        s = r.get(score) if score else None
        keys.append((-(w * h), -float(dur), -(float(s) if s is not None else float("-inf")), str(r["id"])))
    return keys


def decide(
    rows: Sequence[dict[str, Any]], pairs: np.ndarray, score: str | None
) -> dict[str, tuple[str, bool, str | None]]:
    """id -> (group, keep, kept id or None) for every row in a group of two or more; singletons are absent.

    The group is named after its kept member, so it reads the same on every run and engine.
    """
    if not len(pairs):
        return {}
    labels = components(len(rows), pairs)
    keys = keep_order(rows, score)
    members: dict[int, list[int]] = {}
    for i, g in enumerate(labels.tolist()):
        members.setdefault(g, []).append(i)
    out: dict[str, tuple[str, bool, str | None]] = {}
    for idx in members.values():
        if len(idx) < 2:
            continue
        best = min(idx, key=lambda i: keys[i])
        kept = str(rows[best]["id"])
        for i in idx:
            rid = str(rows[i]["id"])
            out[rid] = (kept, i == best, None if i == best else kept)
    return out
