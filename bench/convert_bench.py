"""`vidcurate convert` throughput on a WebVid-10M-style CSV: rows per second and peak RSS.

The converter does per row what a careful script must: read by column name, parse the ISO
duration, join the path safely under the root, derive a stable id, pick the instruction from
(seed, id), build the conversation, and write Parquet.

Anchor, measured in the same run: a hand-written script doing the minimum (csv.DictReader, an
f-string path, a fixed prompt, pyarrow write) — the speed a user gets by not checking anything.
Each side runs in its own child process so its peak RSS is its own.

    .venv/bin/python bench/convert_bench.py [--rows 200000]
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
import time
from pathlib import Path

from childproc import peak_rss_mb, run_child


def make_csv(path: Path, rows: int) -> None:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["videoid", "name", "page_idx", "page_dir", "duration", "contentUrl"])
        for i in range(rows):
            vid = 1_000_000_000 + i
            page = f"{i // 50 * 50 + 1:06d}_{i // 50 * 50 + 50:06d}"
            w.writerow(
                [vid, f"A caption number {i}, about a scene with people.", i // 50, page,
                 f"PT00H00M{10 + i % 50:02d}S", f"https://example.com/{vid}.mp4"]
            )  # fmt: skip


def child(mode: str, src: str, dest: str, root: str) -> None:
    t0 = time.perf_counter()
    if mode == "vidcurate":
        from vidcurate.datasets import Settings, convert_to_file

        res = convert_to_file("webvid", [src], dest, Settings(video_root=root), {"layout": "page_dir"})
        rows = res.rows
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        out = []
        with open(src, newline="") as f:
            for r in csv.DictReader(f):
                prompt = "Describe this video."
                out.append(
                    {
                        "id": r["videoid"],
                        "path": f"{root}/{r['page_dir']}/{r['videoid']}.mp4",
                        "caption": r["name"],
                        "query": prompt,
                        "conversations": [
                            {"from": "human", "value": f"<video>\n{prompt}"},
                            {"from": "gpt", "value": r["name"]},
                        ],
                    }
                )
        pq.write_table(pa.Table.from_pylist(out), dest)
        rows = len(out)
    secs = time.perf_counter() - t0
    rss_mb = peak_rss_mb()
    print(json.dumps({"rows": rows, "seconds": secs, "peak_rss_mb": rss_mb}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--child", nargs=4, metavar=("MODE", "SRC", "DEST", "ROOT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        src = t / "results_10M_val.csv"
        make_csv(src, args.rows)
        (t / "videos").mkdir()
        anchor = run_child(__file__, "anchor", src, t / "anchor.parquet", t / "videos")
        ours = run_child(__file__, "vidcurate", src, t / "ours.parquet", t / "videos")
    assert ours["rows"] == anchor["rows"] == args.rows, (ours, anchor)
    print(f"rows: {args.rows}")
    for name, r in (("anchor (unchecked script)", anchor), ("vidcurate convert", ours)):
        print(f"{name:28s} {r['seconds']:7.2f} s  {r['rows'] / r['seconds']:9.0f} rows/s  {r['peak_rss_mb']:7.0f} MB")
    print(f"ratio (vidcurate / anchor time): {ours['seconds'] / anchor['seconds']:.2f}")


if __name__ == "__main__":
    main()
