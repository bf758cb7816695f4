"""LLM curation and caption refinement: validated JSON becomes typed columns; bad answers are row errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from rich.console import Console

from vidcurate.core import registry, schema
from vidcurate.core.errors import ConfigError
from vidcurate.core.recipe import build_config
from vidcurate.llm.usage import print_usage, summarize
from vidcurate.testing import synth
from vidcurate.testing.fake_server import FakeServer, Request, default_answer


@pytest.fixture(scope="module")
def server() -> Iterator[FakeServer]:
    with FakeServer(retry_after="0") as s:
        yield s


@pytest.fixture
def srv(server: FakeServer) -> FakeServer:
    server.reset()
    server.responder = default_answer
    return server


def stage(name: str, url: str, **kw: Any) -> Any:
    cfg = build_config(name, {"model": "judge", "base_url": url, "cache": False, "backoff_s": 0.01, **kw}, "t")
    s = registry.get(name)(cfg)
    s.setup()
    return s


def run(name: str, url: str, batch: pa.Table, **kw: Any) -> list[dict[str, Any]]:
    s = stage(name, url, **kw)
    try:
        return s.process(batch).to_pylist()
    finally:
        s.teardown()


CAPTIONS = [
    "A man walks his dog past a tree.",  # dynamic; agents man, dog; non-agent tree
    "A cup on a table next to a wall.",  # static; no agents
    "A girl chases a ball across the road. [[fault:badcontent]]",  # repaired once
    "A horse by a house. [[fault:badcontent*2]]",  # still invalid after the repair
]


def captions() -> pa.Table:
    n = len(CAPTIONS)
    return pa.table({"id": [f"r{i}" for i in range(n)], "path": [f"v{i}.mp4" for i in range(n)], "caption": CAPTIONS})


def test_motion_verdicts_become_typed_columns(srv: FakeServer) -> None:
    out = run("curate.motion", srv.url, captions())
    assert [r["is_dynamic"] for r in out[:3]] == [True, False, True]
    assert out[0]["motion_reason"] == "something is walks"
    assert out[1]["motion_reason"] == "nothing in the caption moves"
    assert out[2]["llm_usage"][0]["repairs"] == 1 and out[2]["error"] is None
    assert out[3]["error_kind"] == "curate.motion:invalid_output" and out[3]["is_dynamic"] is None
    assert out[3]["llm_usage"][0]["calls"] == 2  # the failed row's spending is still counted
    table = schema.conform(pa.Table.from_pylist(out))
    assert table.schema.field("is_dynamic").type == pa.bool_()
    assert srv.records[0].body["model"] == "judge" and srv.records[0].body["max_tokens"] == 1024


def test_agents_split_into_list_columns(srv: FakeServer) -> None:
    out = run("curate.agents", srv.url, captions())
    assert (out[0]["agents"], out[0]["non_agents"]) == (["man", "dog"], ["tree"])
    assert (out[1]["agents"], out[1]["non_agents"]) == ([], ["cup", "table", "wall"])
    assert (out[2]["agents"], out[2]["non_agents"]) == (["girl"], ["ball", "road"])
    assert out[3]["error_kind"] == "curate.agents:invalid_output"


def test_agent_names_are_normalised(srv: FakeServer) -> None:
    srv.responder = lambda req: '{"agents": [" Man ", "man", "DOG."], "non_agents": ["dog", "Red  Car", ""]}'
    out = run("curate.agents", srv.url, captions().slice(0, 1))
    assert out[0]["agents"] == ["man", "dog"] and out[0]["non_agents"] == ["red car"]


def test_reasoning_model_answers_are_parsed(srv: FakeServer) -> None:
    def r1(req: Request) -> str:  # DeepSeek-R1 style: thinking, then a fenced answer
        return '<think>The caption says "walks", {so}...</think>\n```json\n{"is_dynamic": true, "reason": "walks"}\n```'

    srv.responder = r1
    out = run("curate.motion", srv.url, captions().slice(0, 1), response_format="none")
    assert out[0]["is_dynamic"] is True and "response_format" not in srv.records[0].body


def test_visual_motion_over_frames(srv: FakeServer, tmp_path: Path) -> None:
    synth.moving_box(tmp_path / "move.mp4", num_frames=48)
    synth.static(tmp_path / "still.mp4", num_frames=48)
    batch = pa.table({"id": ["m", "s"], "path": [str(tmp_path / "move.mp4"), str(tmp_path / "still.mp4")]})
    out = run("curate.visual", srv.url, batch, num_frames=4, max_side=160)
    assert [r["visual_is_dynamic"] for r in out] == [True, False]
    assert all(len(r.images) == 4 and r.json_mode for r in srv.records)
    assert "frames change" in out[0]["visual_motion_reason"]


def test_refine_rewrites_and_keeps_the_caption_on_failure(srv: FakeServer) -> None:
    batch = pa.table({"id": ["a", "b"], "path": ["a.mp4", "b.mp4"], "caption": ["A dog runs.", "A cat. [[fault:400]]"]})
    out = run("caption.refine", srv.url, batch)
    assert out[0]["caption"] == "A dog runs. Rewritten." and out[0]["error"] is None
    assert out[1]["caption"] == "A cat. [[fault:400]]" and out[1]["error_kind"] == "caption.refine:http_400"
    assert "Caption: A dog runs." in srv.records[0].texts[-1]  # the packaged prompt, filled from the row


def test_usage_accumulates_across_stages_and_is_summarised(srv: FakeServer, tmp_path: Path) -> None:
    batch = captions().slice(0, 2)
    after_motion = pa.Table.from_pylist(run("curate.motion", srv.url, batch))
    after_agents = pa.Table.from_pylist(run("curate.agents", srv.url, after_motion))
    entries = after_agents.column("llm_usage").to_pylist()
    assert [[e["stage"] for e in row] for row in entries] == [["curate.motion", "curate.agents"]] * 2
    totals = summarize([after_agents])
    assert totals["curate.motion"]["calls"] == 2 and totals["curate.agents"]["rows"] == 2
    assert totals["curate.agents"]["prompt_tokens"] > 0
    manifest = tmp_path / "manifest.parquet"
    pq.write_table(schema.conform(after_agents), manifest)
    console = Console(record=True, width=160)
    print_usage([manifest, tmp_path / "rejected.parquet"], console)  # a missing file is skipped
    text = console.export_text()
    assert "LLM usage by stage" in text and "curate.agents" in text
    quiet = Console(record=True)
    print_usage([tmp_path / "rejected.parquet"], quiet)
    assert quiet.export_text() == ""  # runs without LLM stages print nothing


def test_refused_key_stops_the_stage_with_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong-key")
    with FakeServer(api_key="right") as s:
        st = stage("curate.motion", s.url, concurrency=2)
        try:
            with pytest.raises(ConfigError, match=r"refused the request \(401") as e:
                st.process(pa.table({"id": [str(i) for i in range(20)], "caption": [f"A cat {i}." for i in range(20)]}))
            assert "sk-wrong-key" not in str(e.value)
            assert s.received <= 4  # the rest of the batch was cancelled, not sent
        finally:
            st.teardown()
