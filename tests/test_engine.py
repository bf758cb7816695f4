"""The local engine: sharding, resume, invalidation, kill -9 safety, path safety, row errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import stagekit
from vidcurate.core.errors import ConfigError
from vidcurate.core.recipe import parse_recipe
from vidcurate.engines.local import LocalEngine

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    stagekit.register(monkeypatch)


def make_inputs(root: Path, n: int = 12) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        sub = root / f"g{i % 3}"
        sub.mkdir(exist_ok=True)
        (sub / f"v{i:02d}.mp4").write_bytes(f"video {i}".encode() * (i + 1))
    (root / "g0" / "bad.mp4").write_bytes(b"bad")
    return root


def recipe(**digest: object) -> object:
    return parse_recipe({"stages": [{"test.digest": digest}, {"filter": {"drop_errors": True}}]}, source="t.yaml")


def run(rec: object, inp: Path, out: Path, **kw: object):
    return LocalEngine(rec, out, progress=False, **kw).run(inp)  # type: ignore[arg-type]


def table(out: Path) -> list[dict]:
    return pq.read_table(out / "manifest.parquet").to_pylist()


def test_run_outputs_and_rejects(tmp_path: Path) -> None:
    inp = make_inputs(tmp_path / "in")
    s = run(recipe(fail_on="bad"), inp, tmp_path / "out", workers=1, shard_size=4)
    rows = table(tmp_path / "out")
    assert len(rows) == 12 and all(r["digest"] for r in rows)
    assert [r["path"] for r in rows] == sorted(r["path"] for r in rows)  # ingest order kept
    rej = pq.read_table(tmp_path / "out" / "rejected.parquet").to_pylist()
    assert [(r["error_kind"], r["reject_reason"], r["rejected_by"]) for r in rej] == [
        ("test.digest:bad_row", "error: test.digest:bad_row", "02-filter")
    ]
    assert s.stages[0].errors == {"test.digest:bad_row": 1}
    assert (s.stages[1].rows_in, s.stages[1].rows_out, s.stages[1].rejected) == (13, 12, 1)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["rows_final"] == 12 and summary["rows_rejected"] == 1


def test_pool_matches_in_process_and_setup_once_per_worker(tmp_path: Path) -> None:
    inp = make_inputs(tmp_path / "in")
    log = tmp_path / "setups.log"
    run(recipe(fail_on="bad"), inp, tmp_path / "a", workers=1, shard_size=2)
    run(recipe(fail_on="bad", setup_log=str(log)), inp, tmp_path / "b", workers=2, shard_size=2)
    assert table(tmp_path / "a") == table(tmp_path / "b")
    pids = log.read_text().split()
    assert len(pids) == len(set(pids)) <= 2  # 7 shards, but setup() ran once per worker


def test_resume_and_invalidation(tmp_path: Path) -> None:
    inp = make_inputs(tmp_path / "in")
    out = tmp_path / "out"
    first = run(recipe(), inp, out, workers=1, shard_size=3)
    before = table(out)
    again = run(recipe(), inp, out, workers=1, shard_size=3)
    assert [st.resumed_shards for st in again.stages] == [5, 5]
    assert table(out) == before and first.rows_final == again.rows_final
    # a changed filter redoes only the filter
    r2 = parse_recipe({"stages": [{"test.digest": {}}, {"filter": {"where": "path NOT LIKE '%v0%'"}}]})
    s2 = run(r2, inp, out, workers=1)
    assert [st.resumed_shards for st in s2.stages] == [5, 0]
    assert len(table(out)) == 13 - 10
    # a changed first stage redoes both
    s3 = run(recipe(salt="x"), inp, out, workers=1)
    assert [st.resumed_shards for st in s3.stages] == [0, 0]
    assert table(out)[0]["digest"] != before[0]["digest"]
    # a new input file changes the source: everything is redone
    (inp / "g1" / "new.mp4").write_bytes(b"new")
    s4 = run(recipe(salt="x"), inp, out, workers=1)
    assert s4.source_rows == 14 and [st.resumed_shards for st in s4.stages] == [0, 0]


def test_kill_9_then_resume_equals_clean_run(tmp_path: Path) -> None:
    inp = make_inputs(tmp_path / "in", n=16)
    rfile = tmp_path / "r.yaml"
    rfile.write_text("stages:\n  - test.digest: {sleep_s: 0.15}\n  - filter: {where: \"path NOT LIKE '%v03%'\"}\n")
    cmd = [
        sys.executable,
        "-m",
        "vidcurate.cli",
        "run",
        str(rfile),
        "--input",
        str(inp),
        "--workers",
        "2",
        "--shard-size",
        "1",
        "--no-progress",
    ]
    env = dict(os.environ)
    clean = subprocess.run([*cmd, "--out", str(tmp_path / "clean")], env=env, capture_output=True, text=True)
    assert clean.returncode == 0, clean.stderr
    out = tmp_path / "killed"
    done_at_kill = stagekit.kill_mid_stage([*cmd, "--out", str(out)], env, out / "01-test.digest", 4)
    assert 4 <= done_at_kill < 17, "the kill must land mid-stage"
    assert not (out / "manifest.parquet").exists()
    again = subprocess.run([*cmd, "--out", str(out)], env=env, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert pq.read_table(out / "manifest.parquet").equals(pq.read_table(tmp_path / "clean" / "manifest.parquet"))
    assert pq.read_table(out / "rejected.parquet").equals(pq.read_table(tmp_path / "clean" / "rejected.parquet"))
    summary = json.loads((out / "summary.json").read_text())
    assert summary["stages"][0]["resumed_shards"] >= done_at_kill
    assert not list(out.rglob("*.tmp"))


def test_output_inside_input_is_refused(tmp_path: Path) -> None:
    inp = make_inputs(tmp_path / "in")
    with pytest.raises(ConfigError, match="inside the input folder"):
        run(recipe(), inp, inp / "work")
    with pytest.raises(ConfigError, match="inside the input folder"):
        run(recipe(), inp, inp)
    assert not (inp / "work").exists()


def test_foreign_folder_refused_and_overwrite_is_scoped(tmp_path: Path) -> None:
    inp = make_inputs(tmp_path / "in")
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("precious")
    with pytest.raises(ConfigError, match="not a vidcurate run folder"):
        run(recipe(), inp, foreign)
    assert (foreign / "thesis.tex").read_text() == "precious"
    out = tmp_path / "out"
    run(recipe(), inp, out, workers=1)
    (out / "notes.md").write_text("keep me")
    (out / "01-test.digest" / "my_analysis.csv").write_text("keep me too")
    s = run(recipe(), inp, out, workers=1, overwrite=True)
    assert [st.resumed_shards for st in s.stages] == [0, 0]
    assert (out / "notes.md").read_text() == "keep me"
    assert (out / "01-test.digest" / "my_analysis.csv").read_text() == "keep me too"
    ref = make_inputs(tmp_path / "ref")
    assert sorted((p.name, p.read_bytes()) for p in inp.rglob("*.mp4")) == sorted(
        (p.name, p.read_bytes()) for p in ref.rglob("*.mp4")
    )


def test_missing_input_column_is_reported_before_running(tmp_path: Path) -> None:
    inp = make_inputs(tmp_path / "in")
    rec = parse_recipe({"stages": [{"filter": {"fmin": 3}}, {"test.digest": {}}]}, source="t.yaml")
    with pytest.raises(ConfigError, match=r"stage 1 'filter' needs column.*num_frames"):
        run(rec, inp, tmp_path / "out")


def test_crashing_row_and_dying_worker_do_not_stop_the_run(tmp_path: Path) -> None:
    inp = make_inputs(tmp_path / "in")
    rec = parse_recipe({"stages": [{"test.digest": {"crash_on": "v05", "die_on": "v07"}}]})
    s = run(rec, inp, tmp_path / "out", workers=2, shard_size=2)
    rows = {Path(r["path"]).name: r for r in table(tmp_path / "out")}
    assert len(rows) == 13
    assert rows["v05.mp4"]["error_kind"] == "test.digest:ZeroDivisionError"
    assert "boom" in rows["v05.mp4"]["error"]
    assert rows["v07.mp4"]["error_kind"] == "test.digest:worker_died"
    assert rows["v08.mp4"]["digest"] and rows["v00.mp4"]["digest"]
    assert s.errors_final["test.digest:worker_died"] >= 1


def test_splitter_keeps_order_and_error_rows(tmp_path: Path) -> None:
    inp = make_inputs(tmp_path / "in", n=3)
    rec = parse_recipe({"stages": [{"test.digest": {"fail_on": "bad"}}, {"test.explode": {"n": 2}}]})
    run(rec, inp, tmp_path / "out", workers=1, shard_size=10)
    rows = table(tmp_path / "out")
    names = [(Path(r["path"]).name, r["child"]) for r in rows]
    assert names == [
        ("bad.mp4", None),
        ("v00.mp4", 0),
        ("v00.mp4", 1),
        ("v01.mp4", 0),
        ("v01.mp4", 1),
        ("v02.mp4", 0),
        ("v02.mp4", 1),
    ]


def test_duplicate_ids_in_a_manifest_are_refused(tmp_path: Path) -> None:
    import pyarrow as pa

    m = tmp_path / "m.parquet"
    pq.write_table(pa.table({"id": ["a", "b", "a"], "path": ["/x.mp4", "/y.mp4", "/z.mp4"]}), m)
    with pytest.raises(ConfigError, match="id 'a' appears more than once"):
        run(recipe(), m, tmp_path / "out", workers=1)
    pq.write_table(pa.table({"path": ["/x.mp4", "/x.mp4"]}), m)  # no ids: derived, made unique
    run(parse_recipe({"stages": [{"filter": {"where": "true"}}]}), m, tmp_path / "out2", workers=1)
    ids = [r["id"] for r in table(tmp_path / "out2")]
    assert len(set(ids)) == 2 and ids[1] == ids[0] + "-2"


def test_an_input_refused_half_way_leaves_no_rows_in_the_source_parts(tmp_path: Path) -> None:
    """A repeated id is found after parts were written: they go, so the next run rewrites them."""
    import pyarrow as pa

    from vidcurate.engines.source import shard_input
    from vidcurate.io.runfolder import RunFolder

    def manifest(name: str, ids: list[str], paths: list[str]) -> Path:
        pq.write_table(pa.table({"id": ids, "path": paths}), tmp_path / name)
        return tmp_path / name

    a = manifest("a.parquet", ["a", "b", "c", "d"], ["/x/a.mp4", "/x/b.mp4", "/x/c.mp4", "/x/d.mp4"])
    b = manifest("b.parquet", ["a", "b", "c", "a"], ["/y/1.mp4", "/y/2.mp4", "/x/c.mp4", "/y/4.mp4"])
    folder = RunFolder(tmp_path / "run")
    shard_input(a, folder, workers=1, shard_size=2, stat_media=False)
    with pytest.raises(ConfigError, match="appears more than once"):
        shard_input(b, folder, workers=1, shard_size=2, stat_media=False)
    info = shard_input(a, folder, workers=1, shard_size=2, stat_media=False)
    rows = [r for i in range(info.shards) for r in pq.read_table(folder.source().part(i)).to_pylist()]
    assert [r["path"] for r in rows] == ["/x/a.mp4", "/x/b.mp4", "/x/c.mp4", "/x/d.mp4"]
