"""LLM stages in a run, as they fail in practice: echoed keys, no cache folder, a server that is not
there or lacks the model, transient failures that a rerun should retry, two processes asking the
same question, answers too big to keep, and what a resumed run really paid."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from vidcurate.core.errors import ConfigError
from vidcurate.core.recipe import parse_recipe
from vidcurate.engines.local import LocalEngine
from vidcurate.report.html import write_report
from vidcurate.stages.curate.agents import _names
from vidcurate.testing.fake_server import FakeServer, default_answer

KEY = "sk-test-0123456789abcdef"


@pytest.fixture(scope="module")
def server() -> Iterator[FakeServer]:
    with FakeServer(retry_after="0") as s:
        yield s


@pytest.fixture
def srv(server: FakeServer) -> FakeServer:
    server.unblock()
    server.reset()
    server.latency_s = 0.0
    server.model = None
    server.responder = default_answer
    return server


def captions(tmp: Path, texts: list[str]) -> Path:
    m = tmp / "captions.parquet"
    n = len(texts)
    pq.write_table(pa.table({"id": [f"r{i}" for i in range(n)], "path": [f"v{i}.mp4" for i in range(n)],
                             "caption": texts}), m)  # fmt: skip
    return m


def refine(url: str, tmp: Path, **kw: Any) -> Any:
    stage = {"model": "writer", "base_url": url, "cache_path": str(tmp / "cache"), "backoff_s": 0.01}
    return parse_recipe({"stages": [{"caption.refine": {**stage, **kw}}]}, source="r.yaml")


def test_an_echoed_key_never_reaches_the_manifest_the_report_or_a_log(
    srv: FakeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    m = captions(tmp_path, ["A dog runs. [[fault:echo]]", "A cat sits."])
    out = tmp_path / "out"
    with caplog.at_level(logging.DEBUG):
        LocalEngine(refine(srv.url, tmp_path), out, workers=1, progress=False).run(m)
    report = write_report(out)
    rows = {r["id"]: r for r in pq.read_table(out / "manifest.parquet").to_pylist()}
    assert rows["r0"]["error_kind"] == "caption.refine:http_400" and "[redacted]" in rows["r0"]["error"]
    for f in [out / "manifest.parquet", out / "summary.json", report, *out.rglob("part-*.parquet")]:
        assert KEY.encode() not in f.read_bytes(), f
    assert KEY not in caplog.text


def test_the_default_cache_folder_is_made_on_first_use(srv: FakeServer, tmp_path: Path) -> None:
    m = captions(tmp_path, ["A dog runs."])
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"stages:\n  - caption.refine: {{model: writer, base_url: '{srv.url}'}}\n")
    anywhere = tmp_path / "anywhere"
    anywhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "VIDCURATE_CACHE"}
    cmd = [sys.executable, "-m", "vidcurate.cli", "run", str(recipe), "-i", str(m), "-o", str(tmp_path / "out")]
    done = subprocess.run([*cmd, "--no-progress"], cwd=anywhere, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (anywhere / ".vidcurate-cache" / "llm.sqlite").is_file()


def test_an_unreachable_server_or_unknown_model_stops_before_any_row(srv: FakeServer, tmp_path: Path) -> None:
    m = captions(tmp_path, ["A dog runs.", "A cat sits."])
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    closed = f"http://127.0.0.1:{s.getsockname()[1]}/v1"
    s.close()
    with pytest.raises(ConfigError, match=r"cannot reach the LLM endpoint .* is the server running"):
        LocalEngine(refine(closed, tmp_path), tmp_path / "a", workers=1, progress=False).run(m)
    assert not list((tmp_path / "a").rglob("01-*/part-*"))
    srv.model = "served-model"
    with pytest.raises(ConfigError, match=r"does not serve the model 'writer' \(it serves: served-model\)"):
        LocalEngine(refine(srv.url, tmp_path), tmp_path / "b", workers=1, progress=False).run(m)
    assert srv.received == 0  # nothing was sent for a row


def test_rows_that_failed_transiently_are_retried_by_a_rerun(srv: FakeServer, tmp_path: Path) -> None:
    m = captions(tmp_path, ["A dog runs. [[fault:500*3]]", "A cat sits.", "A bird flies."])
    rec = refine(srv.url, tmp_path, max_retries=1)
    out = tmp_path / "out"
    first = LocalEngine(rec, out, workers=1, shard_size=1, progress=False).run(m)
    rows = {r["id"]: r for r in pq.read_table(out / "manifest.parquet").to_pylist()}
    assert rows["r0"]["error_kind"] == "caption.refine:server_error" and first.stages[0].errors
    sent = srv.received
    again = LocalEngine(rec, out, workers=1, progress=False).run(m)  # no --overwrite
    rows = {r["id"]: r for r in pq.read_table(out / "manifest.parquet").to_pylist()}
    assert all(r.get("error") is None for r in rows.values()) and rows["r0"]["caption"].endswith("Rewritten.")
    assert again.stages[0].resumed_shards == 2  # the two good shards were not redone
    assert srv.received - sent == 2  # attempts 3 (500) and 4 (answered): the failed row alone was paid again
    assert again.stages[0].llm["calls"] == 2


def test_a_resumed_run_reports_what_it_sent(srv: FakeServer, tmp_path: Path) -> None:
    m = captions(tmp_path, ["A dog runs.", "A cat sits.", "A bird flies."])
    rec = refine(srv.url, tmp_path)
    out = tmp_path / "out"
    first = LocalEngine(rec, out, workers=1, shard_size=1, progress=False).run(m)
    assert first.stages[0].llm["calls"] == 3
    again = LocalEngine(rec, out, workers=1, progress=False).run(m)
    assert again.stages[0].llm.get("calls", 0) == 0 and again.stages[0].llm_all["calls"] == 3
    summary = json.loads((out / "summary.json").read_text())
    assert summary["stages"][0]["llm"].get("calls", 0) == 0


def test_an_answer_over_the_size_cap_is_a_row_error(srv: FakeServer, tmp_path: Path) -> None:
    m = captions(tmp_path, ["A dog runs. [[fault:huge]]", "A cat sits."])
    out = tmp_path / "out"
    LocalEngine(refine(srv.url, tmp_path, max_answer_kb=100), out, workers=1, progress=False).run(m)
    rows = {r["id"]: r for r in pq.read_table(out / "manifest.parquet").to_pylist()}
    assert rows["r0"]["error_kind"] == "caption.refine:too_large" and rows["r1"].get("error") is None


def test_identical_requests_in_two_processes_are_paid_once(srv: FakeServer, tmp_path: Path) -> None:
    srv.latency_s = 1.0
    script = textwrap.dedent(
        f"""
        import asyncio, json, sys
        from vidcurate.llm.cache import ResponseCache
        from vidcurate.llm.client import ChatClient
        from vidcurate.llm.options import LLMOptions
        opts = LLMOptions(model="m", base_url="{srv.url}", timeout_s=30)
        async def main():
            client = ChatClient(opts, cache=ResponseCache(sys.argv[1]))
            r = await client.chat([{{"role": "user", "content": "the same question"}}])
            await client.aclose()
            print(json.dumps({{"content": r.content, "cached": r.cached}}))
        asyncio.run(main())
        """
    )
    cache = str(tmp_path / "shared.sqlite")
    procs = [
        subprocess.Popen([sys.executable, "-c", script, cache], stdout=subprocess.PIPE, text=True) for _ in range(2)
    ]
    results = [json.loads(p.communicate(timeout=60)[0]) for p in procs]
    assert srv.received == 1
    assert results[0]["content"] == results[1]["content"] and sorted(r["cached"] for r in results) == [False, True]


def test_agent_names_are_normalised_in_linear_time() -> None:
    names = [f"  Thing {i}. " for i in range(40_000)] * 2
    t0 = time.perf_counter()
    out = _names(names)
    assert len(out) == 40_000 and out[0] == "thing 0"
    assert time.perf_counter() - t0 < 1.0
