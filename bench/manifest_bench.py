"""Filter + write a 1,000,000-row, 20-column manifest: seconds and peak RSS.

Also: the same filter as a one-stage recipe through the local engine (sharded, resumable),
to show its memory stays bounded by the shard size, not the manifest size.

Anchor, measured in the same run: pyarrow reading the same file, filtering with pyarrow.compute
and writing the result (what a hand-written script would do). Each side runs in its own child
process so its peak RSS is its own.

    .venv/bin/python bench/manifest_bench.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from childproc import peak_rss_mb, run_child

WHERE = "duration_s BETWEEN 20 AND 120 AND motion_flow_mean > 0.5"


def make_manifest(path: Path, rows: int) -> None:
    rng = np.random.default_rng(0)
    cols: dict[str, pa.Array] = {
        "id": pa.array([f"{i:016x}" for i in range(rows)]),
        "path": pa.array([f"/data/videos/part{i % 1000:04d}/clip_{i:08d}.mp4" for i in range(rows)]),
        "media": pa.array(["video"] * rows),
        "duration_s": pa.array(rng.uniform(0, 200, rows)),
        "fps": pa.array(rng.choice([24.0, 25.0, 30.0, 29.97], rows)),
        "num_frames": pa.array(rng.integers(10, 6000, rows)),
        "width": pa.array(rng.choice([640, 1280, 1920], rows).astype(np.int32)),
        "height": pa.array(rng.choice([360, 720, 1080], rows).astype(np.int32)),
        "codec": pa.array(rng.choice(["h264", "vp9", "hevc"], rows)),
        "bit_rate": pa.array(rng.integers(100_000, 10_000_000, rows)),
        "size_bytes": pa.array(rng.integers(10_000, 500_000_000, rows)),
        "motion_flow_mean": pa.array(rng.gamma(2.0, 0.5, rows)),
        "ocr_area_ratio": pa.array(rng.uniform(0, 0.3, rows)),
        "nsfw_prob": pa.array(rng.uniform(0, 1, rows)),
        "aesthetic": pa.array(rng.normal(5, 1, rows)),
        "clip_match": pa.array(rng.uniform(0.1, 0.4, rows)),
        "start_s": pa.array(rng.uniform(0, 100, rows)),
        "end_s": pa.array(rng.uniform(100, 200, rows)),
        "caption": pa.array([f"a short caption number {i} about a scene" for i in range(rows)]),
        "error": pa.array([None] * rows, pa.string()),
    }
    pq.write_table(pa.table(cols), path, compression="zstd")


def child(mode: str, src: str, dest: str) -> None:
    # Imports happen before the clock starts, for every side alike: the figure is the work itself.
    import pandas  # noqa: F401  (pyarrow imports it lazily at its first conversion of a Python list)
    import pyarrow.compute as pc

    from vidcurate.core.recipe import parse_recipe
    from vidcurate.engines.local import LocalEngine
    from vidcurate.stages.filter import FilterConfig, filter_file

    t0 = time.perf_counter()
    if mode == "vidcurate":
        cfg = FilterConfig(where=WHERE, drop_errors=True)
        res = filter_file(src, dest, Path(dest).with_name("rejected.parquet"), cfg)
        kept = res.kept
    elif mode == "engine":
        recipe = parse_recipe({"stages": [{"filter": {"where": WHERE, "drop_errors": True}}]})
        summary = LocalEngine(recipe, Path(dest).parent / "run", workers=1, shard_size=50_000, progress=False).run(src)
        kept = summary.rows_final
    else:
        t = pq.read_table(src)
        d, m = t.column("duration_s"), t.column("motion_flow_mean")
        mask = pc.and_(pc.and_(pc.greater_equal(d, 20), pc.less_equal(d, 120)), pc.greater(m, 0.5))
        mask = pc.and_(mask, pc.is_null(t.column("error")))
        kept_t = t.filter(mask)
        pq.write_table(kept_t, dest, compression="zstd")
        pq.write_table(t.filter(pc.invert(mask)), Path(dest).with_name("rejected.parquet"), compression="zstd")
        kept = kept_t.num_rows
    secs = time.perf_counter() - t0
    rss = peak_rss_mb()
    print(json.dumps({"seconds": secs, "rss_mb": rss, "kept": kept}))


def measure(mode: str, src: Path, work: Path) -> dict:
    out = work / mode
    out.mkdir(exist_ok=True)
    return run_child(__file__, mode, src, out / "kept.parquet")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--child", nargs=3)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        src = work / "manifest.parquet"
        make_manifest(src, args.rows)
        size_mb = src.stat().st_size / 2**20
        ours = measure("vidcurate", src, work)
        anchor = measure("pyarrow", src, work)
        engine = measure("engine", src, work)
    assert ours["kept"] == anchor["kept"] == engine["kept"], (ours, anchor, engine)
    print(f"manifest: {args.rows:,} rows x 20 columns, {size_mb:.0f} MB parquet; predicate: {WHERE}")
    print(
        f"vidcurate filter (DuckDB, streaming): {ours['seconds']:.2f} s, peak RSS {ours['rss_mb']:.0f} MB, "
        f"kept {ours['kept']:,}"
    )
    print(f"anchor pyarrow read+filter+write:   {anchor['seconds']:.2f} s, peak RSS {anchor['rss_mb']:.0f} MB")
    print(
        f"vidcurate run (one filter stage, local engine, 50k-row shards, 1 worker): "
        f"{engine['seconds']:.2f} s, peak RSS {engine['rss_mb']:.0f} MB"
    )
    print(
        f"speed ratio (anchor s / ours s): {anchor['seconds'] / ours['seconds']:.2f}x; "
        f"memory ratio (ours / anchor): {ours['rss_mb'] / anchor['rss_mb']:.2f}"
    )


if __name__ == "__main__":
    main()
