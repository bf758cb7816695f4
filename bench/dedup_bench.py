"""Dedup matching at scale: seconds and peak memory against the number of clips, planted copies found.

`dedup.phash`'s matcher on random signatures (10 frames of random 64-bit hashes per clip) with
1,000 planted near-duplicates (each frame 0-8 bits off, some also shifted by one frame and cut
short: a trimmed copy), at 100,000 and 1,000,000 clips; `dedup.semantic`'s on random unit vectors
(256-d) with 1,000 planted pairs at cosine ~0.99, at 20,000 and 200,000 rows. Each size runs in its
own process (peak RSS is that process's). The anchor is the all-pairs cost the matcher avoids:
for the same sizes, the pair count N^2/2 and the ratio of the times.

    .venv/bin/python bench/dedup_bench.py                # both, both sizes
    .venv/bin/python bench/dedup_bench.py --only phash --sizes 100000
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np

PLANTED = 1000


def phash_case(n: int) -> dict[str, float]:
    from vidcurate.stages.dedup.match_phash import find_pairs

    rng = np.random.default_rng(1)
    sigs = [rng.integers(0, 2**63, size=10, dtype=np.int64).view(np.uint64) | np.uint64(1) for _ in range(n)]
    truth = set()
    for k in range(PLANTED):
        a, b = 2 * k, 2 * k + 1  # b becomes a noisy copy of a
        flips = rng.integers(0, 9, size=10)
        noise = np.array([sum(1 << int(x) for x in rng.choice(64, f, replace=False)) for f in flips], dtype=np.uint64)
        copy = sigs[a] ^ noise
        if k % 3 == 0:  # trimmed: starts one frame later, two frames shorter
            copy = copy[1:8]
        sigs[b] = copy
        truth.add((a, b))
    t = time.perf_counter()
    pairs = find_pairs(sigs)
    dt = time.perf_counter() - t
    found = {tuple(p) for p in pairs.tolist()}
    return {"n": n, "seconds": dt, "found": len(truth & found), "planted": PLANTED, "extra": len(found - truth)}


def semantic_case(n: int) -> dict[str, float]:
    from vidcurate.stages.dedup.match_semantic import find_pairs, normalised

    rng = np.random.default_rng(2)
    x = normalised(rng.standard_normal((n, 256), dtype=np.float32))
    truth = set()
    for k in range(PLANTED):
        a, b = 2 * k, 2 * k + 1
        x[b] = normalised((x[a] + 0.07 * rng.standard_normal(256, dtype=np.float32) / 16)[None, :])[0]
        truth.add((a, b))
    cos = float(np.mean([x[a] @ x[b] for a, b in truth]))
    t = time.perf_counter()
    pairs = find_pairs(x, 0.98)
    dt = time.perf_counter() - t
    found = {tuple(p) for p in pairs.tolist()}
    return {
        "n": n,
        "seconds": dt,
        "found": len(truth & found),
        "planted": PLANTED,
        "extra": len(found - truth),
        "cos": cos,
    }


def child(kind: str, n: int) -> None:
    out = (phash_case if kind == "phash" else semantic_case)(n)
    out["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", choices=("phash", "semantic"))
    ap.add_argument("--sizes", type=int, nargs="*")
    ap.add_argument("--child", nargs=2)
    args = ap.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]))
        return
    plans = {"phash": args.sizes or [100_000, 1_000_000], "semantic": args.sizes or [20_000, 200_000]}
    for kind, sizes in plans.items():
        if args.only and kind != args.only:
            continue
        runs = []
        for n in sizes:
            p = subprocess.run([sys.executable, __file__, "--child", kind, str(n)], capture_output=True, text=True)
            if p.returncode:
                raise SystemExit(p.stderr)
            r = json.loads(p.stdout.strip().splitlines()[-1])
            runs.append(r)
            extra = f", planted cosine {r['cos']:.3f}" if "cos" in r else ""
            print(
                f"dedup.{kind}: {n:>9,} rows: {r['seconds']:7.1f} s, peak RSS {r['rss_mb']:6.0f} MB, "
                f"planted found {r['found']}/{r['planted']}, other pairs {r['extra']}{extra}"
            )
        if len(runs) > 1:
            a, b = runs[0], runs[-1]
            grow_n = b["n"] / a["n"]
            print(
                f"  {grow_n:.0f}x the rows: {b['seconds'] / a['seconds']:.1f}x the time, "
                f"{b['rss_mb'] / a['rss_mb']:.1f}x the memory (all pairs would be {grow_n**2:.0f}x: "
                f"{a['n'] ** 2 / 2:.1e} -> {b['n'] ** 2 / 2:.1e} comparisons)"
            )


if __name__ == "__main__":
    main()
