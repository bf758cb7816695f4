"""Everyday habits of the command line: usage mistakes, --version, JSON lines, piped tables, SQL found
at load, --dry-run, `show`, a packaged recipe from any folder, the report's funnel, the viewer's columns."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from vidcurate import __version__
from vidcurate.core.errors import ConfigError
from vidcurate.core.recipe import parse_recipe
from vidcurate.testing import synth

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "videos"


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vidcurate.cli", *args], capture_output=True, text=True, cwd=cwd)


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("habits") / "videos"
    synth.scenes(root / "a.mp4", cuts=(24, 48), num_frames=72)
    synth.static(root / "b.mp4", num_frames=30)
    return root


@pytest.mark.parametrize(
    ("args", "says"),
    [
        ((), "missing command"),
        (("run", "--bogus"), "No such option: --bogus"),
        (("run",), "Missing"),
        (("export", "llava", "m.parquet", "-o", "x", "--shard-size", "abc"), "--shard-size"),
    ],
)
def test_usage_mistakes_are_one_line_and_the_usage(args: tuple[str, ...], says: str) -> None:
    r = cli(*args)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr and "╭" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert lines[0].startswith("error:") and says in lines[0]
    assert any(line.startswith("Usage: ") for line in lines[1:])


def test_version() -> None:
    r = cli("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"vidcurate {__version__}"


def test_probe_prints_json_lines(tmp_path: Path, videos: Path) -> None:
    r = cli("probe", str(videos / "a.mp4"), str(tmp_path / "missing.mp4"))
    lines = r.stdout.strip().splitlines()
    assert r.returncode == 0 and len(lines) == 2
    first, second = (json.loads(x) for x in lines)
    assert first["num_frames"] == 72 and second["error_kind"] == "not_found"


def test_a_sql_error_in_any_filter_is_found_when_the_recipe_loads(videos: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a valid SQL predicate"):
        parse_recipe({"stages": [{"probe": {}}, {"filter": {"where": "duration_s >"}}]})
    # a column no stage provides: refused before any stage runs (the probe has not run either)
    rec = tmp_path / "r.yaml"
    rec.write_text("stages:\n  - probe: {}\n  - filter: {where: 'no_such_column > 1'}\n")
    r = cli("run", str(rec), "-i", str(videos), "-o", str(tmp_path / "out"), "--no-progress")
    assert r.returncode == 2 and "no_such_column" in r.stderr and "stage 2 'filter'" in r.stderr
    assert not list((tmp_path / "out").rglob("01-probe/part-*"))


def test_the_summary_table_is_whole_when_piped(videos: Path, tmp_path: Path) -> None:
    rec = tmp_path / "r.yaml"
    rec.write_text("stages:\n  - probe: {}\n  - filter: {where: 'duration_s >= 0.5 AND fps > 1 AND width > 16'}\n")
    r = cli("run", str(rec), "-i", str(videos), "-o", str(tmp_path / "out"), "--no-progress")
    assert r.returncode == 0, r.stderr
    assert "…" not in r.stdout and "resumed" in r.stdout  # no column cut at 80 characters


def test_dry_run_says_what_would_run_and_why_without_running(videos: Path, tmp_path: Path) -> None:
    rec = tmp_path / "r.yaml"
    rec.write_text("stages:\n  - probe: {}\n  - filter: {dmin: 0.5}\n")
    out = tmp_path / "out"
    r = cli("run", str(rec), "-i", str(videos), "-o", str(out), "--dry-run", "--shard-size", "1")
    assert r.returncode == 0, r.stderr
    assert "not done yet (2)" in r.stdout and not out.exists()
    assert cli("run", str(rec), "-i", str(videos), "-o", str(out), "--shard-size", "1", "--no-progress").returncode == 0
    rec.write_text("stages:\n  - probe: {}\n  - filter: {dmin: 1.5}\n")
    (videos / "b.mp4").touch()  # a newer mtime: b.mp4's shard has new input
    r = cli("run", str(rec), "-i", str(videos), "-o", str(out), "--dry-run")
    table = r.stdout
    probe_line = next(x for x in table.splitlines() if "01-probe" in x)
    filter_line = next(x for x in table.splitlines() if "02-filter" in x)
    assert "input changed (1)" in probe_line and " 1 " in probe_line
    assert "config changed (2)" in filter_line
    assert pq.read_table(out / "manifest.parquet").num_rows == 2  # nothing ran


def test_show_prints_schema_rows_and_stats(tmp_path: Path) -> None:
    m = tmp_path / "m.parquet"
    pq.write_table(pa.table({"id": ["a", "b", "c"], "path": ["x", "y", "z"], "duration_s": [1.0, 2.0, None]}), m)
    r = cli("show", str(m), "--rows", "2")
    assert r.returncode == 0, r.stderr
    assert "3 rows, 3 columns" in r.stdout and "duration_s" in r.stdout and "33.3%" in r.stdout
    assert '{"id": "a", "path": "x", "duration_s": 1.0}' in r.stdout and '"id": "c"' not in r.stdout


def test_a_packaged_recipe_runs_from_any_folder(videos: Path, tmp_path: Path) -> None:
    anywhere = tmp_path / "anywhere"
    anywhere.mkdir()
    r = cli("run", "--dry-run", "default", "-i", str(videos), "-o", str(tmp_path / "out"), cwd=anywhere)
    assert r.returncode == 0, r.stderr
    assert "01-probe" in r.stdout and "09-cut" in r.stdout


def test_report_funnel_says_what_its_percentages_are_of(videos: Path, tmp_path: Path) -> None:
    rec = tmp_path / "r.yaml"
    rec.write_text("stages:\n  - probe: {}\n  - split: {min_scene_s: 0.3}\n  - filter: {dmin: 0.9}\n")
    out = tmp_path / "out"
    assert cli("run", str(rec), "-i", str(videos), "-o", str(out), "--no-progress").returncode == 0
    page = (out / "report.html").read_text()
    kept = pq.read_metadata(out / "manifest.parquet").num_rows
    assert kept > 2  # more clips than input videos
    assert "of the 4 clips the split made" in page and "of input" not in page


def test_viewer_table_puts_identity_span_and_filtered_scores_first(videos: Path, tmp_path: Path) -> None:
    import socket
    import threading
    import time

    import uvicorn
    from playwright.sync_api import sync_playwright

    from test_viewer import CHROMIUM, CHROMIUM_ARGS
    from vidcurate.report.app import create_app

    rec = tmp_path / "r.yaml"
    rec.write_text(
        "stages:\n  - probe: {}\n  - split: {}\n  - score: {scorers: [motion, quality]}\n"
        "  - filter: {where: 'brightness_mean > 1 AND motion_diff_mean >= 0'}\n"
    )
    out = tmp_path / "out"
    assert cli("run", str(rec), "-i", str(videos), "-o", str(out), "--no-progress").returncode == 0
    app = create_app(out)
    assert TestClient(app, base_url="http://127.0.0.1").get("/api/meta").json()["filtered"] == [
        "brightness_mean",
        "motion_diff_mean",
    ]
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    srv = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    th = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    th.start()
    while not srv.started:
        time.sleep(0.05)
    try:
        with sync_playwright() as pw:
            b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = b.new_page()
            page.goto(f"http://127.0.0.1:{sock.getsockname()[1]}/?mode=table")
            page.wait_for_selector("table tbody tr", timeout=15000)
            heads = page.eval_on_selector_all("thead th", "els => els.map(e => e.textContent)")
            first = page.eval_on_selector_all("tbody tr:first-child td", "els => els.map(e => e.textContent)")
            b.close()
    finally:
        srv.should_exit = True
        th.join(timeout=10)
    assert heads[1:6] == ["_status", "name", "span", "brightness_mean", "motion_diff_mean"]
    assert first[2] in ("a.mp4", "b.mp4") and "s" in first[3]  # a file name and a span, not a hash
