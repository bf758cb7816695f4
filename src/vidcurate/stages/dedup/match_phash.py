"""Near-duplicate clips from per-frame pHash sequences, without comparing all pairs.

Candidates: every frame hash goes into `tables` hash tables, each keyed by a random subset of
`bits` (more for a big index) of its 64 bits (bit-sampling LSH: two frames `d` bits apart share a table's key with
probability (1 - d/64)^bits; unrelated frames almost never). Colliding frames of two clips vote for
a temporal offset (frame a - frame b); a pair with enough votes at one offset is verified exactly:
at that offset, enough of the aligned frames must lie within `max_distance` bits, and the aligned
part must cover `min_overlap` of the shorter clip (a trimmed copy, or a clip inside a longer one).
Buckets larger than `max_bucket` (the same flat or logo frame in many clips) are skipped. With
`flip` signatures, a clip's mirrored frames are indexed too (a mirrored copy then matches).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class PhashParams:
    max_distance: int = 10  # bits of 64 two frames of one picture may differ by
    min_overlap: float = 0.8  # share of the shorter clip's frames the aligned part must cover
    min_matched: float = 0.7  # share of the aligned frames that must be within max_distance
    tables: int = 16
    bits: int = 26
    max_bucket: int = 256
    min_votes: int = 1  # colliding frame pairs at one offset before a pair is verified
    seed: int = 0


def _masks(p: PhashParams, entries: int = 0) -> list[np.uint64]:
    """Random bit subsets; more bits as the index grows, so chance collisions grow ~linearly, not
    quadratically, with the number of frames (about entries / 32 per table)."""
    bits = min(40, max(p.bits, int(np.ceil(np.log2(max(entries, 2)))) + 5))
    rng = np.random.default_rng(p.seed)
    out = []
    for _ in range(p.tables):
        chosen = rng.choice(64, size=bits, replace=False)
        out.append(np.uint64(sum(1 << int(b) for b in chosen)))
    return out


def _unique(a: np.ndarray, counts: bool = False) -> Any:
    """Sorted unique values (and their counts) by one in-place sort: faster than np.unique's hash
    table on tens of millions of int64 codes."""
    a = np.sort(a)
    first = np.flatnonzero(np.r_[True, a[1:] != a[:-1]]) if len(a) else np.zeros(0, dtype=np.int64)
    if not counts:
        return a[first]
    return a[first], np.diff(np.r_[first, len(a)])


def padded(sigs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(clips, longest) uint64 matrix, 0 where a clip has no frame (or a flat one), and lengths."""
    lens = np.array([len(s) for s in sigs], dtype=np.int64)
    m = np.zeros((len(sigs), max(1, int(lens.max()) if len(lens) else 1)), dtype=np.uint64)
    for i, s in enumerate(sigs):
        m[i, : len(s)] = s
    return m, lens


def _collisions(h: np.ndarray, owner: np.ndarray, p: PhashParams) -> np.ndarray:
    """(entry i, entry j) pairs whose hashes share a key in any table (i < j, owners differ)."""
    found = []
    for mask in _masks(p, len(h)):
        key = h & mask
        order = np.argsort(key)
        sk = key[order]
        starts = np.flatnonzero(np.r_[True, sk[1:] != sk[:-1]])
        lengths = np.diff(np.r_[starts, len(sk)])
        ok = np.repeat(lengths <= p.max_bucket, lengths)
        order, sk = order[ok], sk[ok]
        for d in range(1, p.max_bucket):
            if d >= len(sk):
                break
            same = sk[d:] == sk[:-d]
            if not same.any():
                break
            i, j = order[:-d][same], order[d:][same]
            keep = owner[i] != owner[j]
            lo, hi = np.minimum(i, j)[keep], np.maximum(i, j)[keep]
            found.append(lo.astype(np.int64) * len(h) + hi)  # one int64 per pair: a cheap unique
    if not found:
        return np.zeros((0, 2), dtype=np.int64)
    codes = _unique(np.concatenate(found))
    return np.stack([codes // len(h), codes % len(h)], axis=1)


def find_pairs(
    sigs: list[np.ndarray], flips: list[np.ndarray] | None = None, params: PhashParams | None = None
) -> np.ndarray:
    """Pairs (a, b), a < b, of clip indices whose signatures match (see the module docstring)."""
    p = params or PhashParams()
    n = len(sigs)
    if n < 2:
        return np.zeros((0, 2), dtype=np.int64)
    sig, lens = padded([np.asarray(s, dtype=np.uint64) for s in sigs])
    flip = padded([np.asarray(s, dtype=np.uint64) for s in flips])[0] if flips is not None else None
    clip, frame = np.nonzero(sig)
    h = sig[clip, frame]
    variant = np.zeros(len(h), dtype=np.int8)
    if flip is not None:
        fc, ff = np.nonzero(flip)
        clip, frame = np.r_[clip, fc], np.r_[frame, ff]
        h = np.r_[h, flip[fc, ff]]
        variant = np.r_[variant, np.ones(len(fc), dtype=np.int8)]
    e = _collisions(h, clip, p)
    if not len(e):
        return np.zeros((0, 2), dtype=np.int64)
    i, j = e[:, 0], e[:, 1]
    keep = variant[i] + variant[j] <= 1  # mirrored against mirrored is plain against plain
    i, j = i[keep], j[keep]
    swap = clip[i] > clip[j]
    a, b = np.where(swap, clip[j], clip[i]), np.where(swap, clip[i], clip[j])
    fa, fb = np.where(swap, frame[j], frame[i]), np.where(swap, frame[i], frame[j])
    flipped = (variant[i] + variant[j]).astype(np.int64)
    # votes per (a, b, mirrored, offset); which side is mirrored does not matter for the offset vote
    span = int(sig.shape[1])  # offsets lie in (-span, span)
    code = ((a.astype(np.int64) * n + b) * 2 + flipped) * (2 * span) + (fa - fb + span)
    code, votes = _unique(code, counts=True)
    code = code[votes >= p.min_votes]
    off = code % (2 * span) - span
    rest = code // (2 * span)
    cand = np.stack([rest // 2 // n, rest // 2 % n, rest % 2, off], axis=1)
    ok = _verify(sig, flip, lens, cand, p)
    pairs = cand[ok][:, :2]
    if not len(pairs):
        return np.zeros((0, 2), dtype=np.int64)
    codes = _unique(pairs[:, 0] * n + pairs[:, 1])
    return np.stack([codes // n, codes % n], axis=1)


def _verify(sig: np.ndarray, flip: np.ndarray | None, lens: np.ndarray, cand: np.ndarray, p: PhashParams) -> np.ndarray:
    """Exact check of each (a, b, mirrored, offset) candidate; vectorised in chunks."""
    ok = np.zeros(len(cand), dtype=bool)
    nz = (sig != 0).sum(axis=1)
    width = sig.shape[1]
    pos = np.arange(width)
    for s in range(0, len(cand), 50_000):
        c = cand[s : s + 50_000]
        a, b, mir, off = c[:, 0], c[:, 1], c[:, 2], c[:, 3]
        q = pos[None, :] - off[:, None]  # frame of b aligned with frame p of a
        valid = (pos[None, :] < lens[a][:, None]) & (q >= 0) & (q < lens[b][:, None])
        qc = np.clip(q, 0, width - 1)
        ha = sig[a][:, :]
        if flip is not None:
            ha = np.where(mir[:, None] == 1, flip[a], ha)
        hb = np.take_along_axis(sig[b], qc, axis=1)
        both = valid & (ha != 0) & (hb != 0)
        dist = np.bitwise_count(ha ^ hb)
        matched = (both & (dist <= p.max_distance)).sum(axis=1)
        overlap = both.sum(axis=1)
        shorter = np.maximum(1, np.minimum(nz[a], nz[b]))
        ok[s : s + len(c)] = (
            (overlap >= np.ceil(p.min_overlap * shorter))
            & (matched >= np.ceil(p.min_matched * overlap))
            & (overlap > 0)
        )
    return ok
