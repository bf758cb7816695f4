"""CLIP scorers: images per second with batches across clips vs one clip at a time.

A random-initialised CLIP with the shape of OpenAI's ViT-B/32 (`--preset l14`: ViT-L/14) stands in
for the real weights (same arithmetic, same speed; this machine cannot download them). The `embed`
and `clip_match` scorers run in one fused `score` stage over the same clips twice: rows grouped
16 at a time (the stage's default: one forward pass over the frames of many clips, decoding on a
thread meanwhile) and one row at a time; the two scorers share each frame's embedding. The anchor
is the model alone: preprocessing and forward passes over batches of `--batch` decoded images,
measured in the same run.

    .venv/bin/python bench/clip_bench.py                 # ViT-B/32 shape, 24 clips of 2 s, 4 frames each
    .venv/bin/python bench/clip_bench.py --preset l14 --clips 12
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data" / "videos"
VIDEOS = ("07_skv_bikes.mp4", "09_mpy_chaplin.mp4", "15_dec_flipping_a_pancake.mkv", "intel_car-detection.mp4")


def clips(n: int, length: float) -> pa.Table:
    from vidcurate.io.probe import probe_file

    rows = []
    while len(rows) < n:
        for name in VIDEOS:
            dur = probe_file(SHARED / name, decode_check="none")["duration_s"]
            k = sum(1 for r in rows if r["path"].endswith(name))
            start = (k * length) % max(dur - length, length)
            rows.append({"id": f"{name}-{k}", "path": str(SHARED / name), "start_s": start, "end_s": start + length})
            if len(rows) == n:
                break
    return pa.Table.from_pylist(rows)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", choices=("b32", "l14"), default="b32")
    ap.add_argument("--clips", type=int, default=24)
    ap.add_argument("--frames", type=int, default=4)
    ap.add_argument("--batch", type=int, default=32)
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    from vidcurate.models import store
    from vidcurate.models.clip import load_clip
    from vidcurate.stages.score import ScoreConfig, ScoreStage, runner
    from vidcurate.testing import tiny_models

    cache = Path(tempfile.gettempdir()) / "vidcurate-bench-models" / f"clip-{args.preset}"
    if not (cache / "model.safetensors").is_file():
        print(f"building a random CLIP with the {args.preset} shape in {cache} ...")
        tiny_models.clip_like(cache, args.preset)
    table = clips(args.clips, 2.0)
    scorers = {
        "embed": {"model": str(cache), "frames": args.frames, "batch_size": args.batch, "device": "cpu"},
        "clip_match": {
            "model": str(cache), "frames": args.frames, "batch_size": args.batch, "device": "cpu",
            "option": ["a person", "a car", "a kitchen"],
        },
    }  # fmt: skip
    stage = ScoreStage(ScoreConfig(scorers=scorers))
    warm = clips(args.clips + 4, 2.0).slice(args.clips)  # other spans: nothing of the timed clips is memoised
    images = args.clips * args.frames  # frames embedded (the two scorers share them: embedded once)
    results = {}
    for label, group in (("batched (16 clips per forward)", 16), ("one clip at a time", 1)):
        store.release()  # a fresh model (and frame memo) per run, loaded before the clock starts
        stage.teardown()
        stage.setup()
        stage.process(warm)
        runner.GROUP_ROWS = group
        t = time.perf_counter()
        out = stage.process(table)
        dt = time.perf_counter() - t
        assert out.num_rows == args.clips and out.column("clip_embedding").null_count == 0
        results[label] = images / dt
        print(f"{label:34s}: {dt:6.2f} s, {results[label]:7.1f} images/s (decode + preprocess + model)")
    clip = load_clip(cache, "cpu", torch.float32)
    rng = np.random.default_rng(0)
    reps = max(1, images // args.batch)
    batches = [list(rng.integers(0, 255, (args.batch, 240, 320, 3), dtype=np.uint8)) for _ in range(reps + 1)]
    clip.images(batches[0], args.batch)
    t = time.perf_counter()
    for b in batches[1:]:
        clip.images(b, args.batch)
    anchor = reps * args.batch / (time.perf_counter() - t)
    batched, single = results.values()
    print(f"anchor: the model alone (preprocess + forward, batches of {args.batch}): {anchor:7.1f} images/s")
    print(f"batched / one-at-a-time: {batched / single:.2f}x; batched / model alone: {batched / anchor:.2f}")
    print(f"torch threads: {torch.get_num_threads()}, clips: {args.clips} x {args.frames} frames, preset {args.preset}")


if __name__ == "__main__":
    main()
