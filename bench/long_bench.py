"""One long video across cores: the split stage in one pass against time ranges side by side.

The memory benchmark's generated 1280x720 30 fps H.264 video (20 minutes by default, made once
and kept in the temp folder). Timed in this process, best of --repeat:

* anchor: `ffmpeg -threads 0 -i X -map 0:v:0 -f null -`, the decode limit with every core;
* `split` (content detector) in one pass (`ranges_min_s` above the length), PyAV's threaded decode;
* `split` in `--ranges` time ranges side by side (default: one per core), cut decisions replayed;

and whether both found the same clips (they must: any difference is a bug).

    .venv/bin/python bench/long_bench.py [--minutes 20] [--ranges 2] [--repeat 1]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from memory_bench import make_long
from split_bench import cpu_wall, decode_once
from vidcurate.io.probe import probe_file
from vidcurate.stages.split import SceneSplitter, SplitConfig


def timed_split(path: Path, duration: float, repeat: int, **cfg: Any) -> tuple[float, float, list[Any]]:
    """(best wall seconds, cores busy in that run, clips)."""
    row = {"id": "long", "path": str(path), "duration_s": duration}
    runs = [
        cpu_wall(lambda: SceneSplitter(SplitConfig(detector="content", **cfg)).process_row(row)) for _ in range(repeat)
    ]
    return min(runs, key=lambda r: r[0])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=20)
    ap.add_argument("--ranges", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    video = make_long(args.minutes)
    duration = probe_file(video, decode_check="none")["duration_s"]
    t0 = time.perf_counter()
    decode_once(video)
    dec = time.perf_counter() - t0
    one, one_busy, one_rows = timed_split(video, duration, args.repeat, ranges_min_s=1e9)
    many, many_busy, many_rows = timed_split(video, duration, args.repeat, ranges=args.ranges, ranges_min_s=60)
    frames = sum(r["num_frames"] for r in one_rows)
    same = [(r["start_frame"], r["end_frame"]) for r in one_rows] == [
        (r["start_frame"], r["end_frame"]) for r in many_rows
    ]
    print(
        f"video: {args.minutes:g} min 1280x720 30 fps H.264, {frames} frames, {len(one_rows)} clips; "
        f"{os.cpu_count()} CPUs"
    )
    print(f"anchor ffmpeg -threads 0 -f null: {dec:.1f} s ({frames / dec:.0f} frames/s)")
    print(f"split, one pass:        {one:.1f} s ({frames / one:.0f} frames/s, {one_busy:.2f} cores busy)")
    print(f"split, {args.ranges} ranges:       {many:.1f} s ({frames / many:.0f} frames/s, {many_busy:.2f} cores busy)")
    print(
        f"ranges / one pass: {one / many:.2f}x faster; "
        f"one pass / decode {dec / one:.2f}, ranges / decode {dec / many:.2f}"
    )
    print(f"same clips: {'yes' if same else 'NO'}")


if __name__ == "__main__":
    main()
