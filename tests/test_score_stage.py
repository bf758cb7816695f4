"""The `score` stage: one decode per clip for all scorers, clip spans, errors as data, clear config errors."""

from __future__ import annotations

import importlib
from collections import Counter
from pathlib import Path
from typing import Any

import av
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from conftest import REPO, shared_video
from vidcurate.core import registry, schema
from vidcurate.core import scorer as scorer_mod
from vidcurate.core.errors import ConfigError
from vidcurate.core.recipe import parse_recipe
from vidcurate.core.stage import StageContext
from vidcurate.engines.local import LocalEngine
from vidcurate.io import decode
from vidcurate.io.ffmpeg import FrameWriter
from vidcurate.stages.score import ScoreConfig, ScoreStage
from vidcurate.testing import synth

ALL = {"motion": {}, "camera": {}, "quality": {"frames": 4}, "ocr": {"frames": 1}, "nsfw": {"frames": 1}}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("score")
    return {
        "box": synth.moving_box(d / "box.mp4", num_frames=36).path,
        "still": synth.static(d / "still.mkv", num_frames=36).path,
        "text": synth.drawtext(d / "text.mp4", text="HELLO 42", num_frames=24).path,
    }


@pytest.fixture(scope="module")
def fused() -> ScoreStage:
    stage = ScoreStage(ScoreConfig(scorers=ALL))
    stage.setup(StageContext.detached())  # models load once for the module
    return stage


def scored(stage: Any, table: pa.Table) -> pa.Table:
    """A stage's output for one table, set up and torn down around it as the engine does."""
    with stage.running():
        return stage.process(table)


def packets_in(path: Path) -> int:
    with av.open(str(path)) as c:
        return sum(1 for p in c.demux(c.streams.video[0]) if p.size)


def rows_for(corpus: dict[str, Path]) -> pa.Table:
    return pa.Table.from_pylist(
        [{"id": k, "path": str(p), "duration_s": 1.5 if k != "text" else 1.0} for k, p in corpus.items()]
    )


def counting_open(monkeypatch: pytest.MonkeyPatch) -> Counter:
    opened: Counter = Counter()
    real_open = decode.av.open

    def spy(path: Any, *a: Any, **k: Any) -> Any:
        opened[Path(path).name] += 1
        return real_open(path, *a, **k)

    monkeypatch.setattr(decode.av, "open", spy)
    return opened


def test_each_clip_is_decoded_once_for_all_scorers(
    fused: ScoreStage, corpus: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    opened = counting_open(monkeypatch)
    before = fused.decode_stats.packets
    out = fused.process(rows_for(corpus))
    assert opened == Counter({p.name: 1 for p in corpus.values()})  # five scorers, one open per file
    assert fused.decode_stats.packets - before == sum(packets_in(p) for p in corpus.values())  # each packet once
    by = {r["id"]: r for r in out.to_pylist()}
    assert all(r.get("error") is None for r in by.values())
    assert set(fused.output_columns()) <= set(out.column_names) and set(fused.output_columns()) <= set(
        schema.declared()
    )
    assert by["box"]["motion_flow_mean"] > 20 * by["still"]["motion_flow_mean"]
    assert by["text"]["ocr_text"] == "HELLO 42" and by["box"]["ocr_text"] is None
    assert by["still"]["camera_motion"] == "static" and by["box"]["black_frame_ratio"] == 0.0
    assert all(0 <= r["nsfw_prob"] < 0.2 for r in by.values())


def test_separate_stages_decode_again_and_agree(corpus: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    rows = rows_for(corpus)
    cheap = ("motion", "camera", "quality")
    together = scored(ScoreStage(ScoreConfig(scorers={k: ALL[k] for k in cheap})), rows).to_pylist()
    opened = counting_open(monkeypatch)
    apart = [r.copy() for r in rows.to_pylist()]
    for name in cheap:
        stage = registry.get(f"score.{name}")(registry.get(f"score.{name}").Config(**ALL[name]))
        got = scored(stage, pa.Table.from_pylist(apart)).to_pylist()
        apart = [{**a, **{c: s[c] for c in stage.output_columns()}} for a, s in zip(apart, got, strict=True)]
    assert opened == Counter({p.name: len(cheap) for p in corpus.values()})  # one decode per stage per clip
    columns = tuple(ScoreStage(ScoreConfig(scorers=list(cheap))).output_columns())
    for one, other in zip(together, apart, strict=True):
        assert {c: one[c] for c in columns} == pytest.approx({c: other[c] for c in columns}), one["id"]


def test_clip_spans_are_scored_on_their_own(tmp_path: Path) -> None:
    """Still for 2 s, then a box moves for 2 s: each clip row sees only its own span."""
    rng = np.random.default_rng(0)
    bg = rng.integers(30, 220, (60, 80, 3), dtype=np.uint8).repeat(4, 0).repeat(4, 1)
    path = tmp_path / "two.mp4"
    with FrameWriter(path, 320, 240, 24, gop=24) as w:
        for i in range(96):
            img = bg.copy()
            if i >= 48:
                x = 20 + 5 * (i - 48)
                img[100:160, x : x + 60] = (250, 30, 30)
            w.write(img)
    stage = ScoreStage(ScoreConfig(scorers=["motion"]))
    rows = [
        {"id": "a", "path": str(path), "start_s": 0.0, "end_s": 2.0, "duration_s": 4.0},
        {"id": "b", "path": str(path), "start_s": 2.0, "end_s": 4.0, "duration_s": 4.0},
    ]
    out = {r["id"]: r for r in scored(stage, pa.Table.from_pylist(rows)).to_pylist()}
    assert out["a"]["motion_flow_mean"] < 1e-4 < out["b"]["motion_flow_mean"]
    assert out["a"]["motion_mv_mean"] < 1e-4 < out["b"]["motion_mv_mean"]
    assert stage.decode_stats.opens == 2 and stage.decode_stats.packets <= 96 + 24  # seeks, never decodes it all twice


def test_bad_rows_become_errors_and_a_failing_scorer_keeps_the_others(
    tmp_path: Path, corpus: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_text("not a video")
    stage = ScoreStage(ScoreConfig(scorers=["motion", "quality"]))
    rows = [
        {"id": "missing", "path": str(tmp_path / "nope.mp4"), "start_s": None, "end_s": None},
        {"id": "junk", "path": str(junk), "start_s": None, "end_s": None},
        {"id": "past_end", "path": str(corpus["box"]), "start_s": 30.0, "end_s": 31.0},
        {"id": "ok", "path": str(corpus["box"]), "start_s": None, "end_s": None},
    ]
    quality = stage.scorers[1]
    monkeypatch.setattr(quality, "score", lambda frames: 1 / 0)
    out = {r["id"]: r for r in scored(stage, pa.Table.from_pylist(rows)).to_pylist()}
    assert out["missing"]["error_kind"] == "score:not_found"
    assert out["junk"]["error_kind"] == "score:invalid_data"
    assert out["past_end"]["error_kind"] == "score:no_frames"
    assert "between 30.00s and 31.00s" in out["past_end"]["error"]
    ok = out["ok"]
    assert ok["error_kind"] == "score:scorer_failed" and "quality: ZeroDivisionError" in ok["error"]
    assert ok["motion_flow_mean"] > 0 and ok["quality_brisque"] is None  # motion's columns survive


def test_config_errors_are_one_line() -> None:
    names = "motion, camera, ocr, nsfw, quality, aesthetic, clip_match, embed, segment"
    with pytest.raises(ConfigError, match=rf"unknown scorer 'motoin' \(available: {names}, phash\)"):
        parse_recipe({"stages": [{"score": {"scorers": {"motoin": {}}}}]})
    with pytest.raises(ConfigError, match=r"scorer 'motion': unknown key 'fsp' \(allowed: flow, method"):
        parse_recipe({"stages": [{"score": {"scorers": {"motion": {"fsp": 2}}}}]})
    with pytest.raises(ConfigError, match="unknown key 'fps'"):
        parse_recipe({"stages": [{"score.ocr": {"fps": 2}}]})
    r = parse_recipe({"stages": [{"score": {"scorers": ["ocr", "nsfw"]}}, {"score": None}]})
    assert list(r.stages[0].config.scorers) == ["ocr", "nsfw"]
    assert list(r.stages[1].config.scorers) == ["motion", "camera", "quality"]  # defaults: no model files
    dumped = r.stages[0].config.model_dump(mode="json")
    assert dumped["scorers"]["ocr"]["max_side"] == 640  # the fingerprint sees every parameter


def test_missing_model_package_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    real_find = importlib.util.find_spec
    real_import = importlib.import_module
    monkeypatch.setattr(scorer_mod.importlib.util, "find_spec", lambda n: None if "rapidocr" in n else real_find(n))
    with pytest.raises(ConfigError, match=r"needs the package rapidocr-onnxruntime: pip install 'vidcurate\[ml\]'"):
        ScoreStage(ScoreConfig(scorers=["motion", "ocr"]))
    monkeypatch.undo()

    def broken(name: str, *a: Any) -> Any:
        if name == "rapidocr_onnxruntime":
            raise ImportError("libonnxruntime.so: cannot open shared object file")
        return real_import(name, *a)

    monkeypatch.setattr(scorer_mod.importlib, "import_module", broken)
    stage = ScoreStage(ScoreConfig(scorers={"ocr": {}}))
    with pytest.raises(ConfigError, match=r"cannot import rapidocr_onnxruntime \(libonnxruntime"):
        stage.setup(StageContext.detached())


def test_default_recipe_scores_and_filters(tmp_path: Path) -> None:
    text = (REPO / "recipes" / "default.yaml").read_text()
    data = yaml.safe_load(text)
    names = [next(iter(s)) for s in data["stages"]]
    score_at = names.index("score")
    assert names[score_at + 1 : score_at + 3] == ["dedup.phash", "filter"]
    nsfw_at = next(i for i, s in enumerate(data["stages"]) if "nsfw_prob" in str(s))
    # the documented (commented-out) motion threshold for generation data, switched on after the others
    motion = next(line for line in text.splitlines() if "motion_flow_mean >=" in line)
    data["stages"][nsfw_at + 1 : nsfw_at + 1] = yaml.safe_load(motion.lstrip("# "))
    for s in data["stages"]:  # stages that write files write them under this test's folder
        params = next(iter(s.values()))
        if isinstance(params, dict) and "out_dir" in params:
            params["out_dir"] = str(tmp_path / "out")
    inp = tmp_path / "in"
    synth.moving_box(inp / "box.mp4", num_frames=30)
    synth.black(inp / "black.mp4", num_frames=30)
    synth.static(inp / "frozen.mp4", num_frames=30)
    synth.text(inp / "slide.mp4", num_frames=30)
    (inp / "carphone.mp4").symlink_to(shared_video("skv_carphone_pristine.mp4"))
    summary = LocalEngine(parse_recipe(data), tmp_path / "run", workers=1, progress=False).run(inp)

    def source(r: dict) -> str:
        return Path(r.get("source_path") or r["path"]).name

    kept = {source(r): r for r in pq.read_table(summary.manifest).to_pylist()}
    rejected = {source(r): r["reject_reason"] for r in pq.read_table(summary.rejected).to_pylist()}
    assert set(kept) == {"box.mp4", "carphone.mp4"}
    assert rejected == {
        "black.mp4": "black_frame_ratio <= 0.5",
        "slide.mp4": "ocr_area_ratio <= 0.1",
        "frozen.mp4": "motion_flow_mean >= 0.0005",
    }
    assert kept["carphone.mp4"]["quality_brisque"] < 30 and kept["box.mp4"]["camera_motion"] == "static"
