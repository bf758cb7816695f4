"""Model-backed scorers through the model registry, with tiny random-initialised checkpoints.

`vidcurate.testing.tiny_models.install` saves a CLIP, a LAION-style aesthetic head and a
Mask2Former into a model cache under the registered names; the scorers find them there exactly as
they find downloaded weights. Their numbers are meaningless (random weights), so the tests check
what does not depend on training: types, shapes, ranges, determinism, batching, the registry's
messages, and geometry (a re-encode embeds next to its original).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import shared_video
from vidcurate.core.errors import ConfigError
from vidcurate.core.recipe import parse_recipe
from vidcurate.engines.local import LocalEngine
from vidcurate.models import store
from vidcurate.testing import tiny_models

VIDEOS = ("07_skv_bikes.mp4", "09_mpy_chaplin.mp4", "15_dec_flipping_a_pancake.mkv")


@pytest.fixture(scope="module")
def tiny_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_models.install(tmp_path_factory.mktemp("models"))


@pytest.fixture
def models(tiny_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("VIDCURATE_MODEL_CACHE", str(tiny_cache))
    yield tiny_cache
    store.release()


def inputs(tmp_path: Path, names: tuple[str, ...] = VIDEOS) -> Path:
    d = tmp_path / "in"
    d.mkdir()
    for n in names:
        (d / n).symlink_to(shared_video(n))
    return d


ALL = {
    "aesthetic": {},
    "clip_match": {"option": ["a person riding a bike", "a cooking pan", "an old film"]},
    "embed": {"float16": True},
    "segment": {"threshold": 0.3, "overlap": 0.5},
    "quality": {"frames": 3, "brisque_frames": 1, "iqa_model": "clip-vit-large-patch14"},
}


def run_score(tmp_path: Path, name: str, scorers: dict[str, Any], src: Path) -> list[dict[str, Any]]:
    recipe = parse_recipe({"stages": [{"probe": {}}, {"score": {"scorers": scorers}}]})
    LocalEngine(recipe, tmp_path / name, workers=1, shard_size=100, progress=False).run(src)
    return pq.read_table(tmp_path / name / "manifest.parquet").to_pylist()


def test_every_model_scorer_in_the_fused_stage_on_real_videos(tmp_path: Path, models: Path) -> None:
    src = inputs(tmp_path)
    rows = run_score(tmp_path, "a", ALL, src)
    assert len(rows) == 3 and not any(r.get("error") for r in rows)
    schema = pq.read_schema(tmp_path / "a" / "manifest.parquet")
    assert schema.field("aesthetic").type == pa.float64() and schema.field("seg_person").type == pa.bool_()
    assert schema.field("clip_embedding_f16").type == pa.list_(pa.float16())
    assert schema.field("seg_top_classes").type == pa.list_(pa.string())
    for r in rows:
        assert r["aesthetic_min"] <= r["aesthetic"] and 0 < r["aesthetic"] < 10
        assert -100 <= r["clip_match_min"] <= r["clip_match"] <= 100
        assert r["clip_match_option"] in ALL["clip_match"]["option"]
        emb = np.asarray(r["clip_embedding_f16"], np.float32)
        assert emb.shape == (16,) and abs(np.linalg.norm(emb) - 1) < 1e-2
        assert 0 <= r["seg_thing_ratio"] <= 1 and r["seg_instances"] >= 0
        assert set(r["seg_top_classes"]) <= set(tiny_models.SEG_LABELS) and isinstance(r["seg_person"], bool)
        assert 0 <= r["quality_clip_iqa"] <= 1 and r["quality_brisque"] > 0
    store.release()  # a second run on freshly loaded models (no memo): the same numbers
    again = run_score(tmp_path, "b", ALL, src)
    for x, y in zip(rows, again, strict=True):
        for col in ("aesthetic", "clip_match", "seg_thing_ratio", "quality_clip_iqa"):
            assert x[col] == pytest.approx(y[col], rel=1e-5), col
        assert x["clip_embedding_f16"] == y["clip_embedding_f16"]


def test_missing_weights_offline_stop_the_run_before_any_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "no-models"
    monkeypatch.setenv("VIDCURATE_MODEL_CACHE", str(empty))
    src = inputs(tmp_path, VIDEOS[:1])
    recipe = parse_recipe({"stages": [{"probe": {}}, {"score": {"scorers": {"aesthetic": {}}}}]})
    with pytest.raises(ConfigError) as e:
        LocalEngine(recipe, tmp_path / "run", workers=1, progress=False).run(src)
    msg = str(e.value)
    assert "\n" not in msg
    assert msg == (
        "scorer 'aesthetic': model 'clip-vit-large-patch14' (openai/clip-vit-large-patch14, 1710 MB) is not on "
        "this machine (offline): run `vidcurate models fetch clip-vit-large-patch14` where there is internet, "
        "or put config.json + model.safetensors|pytorch_model.bin + tokenizer.json|vocab.json from "
        f"https://huggingface.co/openai/clip-vit-large-patch14 into {empty / 'clip-vit-large-patch14'}, "
        "or give its local path in the config instead"
    )
    assert not list((tmp_path / "run").glob("*/part-*.parquet"))  # no shard was probed, let alone scored
    r = subprocess.run(
        [*_cli(), "models", "fetch", "laion-aesthetic-v2"], capture_output=True, text=True,
        env={**__import__("os").environ, "VIDCURATE_MODEL_CACHE": str(empty)},
    )  # fmt: skip
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "laion-aesthetic-v2" in r.stderr


def _cli() -> list[str]:
    import sys

    return [sys.executable, "-m", "vidcurate.cli"]


def test_models_list_says_what_is_where(models: Path) -> None:
    import os

    r = subprocess.run(
        [*_cli(), "models", "list"], capture_output=True, text=True, env={**os.environ, "COLUMNS": "300"}
    )
    assert r.returncode == 0
    lines = {line.split("│")[1].strip(): line for line in r.stdout.splitlines() if line.count("│") >= 5}
    assert (
        "yes" in lines["clip-vit-large-patch14"]
        and str(models / "clip-vit-large-patch14") in lines["clip-vit-large-patch14"]
    )
    assert "package nudenet" in lines["nudenet-320n"] and "yes" in lines["nudenet-320n"]
    assert " no " in lines["clip-vit-base-patch32"] and "vidcurate models fetch clip-vit-base-patch32" in r.stdout


def test_a_model_by_path_and_a_dimension_mismatch(tmp_path: Path, models: Path) -> None:
    from vidcurate.stages.score.aesthetic import AestheticConfig, AestheticScorer

    clip8 = tiny_models.tiny_clip(tmp_path / "clip8", dim=8)
    s = AestheticScorer(AestheticConfig(model=str(clip8)))
    s.check()
    with pytest.raises(ConfigError, match=r"takes 16-d embeddings but .*clip8 gives 8-d"):
        s.setup()
    with pytest.raises(ConfigError, match=r"model path /nowhere/clip does not exist"):
        AestheticScorer(AestheticConfig(model="/nowhere/clip")).check()


def _reencode(src: Path, dest: Path, crf: int) -> Path:
    import imageio_ffmpeg

    ff = imageio_ffmpeg.get_ffmpeg_exe()
    subprocess.run([ff, "-v", "error", "-y", "-i", str(src), "-t", "4", "-an", "-c:v", "libx264", "-crf", str(crf),
                    str(dest)], check=True, timeout=120)  # fmt: skip
    return dest


def test_reencodes_embed_closer_than_different_videos(tmp_path: Path, models: Path) -> None:
    d = tmp_path / "in"
    d.mkdir()
    bikes = shared_video("07_skv_bikes.mp4")
    _reencode(bikes, d / "bikes_a.mp4", 18)
    _reencode(bikes, d / "bikes_b.mp4", 32)
    _reencode(shared_video("09_mpy_chaplin.mp4"), d / "chaplin.mp4", 18)
    rows = {Path(r["path"]).stem: np.asarray(r["clip_embedding"]) for r in run_score(tmp_path, "e", {"embed": {}}, d)}
    same = float(rows["bikes_a"] @ rows["bikes_b"])
    other = max(float(rows["bikes_a"] @ rows["chaplin"]), float(rows["bikes_b"] @ rows["chaplin"]))
    assert same > other and same > 0.99


def test_clip_match_reads_a_caption_column_and_checks_it_exists(tmp_path: Path, models: Path) -> None:
    src = inputs(tmp_path, VIDEOS[:2])
    manifest = tmp_path / "m.parquet"
    pq.write_table(
        pa.table({"path": [str(p) for p in sorted(src.iterdir())], "caption": ["a man rides a bike", None]}), manifest
    )
    recipe = parse_recipe({"stages": [{"score": {"scorers": {"clip_match": {"text_column": "caption"}}}}]})
    LocalEngine(recipe, tmp_path / "run", workers=1, progress=False).run(manifest)
    rows = {Path(r["path"]).name: r for r in pq.read_table(tmp_path / "run" / "manifest.parquet").to_pylist()}
    assert (
        -100 <= rows["07_skv_bikes.mp4"]["clip_match"] <= 100 and rows["07_skv_bikes.mp4"]["clip_match_option"] is None
    )
    assert rows["09_mpy_chaplin.mp4"]["clip_match"] is None  # no caption: nothing to compare with
    bad = parse_recipe({"stages": [{"score": {"scorers": {"clip_match": {"text_column": "title"}}}}]})
    with pytest.raises(ConfigError, match=r"needs column\(s\) title"):
        LocalEngine(bad, tmp_path / "run2", workers=1, progress=False).run(manifest)
    with pytest.raises(ConfigError, match=r"text_column .* or option"):
        parse_recipe({"stages": [{"score": {"scorers": {"clip_match": {}}}}]})


def test_batches_span_clips_and_give_the_same_numbers(tmp_path: Path, models: Path, monkeypatch: Any) -> None:
    from vidcurate.models import clip as clip_mod

    sizes: list[int] = []
    real = clip_mod.ClipBackbone.images

    def counting(self: Any, frames: list[Any], batch_size: int) -> Any:
        sizes.append(len(frames))
        return real(self, frames, batch_size)

    monkeypatch.setattr(clip_mod.ClipBackbone, "images", counting)
    src = inputs(tmp_path)
    batched = run_score(tmp_path, "batched", {"aesthetic": {}}, src)
    assert sizes == [9]  # three clips x three frames in one call
    from vidcurate.stages.score import runner

    monkeypatch.setattr(runner, "GROUP_ROWS", 1)
    store.release()  # fresh model: nothing memoised from the batched run
    sizes.clear()
    single = run_score(tmp_path, "single", {"aesthetic": {}}, src)
    assert sizes == [3, 3, 3]
    for a, b in zip(batched, single, strict=True):
        assert a["aesthetic"] == pytest.approx(b["aesthetic"], rel=1e-5)


def test_segment_threshold_and_things(tmp_path: Path, models: Path) -> None:
    from vidcurate.io.decode import sample
    from vidcurate.stages.score.segment import SegmentConfig, SegmentScorer

    frames = None
    for cfg, check in (
        ({"threshold": 1.0}, lambda r: r == {"seg_thing_ratio": 0.0, "seg_instances": 0, "seg_top_classes": [],
                                             "seg_person": False}),
        ({"threshold": 0.0, "overlap": 0.0, "thing_classes": []}, lambda r: r["seg_thing_ratio"] == 0.0
         and r["seg_instances"] == 0 and len(r["seg_top_classes"]) >= 1),
    ):  # fmt: skip
        s = SegmentScorer(SegmentConfig(**cfg))
        s.check()
        frames = frames or sample(shared_video(VIDEOS[0]), {"s": s.spec})["s"]
        assert check(s.score(frames)), cfg


def test_json_of_the_registry_entry_is_a_model_spec() -> None:
    from vidcurate.core import registry
    from vidcurate.models.spec import ModelSpec

    for name in registry.models.names():
        spec = registry.models.get(name)
        assert isinstance(spec, ModelSpec) and spec.name == name and (spec.repo or spec.package)
    assert json.dumps(store.spec_of("google/siglip-so400m-patch14-384").repo) == '"google/siglip-so400m-patch14-384"'


def test_opensora_recipe_end_to_end_with_tiny_models_and_a_fake_vlm(tmp_path: Path, models: Path) -> None:
    """The shipped recipe, run as shipped except the VLM endpoint and thresholds random weights can pass."""
    import csv

    import yaml

    from vidcurate.core.recipe import resolve_recipe
    from vidcurate.testing.fake_server import FakeServer

    data = yaml.safe_load(resolve_recipe("opensora").read_text())
    where = [s["filter"].get("where") for s in data["stages"] if "filter" in s]
    assert where[1:] == ["match_option >= 20", "aesthetic >= 4.5", "clip_match >= 20"]  # the seed's thresholds
    lowered = {"match_option >= 20": "match_option >= -100", "aesthetic >= 4.5": "aesthetic >= 0",
               "clip_match >= 20": "clip_match >= -100"}  # fmt: skip
    with FakeServer() as srv:
        for s in data["stages"]:
            if "filter" in s and s["filter"].get("where") in lowered:
                s["filter"]["where"] = lowered[s["filter"]["where"]]
            if "caption" in s:
                s["caption"] |= {"base_url": srv.url, "model": "fake-vlm", "num_frames": 2, "max_side": 160}
            if "cut" in s:
                s["cut"]["preset"] = "ultrafast"
        recipe = parse_recipe(data)
        LocalEngine(recipe, tmp_path / "run", workers=1, progress=False).run(inputs(tmp_path, VIDEOS[:1]))
    out = tmp_path / "run" / "export" / "opensora"
    (csv_file,) = out.glob("*.csv")
    with open(csv_file, newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows and list(rows[0])[:8] == ["path", "text", "num_frames", "height", "width", "aspect_ratio", "fps",
                                          "resolution"]  # fmt: skip
    assert list(rows[0])[-2:] == ["aes", "match"]
    for r in rows:
        assert Path(r["path"]).is_file() and r["text"] and 0 < float(r["aes"]) < 10 and -100 <= float(r["match"]) <= 100
