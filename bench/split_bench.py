"""Scene splitting and clip cutting: throughput against the decode limit and PySceneDetect, one run.

For a generated 1280x720 H.264 file with hard cuts at known frames (and, unless --no-real, the
shared real videos) it measures, on the same file:

* raw decode, `ffmpeg -threads 0 -i X -map 0:v:0 -f null -`: the physical limit of any stage
  that looks at every frame (PyAV and the ffmpeg binary both use FFmpeg's automatic thread count);
* our `split` stage with the `content` detector (PyAV decode, frames scaled to 256 px from the
  decoded planes, PySceneDetect's ContentDetector score), in this process; also with
  `luma_only: true` ("ours luma": brightness only, no colour conversion at all);
* the `scenedetect` CLI, `detect-content` with its OpenCV backend, on the same file: its own
  "Processed N frames in X seconds" figure (which leaves out its start-up) and the wall time;

and prints frames/s and the ratios (goals at 720p: >= 0.8 of decode, >= 2x the CLI), plus
whether both found the same cuts. Then TransNetV2 frames/s (first --transnet-s seconds, on the
device `auto` picks) and the `cut` stage's throughput in both modes on the detected clips.
Each timing is the best of --repeat runs.

    .venv/bin/python bench/split_bench.py                 # full run (a few minutes on 2 cores)
    .venv/bin/python bench/split_bench.py --quick         # a smoke test of the script itself
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import itertools
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import scenedetect.detectors  # noqa: F401 - imported here, outside the timings
from rich.console import Console
from rich.table import Table

from vidcurate.core import schema
from vidcurate.io.ffmpeg import ffmpeg_exe, run_ffmpeg
from vidcurate.io.probe import probe_file
from vidcurate.stages.cut import ClipCutter, CutConfig
from vidcurate.stages.split import SceneSplitter, SplitConfig

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data" / "videos"
# Real videos long enough to time (>= 5 s); the others are a few frames.
REAL = [
    "07_skv_bikes.mp4",
    "08_mpy_big_buck_bunny_0_30.webm",
    "09_mpy_chaplin.mp4",
    "15_dec_flipping_a_pancake.mkv",
    "18_intel_one-by-one-person-detection.mp4",
    "intel_car-detection.mp4",
    "mpy_smpte-2997.mp4",
    "skv_bigbuckbunny.mp4",
]
# Six visually different generated scenes (moving, so decoding is realistic); cut between each.
SOURCES = [
    "testsrc2=s={s}:r={r}",
    "gradients=s={s}:r={r}:speed=0.05",
    "smptehdbars=s={s}:r={r},noise=alls=12:allf=t",
    "testsrc=s={s}:r={r},hue=h=t*40",
    "sierpinski=s={s}:r={r}:type=carpet",
    "mandelbrot=s={s}:r={r}",
]


def make_video(path: Path, seconds: float, size: str, fps: int) -> list[int]:
    """Generate the test file once (kept for reruns); return the frames where scenes start."""
    per = max(1, round(seconds * fps / len(SOURCES)))
    starts = [k * per for k in range(len(SOURCES))]
    if path.exists():
        return starts
    path.parent.mkdir(parents=True, exist_ok=True)
    args: list[str] = ["-y"]
    for src in SOURCES:
        args += ["-f", "lavfi", "-i", src.format(s=size, r=fps) + f",trim=end_frame={per},setpts=PTS-STARTPTS"]
    chain = "".join(f"[{i}:v]" for i in range(len(SOURCES)))
    graph = f"{chain}concat=n={len(SOURCES)}:v=1:a=0,format=yuv420p[v]"
    tmp = path.with_suffix(".part.mp4")
    args += ["-filter_complex", graph, "-map", "[v]", "-c:v", "libx264", "-preset", "veryfast", "-crf", "23"]
    run_ffmpeg([*args, "-g", str(fps * 2), str(tmp)], timeout=1800)
    tmp.replace(path)
    return starts


def best(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Shortest wall time of `repeat` runs, and the last result."""
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def decode_once(path: Path) -> None:
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-threads", "0", "-i", str(path)]
    subprocess.run([*cmd, "-map", "0:v:0", "-f", "null", "-"], check=True)


def split_once(path: Path, row: dict[str, Any] | None = None, **cfg: Any) -> list[dict[str, Any]]:
    stage = SceneSplitter(SplitConfig(**cfg))
    stage.setup()
    rows = stage.process_row({"id": path.stem, "path": str(path), **(row or {})})
    assert isinstance(rows, list)
    return rows


def cli_once(path: Path, out: Path) -> tuple[float | None, list[int]]:
    """Run `scenedetect detect-content`; its reported processing fps and the scene start frames."""
    exe = Path(sys.executable).with_name("scenedetect")
    out.mkdir(parents=True, exist_ok=True)
    cmd = [str(exe), "-i", str(path), "-b", "opencv", "-o", str(out), "detect-content", "list-scenes", "-q"]
    proc = subprocess.run([*cmd, "-f", "scenes.csv"], capture_output=True, text=True, check=True)
    m = re.search(r"Processed (\d+) frames in ([\d.]+) seconds", proc.stdout + proc.stderr)
    fps = int(m.group(1)) / float(m.group(2)) if m and float(m.group(2)) > 0 else None
    starts: list[int] = []
    with open(out / "scenes.csv", newline="") as f:
        rows = list(csv.reader(f))
    head = next((i for i, r in enumerate(rows) if "Start Frame" in r), None)
    if head is not None:
        col = rows[head].index("Start Frame")
        starts = [int(r[col]) - 1 for r in rows[head + 1 :] if len(r) > col]  # the CLI counts from 1
    return fps, starts or [0]


def agree(a: list[int], b: list[int], tol: int = 1) -> bool:
    return len(a) == len(b) and all(abs(x - y) <= tol for x, y in zip(a, b, strict=True))


def measure_split(path: Path, repeat: int, work: Path) -> dict[str, Any]:
    decode_s, _ = best(lambda: decode_once(path), repeat)
    ours_s, rows = best(lambda: split_once(path, detector="content"), repeat)
    luma_s, _ = best(lambda: split_once(path, detector="content", luma_only=True), repeat)
    frames = sum(r["num_frames"] for r in rows)
    cli_wall, (cli_fps, cli_starts) = best(lambda: cli_once(path, work / f"cli-{path.stem}"), repeat)
    ours_fps = frames / ours_s
    decode_fps = frames / decode_s
    return {
        "file": path.name,
        "frames": frames,
        "decode_fps": decode_fps,
        "ours_fps": ours_fps,
        "ours_luma_fps": frames / luma_s,
        "cli_fps": cli_fps,
        "cli_wall_fps": frames / cli_wall,
        "ours_vs_decode": ours_fps / decode_fps,
        "ours_vs_cli": ours_fps / cli_fps if cli_fps else None,
        "ours_vs_cli_wall": ours_fps / (frames / cli_wall),
        "starts": [r["start_frame"] for r in rows],
        "same_cuts_as_cli": agree([r["start_frame"] for r in rows], cli_starts),
        "rows": rows,
    }


def decode_less(path: Path, truth: list[int], repeat: int) -> dict[str, Any]:
    """How much a first pass that decodes less would save, and what checking its candidates costs.

    PyAV decode time with FFmpeg's `skip_frame` (NONREF: reference frames only; NONKEY: keyframes
    only) and `skip_loop_filter`, as fractions of a full decode. A keyframe-only first pass must
    then decode, for every cut, the GOP holding the frame before it (to score the cut frame exactly
    against its predecessor) and the GOP holding the cut: the share of all frames that costs.
    """
    import av

    def run(skip: str | None, loop: bool) -> tuple[float, int]:
        with av.open(str(path)) as c:
            vs = c.streams.video[0]
            vs.thread_type = "AUTO"
            if skip:
                vs.codec_context.skip_frame = skip
            if loop:
                vs.codec_context.options = {"skip_loop_filter": "all"}
            t0, n = time.perf_counter(), 0
            for _ in c.decode(vs):
                n += 1
            return time.perf_counter() - t0, n

    full, n_all = min(run(None, False) for _ in range(repeat))
    out: dict[str, Any] = {"frames": n_all}
    for name, skip, loop in (
        ("nonref", "NONREF", False),
        ("nonref_noloop", "NONREF", True),
        ("nonkey", "NONKEY", False),
    ):
        secs, n = min(run(skip, loop) for _ in range(repeat))
        out[name] = {"time_fraction": secs / full, "frames": n}
    with av.open(str(path)) as c:
        pk = sorted((p.pts, p.is_keyframe) for p in c.demux(c.streams.video[0]) if p.pts is not None)
    keys = [i for i, (_, k) in enumerate(pk) if k] + [len(pk)]
    gop = {i: g for g in range(len(keys) - 1) for i in range(keys[g], keys[g + 1])}
    need = {g for cut in truth if cut > 0 for g in (gop[cut - 1], gop[cut])}
    out["keyframes"] = len(keys) - 1
    # what a keyframe-only first pass sees: the content score between consecutive key frames, for
    # the intervals holding a cut and for the others (the pass must tell them apart to save work)
    import cv2

    from vidcurate.stages.split.detectors import small_bgr

    with av.open(str(path)) as c:
        vs = c.streams.video[0]
        vs.codec_context.skip_frame = "NONKEY"
        hsv = [cv2.cvtColor(small_bgr(f, 256, 144), cv2.COLOR_BGR2HSV) for f in c.decode(vs)]
    diffs = [cv2.sumElems(cv2.absdiff(a, b))[:3] for a, b in itertools.pairwise(hsv)]
    score = [sum(d) / (hsv[0].shape[0] * hsv[0].shape[1]) / 3 for d in diffs]
    has_cut = [any(keys[g] < cut <= keys[g + 1] for cut in truth if cut > 0) for g in range(len(score))]
    with_cut = [sc for sc, cut in zip(score, has_cut, strict=True) if cut]
    without = [sc for sc, cut in zip(score, has_cut, strict=True) if not cut]
    out["key_score_with_cut_min"] = min(with_cut) if with_cut else None
    out["key_score_without_cut_max"] = max(without) if without else None
    out["cut_at_keyframe"] = sum(1 for cut in truth if cut > 0 and cut in keys)
    out["recheck_fraction"] = sum(keys[g + 1] - keys[g] for g in need) / len(pk)
    return out


def end_to_end(path: Path, work: Path, repeat: int) -> float:
    """Wall seconds of `vidcurate run` (probe + split, report included) on the file, in a fresh process."""
    folder = work / "e2e-input"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    (folder / path.name).symlink_to(path)
    recipe = work / "e2e.yaml"
    recipe.write_text("stages:\n  - probe: {}\n  - split: {detector: content}\n")
    exe = Path(sys.executable).with_name("vidcurate")

    def once() -> None:
        out = work / "e2e-run"
        shutil.rmtree(out, ignore_errors=True)
        subprocess.run([str(exe), "run", str(recipe), "-i", str(folder), "-o", str(out), "--no-progress"],
                       check=True, capture_output=True)  # fmt: skip

    secs, _ = best(once, repeat)
    return secs


def cpu_wall(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """(wall seconds, cores busy = this process's CPU seconds over wall seconds, result) of `fn()`."""
    import resource

    r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    out = fn()
    r1, wall = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter() - t0
    return wall, (r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime) / wall, out


def cores_busy(path: Path) -> float:
    """Cores kept busy by one split of the file in this process (threaded decode)."""
    return cpu_wall(lambda: split_once(path, detector="content"))[1]


def measure_cut(path: Path, rows: list[dict[str, Any]], work: Path, mode: str) -> dict[str, Any]:
    out = work / f"clips-{mode}"
    shutil.rmtree(out, ignore_errors=True)  # our own scratch folder, under --work
    stage = ClipCutter(CutConfig(out_dir=str(out), mode=mode))
    batch = schema.from_rows([{**r, "id": f"{path.stem}-{mode}-{i}", "path": str(path)} for i, r in enumerate(rows)])
    t0 = time.perf_counter()
    done = stage.process(batch).to_pylist()
    wall = time.perf_counter() - t0
    errors = [r["error"] for r in done if r.get("error")]
    if errors:
        raise SystemExit(f"cut failed: {errors[0]}")
    frames = sum(probe_file(r["path"], decode_check="none")["num_frames"] or 0 for r in done)
    seconds = sum(r["duration_s"] or 0 for r in done)
    return {"mode": mode, "clips": len(done), "frames": frames, "fps": frames / wall, "x_realtime": seconds / wall}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=60.0, help="length of the generated video")
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--fps", type=int, default=25)
    ap.add_argument("--repeat", type=int, default=2, help="runs per timing (the best counts)")
    ap.add_argument("--transnet-s", type=float, default=20.0, help="seconds of the video TransNetV2 sees")
    ap.add_argument("--cut-clips", type=int, default=6, help="clips cut per mode")
    ap.add_argument("--no-real", action="store_true", help="skip the shared real videos")
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "vidcurate-split-bench")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    ap.add_argument("--quick", action="store_true", help="tiny sizes: checks that the script runs")
    a = ap.parse_args(argv)
    if a.quick:
        a.seconds, a.repeat, a.transnet_s, a.cut_clips, a.no_real = 6.0, 1, 2.0, 2, True
    console = Console(width=150)
    work: Path = a.work
    tag = hashlib.sha1("|".join(SOURCES).encode()).hexdigest()[:6]  # a changed recipe never reuses an old file
    video = work / "videos" / f"gen-{a.size}-{a.fps}fps-{a.seconds:g}s-{tag}.mp4"
    console.print(f"generating / reusing {video} ...")
    truth = make_video(video, a.seconds, a.size, a.fps)

    results = [measure_split(video, a.repeat, work)]
    if not a.no_real and SHARED.is_dir():
        results += [measure_split(SHARED / n, a.repeat, work) for n in REAL if (SHARED / n).exists()]

    t = Table(title="split (content) vs raw decode vs PySceneDetect CLI, frames/s")
    cols = ("file", "frames", "decode", "ours", "ours luma", "CLI", "CLI wall", "ours/decode", "ours/CLI", "same cuts")
    for col in cols:
        t.add_column(col, justify="left" if col == "file" else "right")
    for r in results:
        t.add_row(
            r["file"],
            str(r["frames"]),
            f"{r['decode_fps']:.0f}",
            f"{r['ours_fps']:.0f}",
            f"{r['ours_luma_fps']:.0f}",
            f"{r['cli_fps']:.0f}" if r["cli_fps"] else "-",
            f"{r['cli_wall_fps']:.0f}",
            f"{r['ours_vs_decode']:.2f}",
            f"{r['ours_vs_cli']:.2f}" if r["ours_vs_cli"] else "-",
            "yes" if r["same_cuts_as_cli"] else "no",
        )
    console.print(t)
    gen = results[0]
    found = "= ground truth" if agree(gen["starts"], truth) else f"{gen['starts']} != truth {truth}"
    vs_cli = gen["ours_vs_cli"] or float("nan")
    console.print(
        f"[bold]{a.size} generated:[/] ours/decode = {gen['ours_vs_decode']:.2f} (goal >= 0.80), "
        f"ours/CLI = {vs_cli:.2f} (goal >= 2.0; wall-clock {gen['ours_vs_cli_wall']:.2f}); cuts found {found}"
    )

    e2e = end_to_end(video, work, a.repeat)
    cli_wall_s = gen["frames"] / gen["cli_wall_fps"]
    console.print(
        f"end to end: `vidcurate run` probe + split + report {e2e:.2f} s, `scenedetect detect-content list-scenes` "
        f"{cli_wall_s:.2f} s (both wall clock, new processes): {cli_wall_s / e2e:.2f}x (goal >= 1.5)"
    )
    less = decode_less(video, truth, a.repeat)
    console.print(
        f"decoding less ({less['frames']} frames, {less['keyframes']} keyframes, "
        f"{less['cut_at_keyframe']} of {len(truth) - 1} cuts on a keyframe): "
        + ", ".join(
            f"{k} {less[k]['frames']} frames in {less[k]['time_fraction']:.2f} of the time"
            for k in ("nonref", "nonref_noloop", "nonkey")
        )
        + f"; re-decoding the GOPs around each cut = {less['recheck_fraction']:.2f} of the frames; "
        f"content score between consecutive key frames: >= {less['key_score_with_cut_min']:.1f} across a cut, "
        f"up to {less['key_score_without_cut_max']:.1f} within a scene (threshold 27)"
    )
    console.print(f"split of the generated file in one process keeps {cores_busy(video):.2f} cores busy")

    tn_stage = SceneSplitter(SplitConfig(detector="transnetv2"))
    tn_stage.setup()  # loads the model: not timed
    tn_row = {"id": video.stem, "path": str(video), "end_s": a.transnet_s}
    tn_s, tn = best(lambda: tn_stage.process_row(tn_row), 1)
    from vidcurate.stages.split.transnet import resolve_device

    tn_frames = sum(r["num_frames"] for r in tn)
    tn_truth = [s for s in truth if s < a.transnet_s * a.fps]
    tn_ok = "= ground truth" if agree([r["start_frame"] for r in tn], tn_truth) else "differ from the truth"
    console.print(
        f"TransNetV2 ({resolve_device('auto')}, model loaded before timing): {tn_frames / tn_s:.1f} frames/s "
        f"on the first {a.transnet_s:g} s; cuts {tn_ok}"
    )

    clips = [r for r in gen["rows"] if r.get("_reject") is None][: a.cut_clips]
    cuts = [measure_cut(video, clips, work, m) for m in ("reencode", "copy")]
    how = {"reencode": "libx264 crf 20, preset veryfast, source size", "copy": "stream copy, whole GOPs"}
    for c in cuts:
        console.print(
            f"cut {c['mode']:8s}: {c['clips']} clips, {c['frames']} frames, {c['fps']:.0f} frames/s, "
            f"{c['x_realtime']:.1f}x real time ({how[c['mode']]}; 2 jobs x 2 threads, the stage's defaults)"
        )
    if a.json:
        slim = [{k: v for k, v in r.items() if k != "rows"} for r in results]
        extra = {"end_to_end_s": e2e, "cli_wall_s": cli_wall_s, "decode_less": less}
        a.json.write_text(json.dumps({"split": slim, "transnet_fps": tn_frames / tn_s, "cut": cuts, **extra}, indent=2))


if __name__ == "__main__":
    main()
