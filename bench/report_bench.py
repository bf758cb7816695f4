"""The end-of-run report: seconds to write it, for a small real run and for runs of 1M+ rows.

The big runs are the manifest benchmark's synthetic rows (20 columns) put through a one-stage
filter recipe, so the report has a kept and a rejected file with 14 numeric columns to draw. The
small run is a copy of the `make demo` run (its thumbnail cache removed for the cold figure).

Anchor, measured in the same run: one DuckDB scan of both files computing min and max of every
numeric column, which is what any report that reads every row pays at least. Each timing runs in
its own child process with imports done before the clock.

    .venv/bin/python bench/report_bench.py [--rows 1000000 5000000] [--demo-run demo-work/run]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import manifest_bench  # the same synthetic manifest
from childproc import run_child


def child(mode: str, run: str) -> None:
    import duckdb
    import pandas  # noqa: F401  (pyarrow imports it lazily at its first conversion of a Python list)
    import pyarrow.parquet as pq

    from vidcurate.report.html import write_report

    t0 = time.perf_counter()
    if mode == "report":
        write_report(run)
    else:
        files = [p for p in (Path(run) / "manifest.parquet", Path(run) / "rejected.parquet") if p.is_file()]
        names = [f.name for f in pq.read_schema(files[0]) if str(f.type) in ("double", "int64", "int32")]
        sel = ", ".join(f'min("{c}"), max("{c}")' for c in names)
        with duckdb.connect() as con:
            con.execute("SET threads TO 2")
            src = " UNION ALL BY NAME ".join(f"SELECT * FROM read_parquet('{f}')" for f in files)
            con.execute(f"SELECT count(*), {sel} FROM ({src})").fetchall()
    print(json.dumps({"seconds": time.perf_counter() - t0}))


def measure(mode: str, run: Path) -> float:
    return float(run_child(__file__, mode, run)["seconds"])


def synthetic_run(work: Path, rows: int) -> Path:
    from vidcurate.core.recipe import parse_recipe
    from vidcurate.engines.local import LocalEngine

    src = work / f"manifest-{rows}.parquet"
    manifest_bench.make_manifest(src, rows)
    recipe = parse_recipe({"stages": [{"filter": {"where": manifest_bench.WHERE, "drop_errors": True}}]})
    run = work / f"run-{rows}"
    LocalEngine(recipe, run, workers=2, shard_size=50_000, progress=False).run(src)
    src.unlink()
    return run


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, nargs="*", default=[1_000_000, 5_000_000])
    ap.add_argument("--demo-run", type=Path, default=Path("demo-work/run"))
    ap.add_argument("--child", nargs=2)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if (args.demo_run / "manifest.parquet").is_file():
            demo = work / "demo"
            shutil.copytree(args.demo_run, demo, ignore=shutil.ignore_patterns("thumbs", "report.html", "export"))
            cold = measure("report", demo)
            warm = measure("report", demo)
            scan = measure("scan", demo)
            print(f"demo run ({args.demo_run}): report cold {cold:.2f} s (thumbnails made), warm {warm:.2f} s; "
                  f"anchor full scan {scan:.2f} s")  # fmt: skip
        else:
            print(f"demo run: {args.demo_run} not found (run `make demo` first); skipped")
        for rows in args.rows:
            run = synthetic_run(work, rows)
            rep = min(measure("report", run) for _ in range(2))
            scan = min(measure("scan", run) for _ in range(2))
            print(
                f"{rows:>10,} rows: report {rep:.2f} s; anchor full scan (min/max of every numeric column) "
                f"{scan:.2f} s; report / scan = {rep / scan:.2f}"
            )
            shutil.rmtree(run)


if __name__ == "__main__":
    main()
