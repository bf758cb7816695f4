"""Near-duplicate pairs of unit vectors (cosine >= threshold) without comparing all pairs.

Spherical k-means partitions the vectors (about sqrt(N) centroids, trained on a sample); each
vector joins the partitions of its `probes` nearest centroids, so a close pair that straddles a
boundary still meets in one of them; within a partition every pair's cosine is computed exactly
(one matrix product). Cost grows as N * sqrt(N) * dim instead of N^2 * dim. Small inputs are
compared all against all.
"""

from __future__ import annotations

import numpy as np

BRUTE_MAX = 4096


def normalised(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _pairs_within(x: np.ndarray, idx: np.ndarray, threshold: float, block: int = 2048) -> np.ndarray:
    """All pairs of `idx` (ascending) at cosine >= threshold, in row blocks (memory: block x len(idx))."""
    sub = x[idx]
    out = []
    for s in range(0, len(idx), block):
        sims = sub[s : s + block] @ sub.T
        i, j = np.nonzero(sims >= threshold)
        i = i + s
        keep = j > i
        out.append(np.stack([idx[i[keep]], idx[j[keep]]], axis=1))
    return np.concatenate(out) if out else np.zeros((0, 2), dtype=np.int64)


def _kmeans(x: np.ndarray, k: int, rng: np.random.Generator, iters: int = 8) -> np.ndarray:
    sample = x[rng.choice(len(x), size=min(len(x), 40 * k), replace=False)]
    c = sample[rng.choice(len(sample), size=k, replace=False)].copy()
    for _ in range(iters):
        assign = np.argmax(sample @ c.T, axis=1)
        for g in range(k):
            members = sample[assign == g]
            if len(members):
                c[g] = members.sum(axis=0)
        c = normalised(c)
    return c


def find_pairs(
    vectors: np.ndarray, threshold: float = 0.98, partitions: int | None = None, probes: int = 3, seed: int = 0
) -> np.ndarray:
    """Pairs (a, b), a < b, of rows of `vectors` whose cosine is at least `threshold`."""
    x = normalised(vectors)
    n = len(x)
    if n < 2:
        return np.zeros((0, 2), dtype=np.int64)
    if n <= BRUTE_MAX:
        return _pairs_within(x, np.arange(n), threshold)
    rng = np.random.default_rng(seed)
    k = partitions or int(np.sqrt(n))
    c = _kmeans(x, k, rng)
    near = np.empty((n, probes), dtype=np.int64)
    for s in range(0, n, 65536):
        sims = x[s : s + 65536] @ c.T
        near[s : s + 65536] = np.argpartition(-sims, probes - 1, axis=1)[:, :probes]
    owner = np.repeat(np.arange(n), probes)
    part = near.reshape(-1)
    order = np.argsort(part, kind="stable")
    bounds = np.flatnonzero(np.r_[True, part[order][1:] != part[order][:-1], True])
    found = [
        _pairs_within(x, owner[order[bounds[g] : bounds[g + 1]]], threshold)
        for g in range(len(bounds) - 1)
        if bounds[g + 1] - bounds[g] > 1
    ]
    found = [f for f in found if len(f)]
    return np.unique(np.concatenate(found), axis=0) if found else np.zeros((0, 2), dtype=np.int64)
