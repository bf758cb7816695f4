"""A deduplication benchmark with known answers: real and synthetic clips, transformed copies, lookalikes.

Each base clip (4 s, cut from a real video in ../shared or from a synthetic one) comes with the
copies a crawl finds: re-encoded at CRF 40, half resolution, a 5 % centre crop, brightness +10 %,
1 s trimmed from the start, and the longer clip it was cut from (the base is contained in it).
Lookalikes are other outputs of the same synthetic generator (other seeds): alike, not duplicates.
`truth[path]` names each file's group (lookalikes are groups of one). Mirrored copies are made on
request (`flips`), for the flip-invariance check.
"""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from vidcurate.io.ffmpeg import ffmpeg_exe
from vidcurate.testing import synth

REAL = (  # (file, start of the 8 s source window); windows never overlap, scenes differ
    ("07_skv_bikes.mp4", 0.0),
    ("09_mpy_chaplin.mp4", 0.0),
    ("15_dec_flipping_a_pancake.mkv", 0.0),
    ("08_mpy_big_buck_bunny_0_30.webm", 0.0),
    ("08_mpy_big_buck_bunny_0_30.webm", 11.0),
    ("08_mpy_big_buck_bunny_0_30.webm", 22.0),
    ("intel_car-detection.mp4", 0.0),
    ("18_intel_one-by-one-person-detection.mp4", 0.0),
)
COPIES = {
    "crf40": ["-crf", "40"],
    "half": ["-vf", "scale=trunc(iw/4)*2:-2", "-crf", "20"],
    "crop5": ["-vf", "crop=trunc(iw*0.95/2)*2:trunc(ih*0.95/2)*2", "-crf", "20"],
    "bright10": ["-vf", "eq=brightness=0.1", "-crf", "20"],
    "trim1s": ["-ss", "1", "-crf", "20"],
}


@dataclass
class Corpus:
    files: list[Path] = field(default_factory=list)
    truth: dict[str, str] = field(default_factory=dict)  # path -> group
    flips: dict[str, str] = field(default_factory=dict)  # mirrored copy -> the base it mirrors


def _ff(args: list[str]) -> None:
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", *args], check=True, timeout=300)


def _cut(src: Path, start: float, length: float, dest: Path, width: int = 480) -> None:
    _ff(["-ss", f"{start}", "-i", str(src), "-t", f"{length}", "-an", "-vf", f"scale={width}:-2",
         "-c:v", "libx264", "-preset", "veryfast", "-crf", "18", str(dest)])  # fmt: skip


def build(dest: Path, shared_videos: Path, *, synthetic: int = 17, lookalikes: int = 30, flips: bool = False) -> Corpus:
    dest.mkdir(parents=True, exist_ok=True)
    c = Corpus()
    jobs: list[tuple[str, list[str]]] = []
    sources: list[tuple[str, Path, float]] = []
    for i, (name, start) in enumerate(REAL):
        sources.append((f"real{i:02d}", shared_videos / name, start))
    sources_dir = dest.parent / f"{dest.name}-sources"  # kept out of the folder being deduplicated
    sources_dir.mkdir(exist_ok=True)
    for s in range(synthetic):
        src = sources_dir / f"syn{s:02d}.mp4"
        synth.moving_box(src, direction=("right", "left", "up", "down")[s % 4], speed_px=1, num_frames=96, fps=12,
                         size=(320, 240), seed=100 + s)  # fmt: skip
        sources.append((f"syn{s:02d}", src, 0.0))
    for group, src, start in sources:
        base, long = dest / f"{group}_base.mp4", dest / f"{group}_long.mp4"
        _cut(src, start + 2.0, 4.0, base)
        c.files.append(base)
        c.truth[str(base)] = group
        jobs.append((str(long), ["-ss", f"{start}", "-i", str(src), "-t", "8", "-an", "-vf", "scale=480:-2",
                                 "-c:v", "libx264", "-preset", "veryfast", "-crf", "18"]))  # fmt: skip
        for kind, args in COPIES.items():
            out = dest / f"{group}_{kind}.mp4"
            pre, post = (args[:2], args[2:]) if args[0] == "-ss" else ([], args)
            jobs.append((str(out), [*pre, "-i", str(base), "-an", "-c:v", "libx264", "-preset", "veryfast", *post]))
        if flips:
            jobs.append((str(dest / f"{group}_flip.mp4"), ["-i", str(base), "-an", "-vf", "hflip", "-crf", "20"]))
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda j: _ff([*j[1], j[0]]), jobs))
    for made, _ in jobs:
        group = Path(made).name.split("_")[0]
        if made.endswith("_flip.mp4"):
            c.flips[made] = group
            continue
        c.files.append(Path(made))
        c.truth[made] = group
    for s in range(lookalikes):
        p = dest / f"alike{s:02d}.mp4"
        synth.moving_box(p, direction=("right", "left", "up", "down")[s % 4], speed_px=2, num_frames=48, fps=12,
                         size=(320, 240), seed=1000 + s)  # fmt: skip
        c.files.append(p)
        c.truth[str(p)] = f"alike{s:02d}"
    return c


def pair_scores(truth: dict[str, str], predicted: dict[str, str]) -> tuple[float, float, int, int]:
    """(recall, precision, true pairs, predicted pairs) over unordered pairs of files in one group."""

    def pairs(groups: dict[str, str]) -> set[tuple[str, str]]:
        by: dict[str, list[str]] = {}
        for path, g in groups.items():
            by.setdefault(g, []).append(path)
        return {(a, b) for m in by.values() for a in m for b in m if a < b}

    t, p = pairs(truth), pairs(predicted)
    hit = len(t & p)
    return hit / max(1, len(t)), hit / max(1, len(p)), len(t), len(p)
