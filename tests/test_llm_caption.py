"""The `caption` stage against a local fake VLM server: the frames sent are the sampler's, faults
end as captions or clear row errors, the limit holds, and a killed run resumes without paying twice."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from vidcurate.core.errors import ConfigError
from vidcurate.core.frames import FrameSpec
from vidcurate.core.recipe import build_config, parse_recipe
from vidcurate.engines.local import LocalEngine
from vidcurate.io.decode import sample
from vidcurate.llm.usage import summarize
from vidcurate.stages.caption import VlmCaptioner
from vidcurate.testing import synth
from vidcurate.testing.fake_server import FakeServer, default_answer

REPO = Path(__file__).resolve().parents[1]
FPS = 24
TIMEOUT = 0.5  # request deadline in these tests: short, with room for a busy 2-core machine


@pytest.fixture(scope="module")
def counter_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """10 s whose every frame shows its own index (synth.counter), so a frame tells where it came from."""
    path = tmp_path_factory.mktemp("vid") / "counter.mp4"
    synth.counter(path, num_frames=240, fps=FPS, size=(320, 240))
    return path


@pytest.fixture(scope="module")
def server() -> Iterator[FakeServer]:
    with FakeServer(slow_s=3.0, retry_after="0") as s:
        yield s


@pytest.fixture
def srv(server: FakeServer) -> FakeServer:
    server.unblock()  # in case a failed test left it holding requests
    server.reset()
    server.latency_s = 0.0
    server.responder = default_answer
    return server


def clips(video: Path, n: int, length: float = 0.8, **extra: list[Any]) -> pa.Table:
    starts = [i * length for i in range(n)]
    return pa.table(
        {
            "id": [f"c{i:02d}" for i in range(n)],
            "path": [str(video)] * n,
            "start_s": starts,
            "end_s": [s + length for s in starts],
            **extra,
        }
    )


def captioner(url: str, tmp: Path, **kw: Any) -> VlmCaptioner:
    params = dict(model="qwen-vl", base_url=url, num_frames=4, max_side=160, cache_path=str(tmp / "cache"))
    params.update(timeout_s=TIMEOUT, backoff_s=0.01, backoff_max_s=0.05)
    cfg = build_config("caption", {**params, **kw}, "test")
    stage = VlmCaptioner(cfg)
    stage.setup()
    return stage


def test_images_are_the_frames_the_sampler_chose(srv: FakeServer, counter_video: Path, tmp_path: Path) -> None:
    batch = clips(counter_video, 4, length=2.0)
    stage = captioner(srv.url, tmp_path, num_frames=5)
    try:
        out = stage.process(batch).to_pylist()
    finally:
        stage.teardown()
    assert srv.received == 4 and len(srv.records) == 4
    by_first = {r.counters[0]: r for r in srv.records}
    for row in out:
        frames = sample(
            counter_video, {"f": FrameSpec(num=5, max_side=160)}, start_s=row["start_s"], end_s=row["end_s"]
        )
        want = [round(t * FPS) for t in frames["f"].times_s]
        assert len(want) == 5 and all(row["start_s"] * FPS <= w < row["end_s"] * FPS for w in want)
        rec = by_first[want[0]]
        assert rec.counters == want  # exactly the frames the sampler picked, in order
        assert rec.images == [(frames["f"].width, frames["f"].height)] * 5 == [(160, 120)] * 5
        assert row["caption"] == f"The video shows 5 frames of 160x120 with counters {' '.join(map(str, want))}."
        assert row["llm_usage"] == [
            {
                "stage": "caption",
                "model": "qwen-vl",
                "calls": 1,
                "retries": 0,
                "cache_hits": 0,
                "repairs": 0,
                "prompt_tokens": rec_tokens(rec),
                "completion_tokens": len(row["caption"].split()),
            }
        ]
    first = srv.records[0].body["messages"]
    assert first[0]["role"] == "system" and [p["type"] for p in first[1]["content"]] == ["image_url"] * 5 + ["text"]


def rec_tokens(rec: Any) -> int:
    return sum(len(t.split()) for t in rec.texts) + 85 * len(rec.images)


FAULT_ROWS = {
    # fault spec -> (calls, retries, ends with a caption?, error kind)
    "": (1, 0, True, None),
    "[[fault:429]]": (2, 1, True, None),
    "[[fault:500*2]]": (3, 2, True, None),
    "[[fault:slow]]": (2, 1, True, None),
    "[[fault:badjson]]": (2, 1, True, None),
    "[[fault:truncated]]": (2, 1, True, None),
    "[[fault:reset]]": (2, 1, True, None),
    "[[fault:429,reset,503]]": (4, 3, True, None),
    "[[fault:500*20]]": (4, 3, False, "caption:server_error"),
    "[[fault:400]]": (1, 0, False, "caption:http_400"),
    "[[fault:empty]]": (1, 0, False, "caption:empty"),
}


def test_faults_end_as_captions_or_clear_errors(srv: FakeServer, counter_video: Path, tmp_path: Path) -> None:
    prompt = tmp_path / "p.txt"
    prompt.write_text("[user]\nDescribe the clip. $fault\n")
    faults = list(FAULT_ROWS)
    batch = clips(counter_video, len(faults) + 1, fault=[*faults, ""])
    batch = batch.set_column(1, "path", pa.array([str(counter_video)] * len(faults) + [str(tmp_path / "gone.mp4")]))
    stage = captioner(srv.url, tmp_path, prompt=str(prompt), concurrency=3, max_retries=3)
    try:
        t0 = time.perf_counter()
        out = stage.process(batch).to_pylist()
        elapsed = time.perf_counter() - t0
    finally:
        stage.teardown()
    assert len(out) == len(faults) + 1 and elapsed < 10
    for row, fault in zip(out, faults, strict=False):
        calls, retries, ok, kind = FAULT_ROWS[fault]
        usage = row["llm_usage"][0]
        assert (usage["calls"], usage["retries"]) == (calls, retries), fault
        if ok:
            assert row["caption"].startswith("The video shows 4 frames") and row.get("error") is None, fault
        else:
            assert row["caption"] is None and row["error_kind"] == kind, fault
            assert row["error"].startswith("caption: ")
    assert "gave up after 4 attempts" in out[faults.index("[[fault:500*20]]")]["error"]
    gone = out[-1]
    assert gone["error_kind"] == "caption:not_found" and "gone.mp4" in gone["error"]
    assert gone["llm_usage"][0]["calls"] == 0  # a file that does not decode costs no request
    assert srv.max_in_flight <= 3
    assert srv.received == sum(r["llm_usage"][0]["calls"] for r in out)  # every request is accounted for
    totals = summarize([pa.Table.from_pylist(out)])["caption"]
    assert totals["rows"] == len(out) and totals["retries"] == sum(v[1] for v in FAULT_ROWS.values())


def test_concurrency_limit_holds_through_the_stage(srv: FakeServer, counter_video: Path, tmp_path: Path) -> None:
    srv.latency_s = 0.1
    stage = captioner(srv.url, tmp_path, concurrency=3, num_frames=2, timeout_s=5, cache=False)
    try:
        out = stage.process(clips(counter_video, 12)).to_pylist()
    finally:
        stage.teardown()
    assert all(r["caption"] for r in out) and srv.received == 12
    assert srv.max_in_flight == 3


def test_rerun_is_served_from_the_cache(srv: FakeServer, counter_video: Path, tmp_path: Path) -> None:
    batch = clips(counter_video, 5)
    first = captioner(srv.url, tmp_path)
    a = first.process(batch)
    first.teardown()
    again = captioner(srv.url, tmp_path)  # a new worker on the same cache file
    b = again.process(batch)
    again.teardown()
    assert srv.received == 5
    assert a.column("caption").to_pylist() == b.column("caption").to_pylist()
    assert [u[0]["cache_hits"] for u in b.column("llm_usage").to_pylist()] == [1] * 5
    assert [u[0]["calls"] for u in b.column("llm_usage").to_pylist()] == [0] * 5


def test_video_url_input(srv: FakeServer, counter_video: Path, tmp_path: Path) -> None:
    batch = pa.table(
        {
            "id": ["whole", "clip"],
            "path": [str(counter_video)] * 2,
            "duration_s": [10.0, 10.0],
            "start_s": [None, 2.0],
            "end_s": [None, 4.0],
        }
    )
    stage = captioner(srv.url, tmp_path, video_input="video_url")
    try:
        out = stage.process(batch).to_pylist()
    finally:
        stage.teardown()
    assert srv.received == 1 and srv.records[0].images == []
    assert srv.records[0].videos == [f"file://{counter_video.resolve()}"]
    assert out[0]["caption"] == f"In this video, the file file://{counter_video.resolve()} plays."
    assert out[1]["error_kind"] == "caption:clip_span"


def test_prompt_problems_are_config_errors(srv: FakeServer, counter_video: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"stage 1 'caption': key 'prompt'.*cannot read prompt template"):
        parse_recipe({"stages": [{"caption": {"model": "m", "prompt": str(tmp_path / "none.txt")}}]}, "r.yaml")
    with pytest.raises(ConfigError, match="no packaged prompt 'captoin'"):
        parse_recipe({"stages": [{"caption": {"model": "m", "prompt": "captoin"}}]}, "r.yaml")
    with pytest.raises(ConfigError, match="missing key 'model'"):
        parse_recipe({"stages": [{"caption": {}}]}, "r.yaml")
    prompt = tmp_path / "p.txt"
    prompt.write_text("Describe this $lang clip.")
    rec = parse_recipe({"stages": [{"caption": {"model": "m", "base_url": srv.url, "prompt": str(prompt)}}]}, "r.yaml")
    src = tmp_path / "in.parquet"
    pq.write_table(clips(counter_video, 2), src)
    with pytest.raises(ConfigError, match=r"needs column.*lang"):
        LocalEngine(rec, tmp_path / "out", workers=1, progress=False).run(src)
    assert srv.received == 0


def test_kill_then_resume_pays_for_no_request_twice(srv: FakeServer, counter_video: Path, tmp_path: Path) -> None:
    rows = clips(counter_video, 12)
    src = tmp_path / "clips.parquet"
    pq.write_table(rows, src)
    cache = tmp_path / "cache" / "llm.sqlite"
    recipe = tmp_path / "r.yaml"
    stage = {"model": "qwen-vl", "base_url": srv.url, "num_frames": 3, "max_side": 96, "concurrency": 4}
    recipe.write_text(yaml.safe_dump({"stages": [{"caption": {**stage, "cache_path": str(cache)}}]}))
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "vidcurate.cli", "run", str(recipe), "--input", str(src), "--out", str(out)]
    cmd += ["--workers", "1", "--shard-size", "4", "--no-progress"]
    srv.admit = 6  # shard 0 (4 rows) completes; in shard 1, 2 rows are answered and 2 wait forever
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        assert srv.wait_until(lambda s: s.ok == 6 and s.in_flight == 2, 60), proc.stderr
        assert wait_for(lambda: cached_rows(cache) == 6, 10)  # each answer is on disk once received
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    stage_dir = out / "01-caption"
    assert (stage_dir / "part-00000.parquet").exists() and not (stage_dir / "part-00001.parquet").exists()
    assert not (out / "manifest.parquet").exists()
    assert srv.wait_until(lambda s: s.abandoned == 2, 5)  # the killed client's requests died with it
    srv.unblock()
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    final = pq.read_table(out / "manifest.parquet").to_pylist()
    assert len(final) == 12 and all(r["caption"].startswith("The video shows 3 frames of 96x72") for r in final)
    assert srv.ok == 12 == len(final)  # every row paid for exactly once, across the kill
    assert len(srv.answers) == 12 and set(srv.answers.values()) == {1}
    assert srv.received == 14  # the 2 requests cut off by the kill were the only ones sent again
    resumed = [r for r in final if r["id"] in {"c04", "c05", "c06", "c07"}]
    assert sum(r["llm_usage"][0]["cache_hits"] for r in resumed) == 2
    assert "LLM usage by stage" in again.stdout


def cached_rows(path: Path) -> int:
    try:
        with sqlite3.connect(path, timeout=1) as db:
            return int(db.execute("SELECT COUNT(*) FROM responses").fetchone()[0])
    except sqlite3.Error:
        return -1


def wait_for(pred: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.02)
    return bool(pred())


def test_caption_recipe_end_to_end(srv: FakeServer, tmp_path: Path) -> None:
    videos = tmp_path / "videos"
    videos.mkdir()
    synth.counter(videos / "a.mp4", num_frames=48, fps=FPS)
    synth.moving_box(videos / "b.mp4", num_frames=36)
    (videos / "broken.mp4").write_bytes(b"not a video")
    data = yaml.safe_load((REPO / "recipes" / "caption.yaml").read_text())
    for spec in data["stages"]:
        if "caption" in spec:
            spec["caption"].update(base_url=srv.url, cache_path=str(tmp_path / "cache"), num_frames=4)
    rec = parse_recipe(data, source="caption.yaml")
    assert [s.name for s in rec.stages] == ["probe", "filter", "caption", "caption.clean", "filter"]
    summary = LocalEngine(rec, tmp_path / "out", workers=1, progress=False).run(videos)
    rows = pq.read_table(tmp_path / "out" / "manifest.parquet").to_pylist()
    assert sorted(Path(r["path"]).name for r in rows) == ["a.mp4", "b.mp4"]
    for r in rows:  # the fake VLM opens with "The video shows"; caption.clean removed it
        assert r["caption"].startswith("4 frames of ") and "video shows" not in r["caption"]
    assert summary.rows_rejected == 1 and srv.received == 2
