"""The Ray engine gives the local engine's output, shard for shard, and resumes the same way."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import stagekit
from test_engine import make_inputs, recipe
from vidcurate.engines.local import LocalEngine

TESTS = Path(__file__).resolve().parent


def test_ray_matches_local_and_resumes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from vidcurate.core import registry
    from vidcurate.engines.ray import RayEngine

    monkeypatch.setenv("VIDCURATE_STAGES", stagekit.STAGES)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]))
    registry.stages.reload_plugins()
    inp = make_inputs(tmp_path / "in")
    rec = recipe(fail_on="bad", crash_on="v04")
    LocalEngine(rec, tmp_path / "local", workers=1, shard_size=3, progress=False).run(inp)
    s = RayEngine(rec, tmp_path / "ray", workers=2, shard_size=3, progress=False).run(inp)
    assert pq.read_table(tmp_path / "ray" / "manifest.parquet").equals(
        pq.read_table(tmp_path / "local" / "manifest.parquet")
    )
    assert pq.read_table(tmp_path / "ray" / "rejected.parquet").equals(
        pq.read_table(tmp_path / "local" / "rejected.parquet")
    )
    assert s.stages[0].errors == {"test.digest:bad_row": 1, "test.digest:ZeroDivisionError": 1}
    again = RayEngine(rec, tmp_path / "ray", workers=2, shard_size=3, progress=False).run(inp)
    assert [st.resumed_shards for st in again.stages] == [5, 5]


def test_stage_resources_follow_the_config() -> None:
    from vidcurate.core.recipe import parse_recipe

    tn = {"detector": "transnetv2"}
    r = parse_recipe({"stages": [{"split": tn}, {"split": {**tn, "device": "cpu"}}, {"split": {}}, "probe"]})
    assert [s.build().needs().gpus for s in r.stages] == [0.25, 0.0, 0.0, 0.0]
