"""`make demo`: build a small corpus (synthetic videos + the shared real ones) and run a recipe.

The synthetic videos have known ground truth; the real ones (../shared/data/videos, linked, never
copied or modified) bring what users actually feed the pipeline: rotation, VFR, a corrupt packet.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from rich.console import Console

from vidcurate.core.recipe import load_recipe
from vidcurate.engines.local import LocalEngine
from vidcurate.report.html import write_report
from vidcurate.report.summary import print_summary
from vidcurate.testing import synth


def build_corpus(videos: Path, shared: Path | None) -> int:
    """Synthetic clips under videos/synthetic, symlinks to the shared real videos under videos/real."""
    made = 0
    syn = videos / "synthetic"
    if not (syn / ".complete").exists():
        syn.mkdir(parents=True, exist_ok=True)
        made = len(synth.demo_corpus(syn))
        _broken_files(videos / "broken", syn / "scenes.mp4")
        (syn / ".complete").write_text("ok\n")
    if shared is not None and shared.is_dir():
        real = videos / "real"
        real.mkdir(parents=True, exist_ok=True)
        for f in sorted(shared.iterdir()):
            link = real / f.name
            if f.is_file() and f.suffix.lower() != ".md" and not link.exists():
                os.symlink(f.resolve(), link)
    return made


def _broken_files(folder: Path, good: Path) -> None:
    """What real collections contain too: an empty file, a text file named .mp4, a cut-off video."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "empty.mp4").write_bytes(b"")
    (folder / "not_a_video.mp4").write_text("this is a text file with a video extension\n")
    data = good.read_bytes()
    (folder / "truncated.mp4").write_bytes(data[: len(data) // 3])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default="demo-work", help="folder for the corpus and the run")
    ap.add_argument("--recipe", default="default", help="a recipe file, or a packaged recipe's name")
    ap.add_argument(
        "--shared", default=str(Path("..") / "shared" / "data" / "videos"), help="real videos to link in, if present"
    )
    ap.add_argument("--workers", type=int, default=None)
    args = ap.parse_args(argv)
    console = Console()
    base = Path(args.out)
    videos = base / "videos"
    shared = Path(args.shared)
    build_corpus(videos, shared if shared.is_dir() else None)
    if not shared.is_dir():
        console.print(f"[yellow]note:[/] {shared} not found; the demo runs on synthetic videos only")
    engine = LocalEngine(load_recipe(args.recipe), base / "run", workers=args.workers, console=Console(stderr=True))
    summary = engine.run(videos)
    print_summary(summary, console)
    report = write_report(base / "run", console=console)
    console.print(f"report in [cyan]{report}[/]  (browse it: vidcurate view {base / 'run'})")


if __name__ == "__main__":
    main()
