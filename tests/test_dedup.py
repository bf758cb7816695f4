"""Deduplication on a benchmark with known answers, both engines, resume, exact hashes, embeddings.

The benchmark (`vidcurate.testing.dedup_corpus`): 25 base clips from the shared real videos and a
synthetic generator, each with a CRF-40 re-encode, a half-resolution copy, a 5 % crop, +10 %
brightness, 1 s trimmed from the start and the longer clip it was cut from; 30 lookalikes from
the same generator with other seeds; mirrored copies of every base.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import SHARED_VIDEOS, shared_video
from vidcurate.core.recipe import parse_recipe
from vidcurate.engines.local import LocalEngine
from vidcurate.io.ffmpeg import ffmpeg_exe
from vidcurate.testing import dedup_corpus

RECIPE = {
    "stages": [
        {"probe": {"decode_check": "none"}},
        {"score": {"scorers": {"phash": {}}}},
        {"dedup.phash": {}},
    ]
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dedup_corpus.Corpus:
    return dedup_corpus.build(tmp_path_factory.mktemp("dedup") / "clips", SHARED_VIDEOS, flips=True)


@pytest.fixture(scope="module")
def run(corpus: dedup_corpus.Corpus, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dedup-run") / "run"
    LocalEngine(parse_recipe(RECIPE), out, workers=2, shard_size=32, progress=False).run(corpus.files[0].parent)
    return out


def everything(run: Path) -> list[dict[str, Any]]:
    tables = [pq.read_table(run / n) for n in ("manifest.parquet", "rejected.parquet") if (run / n).exists()]
    return [r for t in tables for r in t.to_pylist()]


DEDUP_COLUMNS = ("dup_group", "dup_keep", "dup_of", "reject_reason", "rejected_by")


def signed(rows: list[dict[str, Any]]) -> pa.Table:
    """The rows with their signatures, as a fresh input (no dedup or reject columns)."""
    return pa.Table.from_pylist([{k: v for k, v in r.items() if k not in DEDUP_COLUMNS} for r in rows])


def groups(rows: list[dict[str, Any]]) -> dict[str, str]:
    return {r["path"]: r["dup_group"] or r["id"] for r in rows}


def test_recall_and_precision_on_the_benchmark(corpus: dedup_corpus.Corpus, run: Path) -> None:
    rows = everything(run)
    assert len(rows) == len(corpus.files) + len(corpus.flips) >= 200
    truth = dict(corpus.truth) | {f: f"flip-{Path(f).stem}" for f in corpus.flips}  # a mirror is not a copy
    recall, precision, n_true, n_pred = dedup_corpus.pair_scores(truth, groups(rows))
    print(f"\ndedup.phash on {len(rows)} clips: recall {recall:.3f}, precision {precision:.3f} "
          f"({n_true} duplicate pairs, {n_pred} found)")  # fmt: skip
    assert recall >= 0.95 and precision >= 0.99
    kept = pq.read_table(run / "manifest.parquet").to_pylist()
    rejected = pq.read_table(run / "rejected.parquet").to_pylist()
    assert all(r["dup_keep"] for r in kept) and not any(r["dup_keep"] for r in rejected)
    assert {r["reject_reason"] for r in rejected} == {"dedup.phash: the same footage as a kept clip (dup_of)"}
    by_id = {r["id"]: r for r in kept}
    for r in rejected:  # the copy kept is the one with the most pixels, then the longest
        k = by_id[r["dup_of"]]
        assert (k["width"] * k["height"], k["duration_s"]) >= (r["width"] * r["height"], r["duration_s"])
    long_kept = [r for r in kept if r["dup_group"] and Path(r["path"]).name.endswith("_long.mp4")]
    assert len(long_kept) >= 20  # the 8 s clip a base was cut from outlasts every 4 s copy


def test_mirrored_copies_only_with_flip_invariance(corpus: dedup_corpus.Corpus, run: Path, tmp_path: Path) -> None:
    rows = everything(run)
    grouped = groups(rows)
    base_of = {f: next(p for p, g in corpus.truth.items() if g == grp and p.endswith("_base.mp4"))
               for f, grp in corpus.flips.items()}  # fmt: skip
    assert not [f for f, b in base_of.items() if grouped[f] == grouped[b]]  # default: a mirror is kept apart
    pq.write_table(signed(rows), tmp_path / "signed.parquet")
    flip = parse_recipe({"stages": [{"dedup.phash": {"flip_invariant": True}}]})
    LocalEngine(flip, tmp_path / "flip", workers=1, shard_size=64, progress=False).run(tmp_path / "signed.parquet")
    grouped = groups(everything(tmp_path / "flip"))
    joined = [f for f, b in base_of.items() if grouped[f] == grouped[b]]
    assert len(joined) >= 0.95 * len(base_of)


def test_ray_gives_the_local_groups_and_a_rerun_resumes(run: Path, tmp_path: Path, monkeypatch: Any) -> None:
    from vidcurate.engines.ray import RayEngine

    table = signed(everything(run))
    pq.write_table(table, tmp_path / "signed.parquet")
    rec = parse_recipe({"stages": [{"dedup.phash": {"drop": False}}]})
    LocalEngine(rec, tmp_path / "local", workers=2, shard_size=40, progress=False).run(tmp_path / "signed.parquet")
    RayEngine(rec, tmp_path / "ray", workers=2, shard_size=40, progress=False).run(tmp_path / "signed.parquet")
    cols = ["id", "dup_group", "dup_keep", "dup_of"]
    local = pq.read_table(tmp_path / "local" / "manifest.parquet", columns=cols)
    assert local.equals(pq.read_table(tmp_path / "ray" / "manifest.parquet", columns=cols))
    assert local.column("dup_group").null_count < local.num_rows
    again = LocalEngine(rec, tmp_path / "local", workers=2, shard_size=40, progress=False).run(
        tmp_path / "signed.parquet"
    )
    assert again.stages[0].resumed_shards == again.stages[0].shards
    # one shard's input changes: the match is global, so every shard of the barrier stage is redone
    pq.write_table(table.slice(1), tmp_path / "signed.parquet")
    third = LocalEngine(rec, tmp_path / "local", workers=2, shard_size=40, progress=False).run(
        tmp_path / "signed.parquet"
    )
    assert third.stages[0].resumed_shards == 0


def test_report_shows_what_dedup_removed(run: Path) -> None:
    from vidcurate.report.html import write_report

    page = write_report(run).read_text()
    assert '<section id="dedup"><h2>Duplicates</h2>' in page and 'href="#dedup"' in page
    assert "03-dedup.phash" in page and "group size" in page
    sheet = page[page.index('<section id="dedup">') :]
    sheet = sheet[: sheet.index("</section>")]
    assert sheet.count('class="sheet"') == 4 and sheet.count("data:image/jpeg;base64") >= 8


def test_exact_hashes_find_copies_and_remuxes(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    bikes = shared_video("07_skv_bikes.mp4")
    shutil.copy(bikes, src / "a.mp4")
    shutil.copy(bikes, src / "b_same_bytes.mp4")
    ff = ffmpeg_exe()
    subprocess.run([ff, "-v", "error", "-i", str(bikes), "-c", "copy", "-an", str(src / "c_remux.mkv")], check=True)
    subprocess.run([ff, "-v", "error", "-i", str(bikes), "-an", "-crf", "30", str(src / "d_reencoded.mp4")], check=True)
    shutil.copy(shared_video("09_mpy_chaplin.mp4"), src / "e_other.mp4")

    def dedup(on: str) -> dict[str, str | None]:
        rec = parse_recipe(
            {
                "stages": [
                    {"probe": {"decode_check": "none", f"{on}_hash": True}},
                    {"dedup.exact": {"on": on, "drop": False}},
                ]
            }
        )
        LocalEngine(rec, tmp_path / on, workers=1, shard_size=2, progress=False).run(src)
        return {
            Path(r["path"]).name: r["dup_group"] for r in pq.read_table(tmp_path / on / "manifest.parquet").to_pylist()
        }

    content = dedup("content")
    assert content["a.mp4"] == content["b_same_bytes.mp4"] is not None
    assert content["c_remux.mkv"] is None and content["d_reencoded.mp4"] is None and content["e_other.mp4"] is None
    stream = dedup("stream")
    assert stream["a.mp4"] == stream["b_same_bytes.mp4"] == stream["c_remux.mkv"] is not None
    assert stream["d_reencoded.mp4"] is None and stream["e_other.mp4"] is None


def test_semantic_groups_and_the_keep_policy() -> None:
    from vidcurate.stages.dedup.semantic import SemanticConfig, SemanticDedup

    rng = np.random.default_rng(0)
    base = rng.standard_normal((6, 32)).astype(np.float32)
    near = base[0] + 0.01 * rng.standard_normal(32).astype(np.float32)
    rows = [
        {"id": "small", "clip_embedding": base[0].tolist(), "width": 320, "height": 240, "duration_s": 9.0},
        {"id": "big", "clip_embedding": near.tolist(), "width": 1280, "height": 720, "duration_s": 3.0},
        {"id": "big-longer", "clip_embedding": (base[0] * 2).tolist(), "width": 1280, "height": 720, "duration_s": 4.0},
        *({"id": f"other{i}", "clip_embedding": base[i].tolist(), "width": 640, "height": 480} for i in range(1, 6)),
        {"id": "no-vector", "clip_embedding": None, "width": 640, "height": 480},
    ]
    out = SemanticDedup(SemanticConfig(drop=True)).process(pa.Table.from_pylist(rows)).to_pylist()
    got = {r["id"]: (r["dup_group"], r["dup_keep"], r["dup_of"], r.get("_reject")) for r in out}
    assert got["big-longer"] == ("big-longer", True, None, None)  # most pixels, then the longest
    assert got["big"][:3] == ("big-longer", False, "big-longer") and got["small"][2] == "big-longer"
    assert got["big"][3] == "dedup.semantic: near-identical embedding to a kept row (dup_of)"
    assert all(got[f"other{i}"] == (None, True, None, None) for i in range(1, 6))
    assert got["no-vector"] == (None, True, None, None)
    ranked = SemanticDedup(SemanticConfig(drop=False, score_column="aesthetic")).process(
        pa.Table.from_pylist([{**rows[1], "aesthetic": 4.0}, {**rows[1], "id": "twin", "aesthetic": 6.0}])
    )
    assert ranked.column("dup_of").to_pylist() == ["twin", None]  # a tie on size and length: the better score
