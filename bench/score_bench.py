"""Decode once vs decode per scorer, per-scorer cost, and the motion-vector path against raw decode.

From one run on the same clips (the real videos in ../shared/data/videos, or synthetic clips):

1. the fused `score` stage with all five scorers vs each scorer run as its own stage
   (`score.motion`, `score.camera`, ... decoding every clip again): seconds and the ratio;
2. per scorer, milliseconds per frame it looked at (inside the fused run), and the decode share;
3. the motion-vector path (`score.motion` with flow off: export_mvs, slice threads, no pixels
   converted but the few frame-difference ones) in frames per second, as a fraction of the raw
   decode anchor `ffmpeg -threads 0 -i X -map 0:v:0 -f null -` on the same H.264 files (and of the
   same command with `-thread_type slice`, the threading the vector path must use).

Models load before the clocks start; every stage runs in this process, one clip at a time.

    .venv/bin/python bench/score_bench.py                 # the shared real videos (>= 1 s)
    .venv/bin/python bench/score_bench.py --synthetic 8   # 8 synthetic 4 s clips instead
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow as pa

from vidcurate.core import registry
from vidcurate.io.decode import iter_frames
from vidcurate.io.ffmpeg import ffmpeg_exe
from vidcurate.io.probe import probe_file
from vidcurate.stages.score import ScoreConfig, ScoreStage
from vidcurate.stages.score.motion import MotionConfig
from vidcurate.testing import synth

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data" / "videos"
SCORERS: dict[str, dict[str, Any]] = {"motion": {}, "camera": {}, "quality": {}, "ocr": {}, "nsfw": {}}


def clips_from(folder: Path, limit: int | None) -> list[dict[str, Any]]:
    """Rows for every decodable video of at least 1 s in `folder` (probe facts included)."""
    rows = []
    for f in sorted(folder.iterdir()):
        if f.suffix.lower() == ".md" or not f.is_file():
            continue
        info = probe_file(f, decode_check="none")
        if info.get("error") or not info.get("duration_s") or info["duration_s"] < 1.0:
            continue
        rows.append({"id": f.name, "path": str(f), "duration_s": info["duration_s"], "codec": info.get("codec")})
    return rows[:limit] if limit else rows


def synthetic(folder: Path, n: int) -> list[dict[str, Any]]:
    made = []
    for i in range(n):
        kind = ("box", "scenes", "text", "static")[i % 4]
        p = folder / f"{kind}_{i}.mp4"
        if kind == "box":
            v = synth.moving_box(p, num_frames=96, speed_px=2, size=(640, 360))
        elif kind == "scenes":
            v = synth.scenes(p, cuts=(32, 64), num_frames=96, size=(640, 360))
        elif kind == "text":
            v = synth.drawtext(p, num_frames=96, size=(640, 360))
        else:
            v = synth.static(p, num_frames=96, size=(640, 360))
        made.append({"id": p.name, "path": str(p), "duration_s": v.duration_s, "codec": "h264"})
    return made


def timed(stage: Any, rows: list[dict[str, Any]]) -> tuple[float, pa.Table]:
    stage.setup()
    t0 = time.perf_counter()
    out = stage.process(pa.Table.from_pylist(rows))
    return time.perf_counter() - t0, out


def decoded_frames(path: str) -> int:
    return sum(1 for _ in iter_frames(path))  # corrupt packets skipped, as the stages do


def ffmpeg_decode_s(path: str, slice_threads: bool) -> float:
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-threads", "0"]
    if slice_threads:
        cmd += ["-thread_type", "slice"]
    cmd += ["-i", path, "-map", "0:v:0", "-f", "null", "-"]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=False)  # a corrupt packet makes ffmpeg complain, not stop
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", type=Path, default=SHARED, help="folder of videos (default: the shared real ones)")
    ap.add_argument("--synthetic", type=int, default=0, help="use N synthetic 4 s 640x360 clips instead")
    ap.add_argument("--limit", type=int, default=None, help="at most this many videos")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.synthetic or not args.videos.is_dir():
            rows = synthetic(Path(tmp), args.synthetic or 8)
        else:
            rows = clips_from(args.videos, args.limit)
        run(rows)
        default_720p(Path(tmp))


def default_720p(work: Path) -> None:
    """The default recipe's `score` stage through the engine on 720p clips, against ffmpeg decoding.

    Six 10 s clips of the split benchmark's generated 1280x720 25 fps file (its scenes). With
    motion vectors asked for, each decode runs on slice threads (one core for x264's one-slice
    frames), so the engine's workers, not a decoder's threads, are what use the cores.
    """
    import os
    import sys

    import yaml

    sys.path.insert(0, str(Path(__file__).parent))
    from split_bench import decode_once, make_video
    from vidcurate.core import schema
    from vidcurate.core.recipe import parse_recipe, resolve_recipe
    from vidcurate.engines.local import LocalEngine
    from vidcurate.io import manifest as mio

    video = Path(tempfile.gettempdir()) / "vidcurate-split-bench" / "videos" / "score-720p-60s.mp4"
    make_video(video, 60.0, "1280x720", 25)
    recipe = yaml.safe_load(resolve_recipe("default").read_text())
    score = next(s for s in recipe["stages"] if "score" in s)
    rows = [{"id": f"c{i}", "path": str(video), "start_s": 10.0 * i, "end_s": 10.0 * i + 10, "duration_s": 10.0}
            for i in range(6)]  # fmt: skip
    manifest = work / "clips720.parquet"
    mio.write_manifest(schema.from_rows(rows), manifest)
    video.read_bytes()
    t0 = time.perf_counter()
    decode_once(video)
    dec = time.perf_counter() - t0
    print(f"default recipe's score stage on 6 x 10 s 1280x720 clips, through the engine (ffmpeg decode {dec:.2f} s):")
    for workers in sorted({1, os.cpu_count() or 1}):
        t0 = time.perf_counter()
        LocalEngine(parse_recipe({"stages": [score]}), work / f"run{workers}", workers=workers, shard_size=1,
                    progress=False).run(manifest)  # fmt: skip
        secs = time.perf_counter() - t0
        print(f"  {workers} worker(s): {secs:6.2f} s -> {dec / secs:.2f} of ffmpeg's decode throughput (goal >= 0.5)")


def run(rows: list[dict[str, Any]]) -> None:
    for r in rows:  # warm the page cache so no side pays for the first read
        Path(r["path"]).read_bytes()
    frames_total = {r["id"]: decoded_frames(r["path"]) for r in rows}
    n_frames = sum(frames_total.values())
    print(f"clips: {len(rows)}, {sum(r['duration_s'] for r in rows):.1f} s of video, {n_frames} frames")

    fused = ScoreStage(ScoreConfig(scorers=SCORERS))
    fused_s, fused_out = timed(fused, rows)
    errors = [e for e in fused_out.column("error").to_pylist() if e] if "error" in fused_out.column_names else []
    separate_s, opens = 0.0, 0
    for name, params in SCORERS.items():
        cls = registry.get(f"score.{name}")
        stage = cls(cls.Config(**params))
        s, _ = timed(stage, rows)
        separate_s += s
        opens += stage.decode_stats.opens
        print(f"  score.{name:<8} alone: {s:7.2f} s ({stage.decode_stats.opens} decodes)")
    print(f"fused `score` (5 scorers): {fused_s:7.2f} s ({fused.decode_stats.opens} decodes, {len(errors)} row errors)")
    print(f"5 separate stages:         {separate_s:7.2f} s ({opens} decodes)")
    print(f"ratio separate / fused: {separate_s / fused_s:.2f}x")

    print("per scorer, inside the fused run:")
    dec = fused.seconds["decode"]
    print(f"  decode+convert: {dec:7.2f} s = {1e3 * dec / n_frames:6.2f} ms per decoded frame")
    for name in SCORERS:
        seen = fused.frames_seen[name]
        ms = 1e3 * fused.seconds[name] / max(seen, 1)
        print(f"  {name:<8} {fused.seconds[name]:7.2f} s over {seen:5d} frames = {ms:7.2f} ms per frame")

    raw_all = sum(ffmpeg_decode_s(r["path"], slice_threads=False) for r in rows)
    print(f"fused stage vs raw decode of the same clips: {raw_all / fused_s:.2f} of ffmpeg's throughput")
    h264 = [r for r in rows if (r.get("codec") or "") == "h264"]
    if not h264:
        print("no H.264 clip: motion-vector path not measured")
        return
    mv = registry.get("score.motion")(MotionConfig(flow=False, vectors=True))
    mv_s, mv_out = timed(mv, h264)
    mv_frames = sum(frames_total[r["id"]] for r in h264)
    got = sum(v is not None for v in mv_out.column("motion_mv_mean").to_pylist())
    raw_s = sum(ffmpeg_decode_s(r["path"], slice_threads=False) for r in h264)
    raw_slice_s = sum(ffmpeg_decode_s(r["path"], slice_threads=True) for r in h264)
    print(f"motion-vector path on {len(h264)} H.264 clips ({mv_frames} frames, vectors for {got}):")
    print(f"  vidcurate score.motion (flow off): {mv_frames / mv_s:8.1f} frames/s")
    print(f"  ffmpeg -threads 0 -f null:          {mv_frames / raw_s:8.1f} frames/s -> fraction {raw_s / mv_s:.2f}")
    print(
        f"  ffmpeg -threads 0 -thread_type slice: {mv_frames / raw_slice_s:6.1f} frames/s -> fraction "
        f"{raw_slice_s / mv_s:.2f}"
    )


if __name__ == "__main__":
    main()
