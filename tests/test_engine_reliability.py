"""The engine's reliability promises, each shown on a real run (most through the CLI, as users run it).

The lock guards --overwrite; no process outlives a SIGKILLed run; a dead worker costs one row and no
parallelism; an environment fault (file-size limit, out of memory, a signal-killed ffmpeg) stops the
run without committing the shard, and a rerun gives the clean run's manifest; a replaced input file
is redone alone; clip names never collide; temp files and unreferenced clips are cleaned up, foreign
files never; parts are fsynced before they are renamed into place; shards flow through the stages.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import stagekit
from vidcurate.core.errors import ConfigError
from vidcurate.core.recipe import parse_recipe
from vidcurate.engines.local import LocalEngine
from vidcurate.testing import synth


@pytest.fixture(autouse=True)
def _plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    stagekit.register(monkeypatch)


def make_inputs(root: Path, n: int = 12) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (root / f"v{i:02d}.mp4").write_bytes(f"video {i}".encode() * (i + 1))
    return root


def cli(args: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vidcurate.cli", *args], capture_output=True, text=True, **kw)


def run_cmd(recipe: Path, inp: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "vidcurate.cli", "run", str(recipe), "--input", str(inp), "--out", str(out),
            "--no-progress", *extra]  # fmt: skip


def recipe_file(tmp: Path, text: str, name: str = "r.yaml") -> Path:
    p = tmp / name
    p.write_text(text)
    return p


def same_outputs(a: Path, b: Path) -> None:
    assert pq.read_table(a / "manifest.parquet").equals(pq.read_table(b / "manifest.parquet"))
    ra, rb = a / "rejected.parquet", b / "rejected.parquet"
    assert pq.read_table(ra).equals(pq.read_table(rb))


def wait_for(cond: Any, timeout: float = 60.0) -> None:
    deadline = time.time() + timeout
    while not cond():
        assert time.time() < deadline, "timed out waiting"
        time.sleep(0.05)


# --- the lock -------------------------------------------------------------------------------------


def test_overwrite_of_a_locked_folder_is_refused_and_deletes_nothing(tmp_path: Path) -> None:
    inp = make_inputs(tmp_path / "in")
    r = recipe_file(tmp_path, "stages:\n  - test.digest: {sleep_s: 0.4}\n")
    out = tmp_path / "out"
    busy = subprocess.Popen(run_cmd(r, inp, out, "--workers", "1", "--shard-size", "1"))
    try:
        wait_for(lambda: len(list((out / "01-test.digest").glob("part-*.parquet"))) >= 2)
        before = sorted(p.relative_to(out) for p in out.rglob("part-*.parquet"))
        rec = parse_recipe({"stages": [{"test.digest": {"sleep_s": 0.4}}]})
        with pytest.raises(ConfigError, match="another vidcurate run is using"):
            LocalEngine(rec, out, workers=1, shard_size=1, overwrite=True, progress=False).run(inp)
        after = sorted(p.relative_to(out) for p in out.rglob("part-*.parquet"))
        assert set(before) <= set(after)  # nothing the running run wrote was removed
    finally:
        assert busy.wait(timeout=120) == 0
    assert pq.read_metadata(out / "manifest.parquet").num_rows == 12


# --- no process outlives the run ------------------------------------------------------------------


def test_sigkill_of_the_main_process_leaves_no_process_behind(tmp_path: Path) -> None:
    inp = make_inputs(tmp_path / "in", n=4)
    children = tmp_path / "children.log"
    r = recipe_file(tmp_path, f"stages:\n  - test.digest: {{child_s: 60, child_log: '{children}'}}\n")
    main = subprocess.Popen(run_cmd(r, inp, tmp_path / "out", "--workers", "2", "--shard-size", "1"))
    try:
        wait_for(lambda: children.exists() and len(children.read_text().split()) >= 2)
        workers = [p.pid for p in psutil.Process(main.pid).children(recursive=True)]
        sleepers = [int(x) for x in children.read_text().split()]
        assert len(workers) >= 2 and set(sleepers) <= set(workers)
        os.kill(main.pid, signal.SIGKILL)  # only the main process: no handler, no cleanup code runs
        main.wait(timeout=10)

        def gone() -> bool:
            alive = [p for p in workers if psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"]
            return not alive

        wait_for(gone, timeout=15)
    finally:
        for pid in [main.pid, *([] if not children.exists() else map(int, children.read_text().split()))]:
            if psutil.pid_exists(pid):
                os.kill(pid, signal.SIGKILL)


# --- a dying worker -------------------------------------------------------------------------------


def test_a_dead_worker_costs_one_row_and_no_parallelism(tmp_path: Path) -> None:
    inp = make_inputs(tmp_path / "in", n=12)
    trace = tmp_path / "trace.log"
    rec = parse_recipe({"stages": [{"test.digest": {"die_on": "v01", "sleep_s": 0.25, "trace_log": str(trace)}}]})
    s = LocalEngine(rec, tmp_path / "out", workers=2, shard_size=2, progress=False).run(inp)
    rows = {Path(r["path"]).name: r for r in pq.read_table(tmp_path / "out" / "manifest.parquet").to_pylist()}
    assert len(rows) == 12
    assert rows["v01.mp4"]["error_kind"] == "test.digest:worker_died"
    assert rows["v00.mp4"]["digest"] and rows["v00.mp4"]["error"] is None  # its shard-mate is redone alone
    assert all(r["digest"] for name, r in rows.items() if name != "v01.mp4")
    assert s.stages[0].errors == {"test.digest:worker_died": 1}
    # after the death (v01 is in the first shard) the later shards still ran two at a time
    spans = [line.split() for line in trace.read_text().splitlines()]
    later = sorted((float(a), float(b), pid) for pid, a, b, _, name in spans if name >= "v04")
    overlapping = any(x[2] != y[2] and x[0] < y[1] and y[0] < x[1] for i, x in enumerate(later) for y in later[i + 1 :])
    assert overlapping, "after a worker died the remaining shards ran one at a time"


# --- environment faults ---------------------------------------------------------------------------


def _limit_file_size(limit: int) -> Any:
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_file_size_limit_stops_the_run_and_a_rerun_equals_a_clean_run(tmp_path: Path) -> None:
    inp = make_inputs(tmp_path / "in", n=6)
    r = recipe_file(tmp_path, "stages:\n  - test.digest: {write_bytes: 300000}\n  - filter: {drop_errors: true}\n")
    clean = subprocess.run(run_cmd(r, inp, tmp_path / "clean", "--workers", "1"), capture_output=True, text=True)
    assert clean.returncode == 0, clean.stderr
    out = tmp_path / "out"
    limited = subprocess.run(
        run_cmd(r, inp, out, "--workers", "1"), capture_output=True, text=True, preexec_fn=_limit_file_size(200_000)
    )
    assert limited.returncode == 2
    assert "File too large" in limited.stderr and len(limited.stderr.strip().splitlines()) == 1
    assert not (out / "manifest.parquet").exists() and not list((out / "01-test.digest").glob("part-*"))
    again = subprocess.run(run_cmd(r, inp, out, "--workers", "1"), capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    same_outputs(out, tmp_path / "clean")
    assert not any(r.get("error") for r in pq.read_table(out / "manifest.parquet").to_pylist())


def test_memory_error_stops_the_run_and_a_rerun_redoes_the_shard(tmp_path: Path) -> None:
    inp = make_inputs(tmp_path / "in", n=6)
    flag = tmp_path / "no-memory"
    r = recipe_file(tmp_path, f"stages:\n  - test.digest: {{memory_error_if: '{flag}'}}\n")
    clean = subprocess.run(run_cmd(r, inp, tmp_path / "clean", "--workers", "2"), capture_output=True, text=True)
    assert clean.returncode == 0, clean.stderr
    flag.write_text("")
    out = tmp_path / "out"
    failed = subprocess.run(run_cmd(r, inp, out, "--workers", "2"), capture_output=True, text=True)
    assert failed.returncode == 2 and "out of memory" in failed.stderr
    assert not (out / "manifest.parquet").exists()
    flag.unlink()
    again = subprocess.run(run_cmd(r, inp, out, "--workers", "2"), capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    same_outputs(out, tmp_path / "clean")


def test_signal_killed_ffmpeg_is_a_fault_not_a_row_error(tmp_path: Path) -> None:
    vids = tmp_path / "in"
    synth.noise(vids / "n.mp4", num_frames=12)  # lossless noise: ~200 KB a frame
    r = recipe_file(tmp_path, "stages:\n  - probe: {}\n  - cut: {crf: 0}\n")
    clean = subprocess.run(run_cmd(r, vids, tmp_path / "clean", "--workers", "1"), capture_output=True, text=True)
    assert clean.returncode == 0, clean.stderr
    out = tmp_path / "out"
    limited = subprocess.run(
        run_cmd(r, vids, out, "--workers", "1"), capture_output=True, text=True, preexec_fn=_limit_file_size(100_000)
    )
    assert limited.returncode == 2 and "ffmpeg was killed by SIGXFSZ" in limited.stderr, limited.stderr
    assert not list((out / "02-cut").glob("part-*"))  # the shard was not committed as row errors
    again = subprocess.run(run_cmd(r, vids, out, "--workers", "1"), capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    rows = pq.read_table(out / "manifest.parquet").to_pylist()
    assert len(rows) == 1 and not any(r.get("error") for r in rows)
    clean_rows = pq.read_table(tmp_path / "clean" / "manifest.parquet").to_pylist()
    assert [r["num_frames"] for r in rows] == [r["num_frames"] for r in clean_rows] == [12]


# --- inputs that change ---------------------------------------------------------------------------


def test_a_replaced_input_file_is_reprocessed_alone(tmp_path: Path) -> None:
    inp = make_inputs(tmp_path / "in", n=8)
    rec = parse_recipe({"stages": [{"test.digest": {}}]})
    out = tmp_path / "out"
    LocalEngine(rec, out, workers=1, shard_size=2, progress=False).run(inp)
    (inp / "v05.mp4").write_bytes(b"repaired bytes")  # same name, new content (size and mtime change)
    s = LocalEngine(rec, out, workers=1, progress=False).run(inp)
    assert s.stages[0].resumed_shards == 3  # the other three shards resume
    rows = {Path(r["path"]).name: r["digest"] for r in pq.read_table(out / "manifest.parquet").to_pylist()}
    import hashlib

    assert rows["v05.mp4"] == hashlib.sha1(b"repaired bytes").hexdigest()


# --- clip files -----------------------------------------------------------------------------------


def test_colliding_ids_give_three_clips(tmp_path: Path) -> None:
    vids = [synth.static(tmp_path / "v" / f"{i}.mp4", num_frames=n, seed=i) for i, n in enumerate((24, 30, 36))]
    m = tmp_path / "m.parquet"
    pq.write_table(pa.table({"id": ["x y", "x_y", "x/y"], "path": [str(v.path) for v in vids]}), m)
    rec = parse_recipe({"stages": [{"probe": {}}, {"cut": {}}]})
    LocalEngine(rec, tmp_path / "out", workers=1, progress=False).run(m)
    rows = pq.read_table(tmp_path / "out" / "manifest.parquet").to_pylist()
    paths = [r["path"] for r in rows]
    assert len(set(paths)) == 3 and all(Path(p).is_file() for p in paths)
    assert [r["num_frames"] for r in rows] == [24, 30, 36]  # each clip is its own source's


def test_temp_files_and_unreferenced_clips_are_removed_foreign_files_never(tmp_path: Path) -> None:
    vids = tmp_path / "in"
    for i, n in enumerate((24, 48, 72)):
        synth.static(vids / f"s{i}.mp4", num_frames=n)
    out = tmp_path / "out"

    def rec(dmin: float) -> Any:
        return parse_recipe({"stages": [{"probe": {}}, {"filter": {"dmin": dmin}}, {"cut": {}}]})

    LocalEngine(rec(0.5), out, workers=1, progress=False).run(vids)
    clips = out / "clips"
    first = sorted(p.name for p in clips.glob("*.mp4"))
    assert len(first) == 3
    killed = clips / ".abc.mp4.vctmp-x1y2z3.mp4"  # what a killed ffmpeg writer leaves
    killed.write_bytes(b"half a clip")
    (clips / "mine.mp4").write_bytes(b"a user's file")
    (clips / ".notes.mp4").write_bytes(b"a user's hidden file")
    LocalEngine(rec(0.5), out, workers=1, progress=False).run(vids)  # resume
    assert not killed.exists()
    LocalEngine(rec(2.5), out, workers=1, progress=False).run(vids)  # a stricter threshold: 1 clip passes
    kept = pq.read_table(out / "manifest.parquet").to_pylist()
    assert len(kept) == 1
    assert {p.name for p in clips.iterdir()} == {Path(kept[0]["path"]).name, "mine.mp4", ".notes.mp4"}
    assert (clips / "mine.mp4").read_bytes() == b"a user's file"
    assert (clips / ".notes.mp4").read_bytes() == b"a user's hidden file"


# --- durability -----------------------------------------------------------------------------------


def test_parts_are_fsynced_before_the_rename(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from vidcurate.engines.shard import write_part
    from vidcurate.io import fs

    events: list[tuple[str, str]] = []
    real_fsync, real_replace = fs.fsync_path, os.replace

    def fsync(path: Any, *, directory: bool = False) -> None:
        events.append(("fsync-dir" if directory else "fsync", str(path)))
        real_fsync(path, directory=directory)

    def replace(a: Any, b: Any) -> None:
        events.append(("rename", str(a)))
        real_replace(a, b)

    monkeypatch.setattr(fs, "fsync_path", fsync)
    monkeypatch.setattr(fs.os, "replace", replace)
    dest = tmp_path / "s" / "part-00000.parquet"
    write_part(pa.table({"id": ["a"], "path": ["p"]}), dest)
    kinds = [k for k, _ in events]
    assert kinds == ["fsync", "rename", "fsync-dir"]
    assert events[0][1] == events[1][1] and events[2][1] == str(dest.parent)


# --- scheduling -----------------------------------------------------------------------------------


def test_shards_flow_to_the_next_stage_before_the_first_stage_ends(tmp_path: Path) -> None:
    inp = make_inputs(tmp_path / "in", n=8)
    trace = tmp_path / "trace.log"
    rec = parse_recipe(
        {
            "stages": [
                {"test.digest": {"sleep_s": 0.2, "trace_log": str(trace)}},
                {"test.digest": {"salt": "b", "trace_log": str(trace)}},
                {"test.barrier": {"trace_log": str(trace)}},
            ]
        }
    )
    LocalEngine(rec, tmp_path / "out", workers=2, shard_size=1, progress=False).run(inp)
    spans = [line.split() for line in trace.read_text().splitlines()]
    by_stage: dict[str, list[tuple[float, float]]] = {}
    for _, a, b, stage, _ in spans:
        by_stage.setdefault(stage, []).append((float(a), float(b)))
    first_end = max(b for _, b in by_stage["01-test.digest"])
    assert min(a for a, _ in by_stage["02-test.digest"]) < first_end  # pipelined, not stage by stage
    second_end = max(b for _, b in by_stage["02-test.digest"])
    assert min(a for a, _ in by_stage["03-test.barrier"]) >= second_end  # the barrier waited for every shard
    rows = pq.read_table(tmp_path / "out" / "manifest.parquet").to_pylist()
    assert len(rows) == 8 and all(r["digest2"] for r in rows)
