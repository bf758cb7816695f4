"""The command line: the three verbs of the quick start, and one-line errors with exit code 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from vidcurate.testing import synth

REPO = Path(__file__).resolve().parents[1]


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vidcurate.cli", *args], capture_output=True, text=True, cwd=cwd)


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli") / "videos"
    synth.static(root / "a.mp4", num_frames=24)
    synth.static(root / "sub" / "b.mp4", num_frames=60, seed=1)  # other content: not a duplicate of a.mp4
    (root / "sub" / "broken.mp4").write_bytes(b"")
    return root


def test_quick_start(videos: Path, tmp_path: Path) -> None:
    r = cli("ingest", str(videos), "-o", str(tmp_path / "m.parquet"))
    assert r.returncode == 0, r.stderr
    assert "3 media files" in r.stdout
    r = cli(
        "run",
        str(REPO / "recipes" / "default.yaml"),
        "--input",
        str(videos),
        "--out",
        str(tmp_path / "work"),
        "--workers",
        "2",
        "--no-progress",
    )
    assert r.returncode == 0, r.stderr
    assert "01-probe" in r.stdout and "probe:empty" in r.stdout
    m = tmp_path / "work" / "manifest.parquet"
    assert pq.read_metadata(m).num_rows == 2
    r = cli("filter", str(m), "--where", "duration_s BETWEEN 1.5 AND 120", "-o", str(tmp_path / "kept.parquet"))
    assert r.returncode == 0, r.stderr
    kept = pq.read_table(tmp_path / "kept.parquet").column("source_path").to_pylist()  # `path` is the clip
    assert [Path(p).name for p in kept] == ["b.mp4"]
    rej = pq.read_table(tmp_path / "rejected.parquet").to_pylist()
    assert [(Path(x["source_path"]).name, x["reject_reason"]) for x in rej] == [
        ("a.mp4", "duration_s BETWEEN 1.5 AND 120")
    ]


def test_probe_command(videos: Path) -> None:
    r = cli("probe", str(videos / "a.mp4"), str(videos / "sub" / "broken.mp4"))
    assert r.returncode == 0
    assert '"num_frames": 24' in r.stdout and '"error_kind": "empty"' in r.stdout


@pytest.mark.parametrize(
    ("args", "expect"),
    [
        (["filter", "m.parquet", "-o", "k.parquet"], "give --where or at least one condition"),
        (["filter", "missing.parquet", "--fmin", "3", "-o", "k.parquet"], "does not exist"),
        (["run", "nope.yaml", "--input", ".", "--out", "w"], "cannot read recipe"),
    ],
)
def test_one_line_errors(tmp_path: Path, args: list[str], expect: str) -> None:
    r = cli(*args, cwd=tmp_path)
    assert r.returncode == 2
    assert expect in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_bad_recipe_is_one_line(tmp_path: Path, videos: Path) -> None:
    (tmp_path / "r.yaml").write_text("stages:\n  - probe: {decode_chek: ends}\n")
    r = cli("run", str(tmp_path / "r.yaml"), "--input", str(videos), "--out", str(tmp_path / "w"))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "stage 1 'probe': unknown key 'decode_chek' (allowed: decode_check" in r.stderr.replace("\n", "")
    (tmp_path / "w2").mkdir()
    r = cli("filter", str(tmp_path / "r.yaml"), "--where", "x > 1", "-o", str(tmp_path / "k.parquet"))
    assert r.returncode == 2 and "unknown manifest format" in r.stderr


def test_sql_error_names_columns(tmp_path: Path, videos: Path) -> None:
    cli("ingest", str(videos), "-o", str(tmp_path / "m.parquet"))
    r = cli("filter", str(tmp_path / "m.parquet"), "--where", "motion > 1", "-o", str(tmp_path / "k.parquet"))
    assert r.returncode == 2 and "motion" in r.stderr and "columns available: id, path" in r.stderr
