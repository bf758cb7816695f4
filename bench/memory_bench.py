"""Peak memory of the default recipe on one long video, summed over every process of the run.

A generated 1280x720 30 fps H.264 file (20 minutes by default; scenes of 20 s from four cheap
lavfi sources, x264 ultrafast CRF 26, so it is made in a few minutes) goes through `vidcurate run default`. A sampler
reads the resident memory (RSS) of the run's whole process tree every 0.1 s and keeps the peak
of the sum; workers share library pages, so the sum overstates what the machine really needs.

Anchor, measured in the same run: `ffmpeg -i X -f null -` on the same file (its peak RSS and
seconds), what merely decoding the video costs.

    .venv/bin/python bench/memory_bench.py [--minutes 20] [--workers N]
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

from vidcurate.io.ffmpeg import ffmpeg_exe, run_ffmpeg

SOURCES = [
    "testsrc2=s=1280x720:r=30",
    "life=s=1280x720:r=30:mold=10:ratio=0.1:death_color=#C83232:life_color=#00ff00",
    "testsrc=s=1280x720:r=30,hue=h=t*40",
    "rgbtestsrc=s=1280x720:r=30,rotate=a=t/3",
]
CACHE = Path(tempfile.gettempdir()) / "vidcurate-memory-bench"


def make_long(minutes: float) -> Path:
    """Scenes of 20 s cycling through SOURCES (kept in the temp folder for reruns)."""
    path = CACHE / f"long-{minutes:g}min-720p.mp4"
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    scenes = max(1, round(minutes * 3))
    args: list[str] = ["-y"]
    for k in range(scenes):
        args += ["-f", "lavfi", "-t", "20", "-i", SOURCES[k % len(SOURCES)]]
    chain = "".join(f"[{i}:v]" for i in range(scenes))
    graph = f"{chain}concat=n={scenes}:v=1:a=0,format=yuv420p[v]"
    tmp = path.with_suffix(".part.mp4")
    run_ffmpeg([*args, "-filter_complex", graph, "-map", "[v]", "-c:v", "libx264", "-preset", "ultrafast",
                "-crf", "26", str(tmp)], timeout=3600)  # fmt: skip
    tmp.replace(path)
    return path


def peak_tree_rss(cmd: list[str]) -> tuple[float, float, int, list[tuple[float, str]]]:
    """Run `cmd`: seconds, peak of the summed RSS of it and its descendants (MB), exit code, and the
    largest peaks of single processes (MB, what they were)."""
    t0 = time.perf_counter()
    proc = psutil.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    each: dict[int, tuple[int, str]] = {}
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            total = 0
            with contextlib.suppress(psutil.Error):
                for p in [proc, *proc.children(recursive=True)]:
                    with contextlib.suppress(psutil.Error):
                        rss = p.memory_info().rss
                        total += rss
                        if rss > each.get(p.pid, (0, ""))[0]:
                            what = " ".join(p.cmdline()[:3])[-60:]
                            each[p.pid] = (rss, what)
            peak = max(peak, total)
            time.sleep(0.1)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    _, err = proc.communicate()
    done.set()
    th.join()
    if proc.returncode:
        sys.stderr.write(err.decode(errors="replace")[-2000:])
    top = sorted(((rss / 2**20, what) for rss, what in each.values()), reverse=True)[:4]
    return time.perf_counter() - t0, peak / 2**20, proc.returncode, top


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=20)
    ap.add_argument("--workers", type=int, default=None)
    args = ap.parse_args()
    video = make_long(args.minutes)
    dec_s, dec_mb, _, _ = peak_tree_rss([ffmpeg_exe(), "-nostdin", "-v", "error", "-i", str(video), "-f", "null", "-"])
    with tempfile.TemporaryDirectory() as tmp:
        vids = Path(tmp) / "in"
        vids.mkdir()
        (vids / video.name).symlink_to(video)
        exe = str(Path(sys.executable).with_name("vidcurate"))
        cmd = [exe, "run", "default", "-i", str(vids), "-o", str(Path(tmp) / "run"), "--no-progress"]
        if args.workers:
            cmd += ["--workers", str(args.workers)]
        run_s, run_mb, rc, top = peak_tree_rss(cmd)
    print(f"video: {args.minutes:g} min 1280x720 30 fps H.264 ({video.stat().st_size / 2**20:.0f} MB)")
    print(f"anchor ffmpeg -f null: {dec_s:.1f} s, peak RSS {dec_mb:.0f} MB")
    print(f"vidcurate run default: {run_s:.1f} s, peak RSS summed over all processes {run_mb:.0f} MB (exit {rc})")
    for mb, what in top:
        print(f"  one process: {mb:5.0f} MB  {what}")
    print(f"goal: under 1536 MB -> {'met' if run_mb < 1536 and rc == 0 else 'not met'}")


if __name__ == "__main__":
    main()
