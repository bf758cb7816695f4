"""`make bench`: every benchmark, one after another, on a quiet machine; outputs kept and recorded.

Each benchmark prints its figures next to its anchor measured in the same run. This runs them all
(the commands below, as recorded in RESULTS.md), writes `bench/latest.json` (command, seconds,
exit code, output per benchmark) and replaces the generated block at the end of `bench/RESULTS.md`
with their outputs, dated. Reading the figures into the hand-written tables above it stays a
human's job: a number goes into a table only with the command and the machine it came from.

    .venv/bin/python bench/run_all.py            # all: about 15 minutes on 2 cores (the first run also
                                                 # generates a 20-minute video)
    .venv/bin/python bench/run_all.py --only split manifest
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = {
    "manifest": ["manifest_bench.py"],
    "report": ["report_bench.py"],
    "split": ["split_bench.py"],
    "smallfiles": ["smallfiles_bench.py"],
    "score": ["score_bench.py", "--limit", "5"],
    "clip": ["clip_bench.py"],
    "dedup": ["dedup_bench.py"],
    "llm": ["llm_bench.py"],
    "convert": ["convert_bench.py", "--rows", "200000"],
    "long": ["long_bench.py"],
    "memory": ["memory_bench.py"],
}
START, END = "<!-- make bench: generated below, do not edit -->", "<!-- make bench: end -->"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", nargs="*", choices=sorted(BENCHES))
    args = ap.parse_args()
    results = {}
    for name, cmd in BENCHES.items():
        if args.only and name not in args.only:
            continue
        argv = [sys.executable, str(HERE / cmd[0]), *cmd[1:]]
        shown = " ".join([".venv/bin/python", f"bench/{cmd[0]}", *cmd[1:]])
        print(f"== {name}: {shown}", flush=True)
        t = time.perf_counter()
        p = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
        took = time.perf_counter() - t
        out = (p.stdout + ("\n" + p.stderr if p.returncode else "")).strip()
        print(out, flush=True)
        results[name] = {"command": shown, "seconds": round(took, 1), "exit": p.returncode, "output": out}
    stamp = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    (HERE / "latest.json").write_text(json.dumps({"when": stamp, "cpus": os.cpu_count(), "results": results}, indent=1))
    block = [START, f"\n## Latest `make bench` ({stamp}, {os.cpu_count()} CPUs)\n"]
    for name, r in results.items():
        block.append(f"### {name}: `{r['command']}` ({r['seconds']} s, exit {r['exit']})\n\n```\n{r['output']}\n```\n")
    block.append(END)
    text = (HERE / "RESULTS.md").read_text()
    if START in text:
        text = text[: text.index(START)].rstrip() + "\n"
    (HERE / "RESULTS.md").write_text(text + "\n" + "\n".join(block) + "\n")
    failed = [n for n, r in results.items() if r["exit"]]
    if failed:
        raise SystemExit(f"benchmarks that failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
