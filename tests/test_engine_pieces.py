"""A shard an earlier stage expanded (one long video -> many clips) runs on every worker, same output."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

import stagekit
from vidcurate.core.recipe import parse_recipe
from vidcurate.engines.local import LocalEngine
from vidcurate.io.runfolder import RunFolder


@pytest.fixture(autouse=True)
def _plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    stagekit.register(monkeypatch)


def inputs(root: Path, n: int) -> Path:
    root.mkdir(parents=True)
    for i in range(n):
        (root / f"v{i:02d}.mp4").write_bytes(f"video {i}".encode() * (i + 1))
    return root


def spans(trace: Path) -> list[tuple[float, float, str]]:
    return [(float(a), float(b), pid) for pid, a, b, _, _ in (line.split() for line in trace.read_text().splitlines())]


def test_an_expanded_shard_runs_on_every_worker_with_the_same_output(tmp_path: Path) -> None:
    inp = inputs(tmp_path / "in", 1)
    trace = tmp_path / "trace.log"
    stages = [{"test.explode": {"n": 8}}, {"test.digest": {"sleep_s": 0.3, "trace_log": str(trace)}}]
    LocalEngine(parse_recipe({"stages": stages}), tmp_path / "two", workers=2, progress=False).run(inp)
    runs = spans(trace)
    assert len(runs) == 8 and len({pid for _, _, pid in runs}) == 2
    assert any(x[2] != y[2] and x[0] < y[1] and y[0] < x[1] for x in runs for y in runs), "pieces ran one at a time"
    trace.unlink()
    LocalEngine(parse_recipe({"stages": stages}), tmp_path / "one", workers=1, progress=False).run(inp)
    two, one = (pq.read_table(tmp_path / d / "manifest.parquet") for d in ("two", "one"))
    assert two.equals(one) and two.column("child").to_pylist() == list(range(8))  # rows in order
    assert not RunFolder(tmp_path / "two").tmp_dir.exists()  # the pieces were merged and removed


def test_a_dead_worker_inside_a_piece_costs_only_its_rows(tmp_path: Path) -> None:
    """Pieces of 4 rows: [a0 a1 a2 b0] [b1 b2]; the worker dies on every row of b."""
    inp = inputs(tmp_path / "in", 2)
    stages = [{"test.explode": {"n": 3}}, {"test.digest": {"die_on": "v01"}}]
    s = LocalEngine(parse_recipe({"stages": stages}), tmp_path / "out", workers=2, shard_size=2, progress=False).run(
        inp
    )
    rows = pq.read_table(tmp_path / "out" / "manifest.parquet").to_pylist()
    assert [(Path(r["path"]).name, r["child"]) for r in rows] == [(f"v0{v}.mp4", c) for v in (0, 1) for c in range(3)]
    assert all(r["digest"] and r["error"] is None for r in rows[:3])  # a2 shared a piece with b0: redone alone
    assert [r["error_kind"] for r in rows[3:]] == ["test.digest:worker_died"] * 3
    assert s.stages[1].errors == {"test.digest:worker_died": 3}


def test_stages_that_do_not_read_media_keep_whole_shards(tmp_path: Path) -> None:
    inp = inputs(tmp_path / "in", 1)
    trace = tmp_path / "trace.log"
    barrier = {"test.barrier": {"trace_log": str(trace)}}
    stages = [{"test.explode": {"n": 6}}, {"filter": {"where": "child >= 0"}}, barrier]
    LocalEngine(parse_recipe({"stages": stages}), tmp_path / "out", workers=2, progress=False).run(inp)
    assert len({pid for _, _, pid in spans(trace)}) == 1  # the barrier (a global step) ran as one task
    assert pq.read_metadata(tmp_path / "out" / "03-test.barrier" / "part-00000.parquet").num_rows == 6


def test_only_row_local_media_stages_fan_out() -> None:
    from typing import Any

    import pyarrow as pa

    from vidcurate.core.stage import Stage, StageConfig
    from vidcurate.engines.pieces import fans_out

    class PerVideo(Stage[StageConfig]):  # e.g. keeps the best clip of each video: needs the whole shard
        name = "test.per_video"

        def process(self, batch: pa.Table) -> Any:
            return batch

    assert not fans_out(PerVideo())
    assert fans_out(stagekit.Digest()) and not fans_out(stagekit.Barrier())
