"""LLM client throughput against a server with a fixed latency, and the cache-hit path.

A fake OpenAI-compatible server (`vidcurate.testing.fake_server`, in its own process so it does not
share our GIL) answers every request after exactly `--latency` seconds. At `--concurrency` C the
ideal is C / latency requests/s (32 / 0.2 s = 160/s); we report what we reach as a fraction of
that (goal: at least 0.9), measured two ways:

- client: `ChatClient.chat` for N distinct prompts (cache on, so every answer is also written);
- stage: the `curate.motion` stage's `process()` on an N-row table (prompt rendering, structured
  JSON validation, the usage column and table building included).

Then the same N rows again through a fresh stage on the same cache file: every answer is a cache
hit, so this is the rerun/resume path; reported as requests/s (no anchor: no network is touched).

    .venv/bin/python bench/llm_bench.py [--requests 1280] [--concurrency 32] [--latency 0.2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow as pa

from vidcurate.core.recipe import build_config
from vidcurate.llm.cache import ResponseCache
from vidcurate.llm.client import ChatClient
from vidcurate.llm.options import LLMOptions
from vidcurate.stages.curate.motion import MotionCurator


def start_server(latency: float) -> tuple[subprocess.Popen[str], str]:
    cmd = [sys.executable, "-m", "vidcurate.testing.fake_server", "--port", "0", "--latency", str(latency)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if not line.startswith("READY "):
        proc.kill()
        raise SystemExit(f"fake server did not start: {line!r}")
    return proc, line.split(" ", 1)[1]


def bench_client(url: str, n: int, concurrency: int, cache_path: Path) -> tuple[float, float]:
    opts = LLMOptions(model="bench", base_url=url, concurrency=concurrency, cache_path=str(cache_path))

    async def go() -> float:
        cache = ResponseCache(cache_path)
        client = ChatClient(opts, cache=cache)
        try:
            # warm-up (not timed): open the connections, import what the first request imports
            await asyncio.gather(
                *(client.chat([{"role": "user", "content": f"warm-up {i}"}]) for i in range(concurrency))
            )
            t0, c0 = time.perf_counter(), time.process_time()
            out = await asyncio.gather(
                *(client.chat([{"role": "user", "content": f"Caption: clip {i} of a dog running"}]) for i in range(n))
            )
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        finally:
            await client.aclose()
            cache.close()
        assert len(out) == n and not any(r.cached for r in out)
        return wall, cpu

    return asyncio.run(go())


def bench_stage(url: str, table: pa.Table, concurrency: int, cache_path: Path) -> tuple[float, float, dict[str, int]]:
    params: dict[str, Any] = {"model": "bench", "base_url": url, "concurrency": concurrency}
    stage = MotionCurator(build_config("curate.motion", {**params, "cache_path": str(cache_path)}, "bench"))
    stage.setup()
    try:
        t0, c0 = time.perf_counter(), time.process_time()
        out = stage.process(table)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    finally:
        stage.teardown()
    errors = out.column("error").null_count if "error" in out.column_names else out.num_rows
    if "error" in out.column_names and errors != out.num_rows:
        raise SystemExit(f"{out.num_rows - errors} rows failed: {out.column('error').drop_null()[0]}")
    u = stage.usage
    return wall, cpu, {"calls": u.calls, "cache_hits": u.cache_hits, "retries": u.retries}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=1280)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--latency", type=float, default=0.2)
    args = ap.parse_args()
    n, c, lat = args.requests, args.concurrency, args.latency
    ideal = c / lat
    proc, url = start_server(lat)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            client_wall, client_cpu = bench_client(url, n, c, Path(tmp) / "client.sqlite")
            captions = [f"A dog runs across field number {i}." for i in range(n)]
            table = pa.table({"id": [f"r{i}" for i in range(n)], "path": ["x.mp4"] * n, "caption": captions})
            cache = Path(tmp) / "stage.sqlite"
            stage_wall, stage_cpu, miss = bench_stage(url, table, c, cache)
            hit_wall, _, hit = bench_stage(url, table, c, cache)
    finally:
        proc.terminate()
        proc.wait(10)
    if miss["calls"] != n or hit["cache_hits"] != n or hit["calls"] != 0:
        raise SystemExit(f"unexpected counts: first pass {miss}, cached pass {hit}")
    result = {
        "requests": n,
        "concurrency": c,
        "latency_s": lat,
        "ideal_rps": ideal,
        "client_rps": n / client_wall,
        "client_fraction_of_ideal": n / client_wall / ideal,
        "stage_rps": n / stage_wall,
        "stage_fraction_of_ideal": n / stage_wall / ideal,
        "cache_hit_rps": n / hit_wall,
        # our process's CPU per request (the server runs in another process): the headroom on a busy machine
        "client_cpu_ms_per_request": client_cpu / n * 1000,
        "stage_cpu_ms_per_request": stage_cpu / n * 1000,
    }
    print(f"ideal at concurrency {c} and {lat * 1000:.0f} ms latency: {ideal:.1f} requests/s")
    print(
        f"client : {result['client_rps']:7.1f} requests/s = {result['client_fraction_of_ideal']:.3f} of ideal"
        f"  ({result['client_cpu_ms_per_request']:.2f} ms CPU per request)"
    )
    print(
        f"stage  : {result['stage_rps']:7.1f} requests/s = {result['stage_fraction_of_ideal']:.3f} of ideal"
        f"  ({result['stage_cpu_ms_per_request']:.2f} ms CPU per request)"
    )
    print(f"cached : {result['cache_hit_rps']:7.1f} requests/s (rerun of the same {n} rows, no network)")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
