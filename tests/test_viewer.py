"""The viewer: a real uvicorn server on a free loopback port, driven by headless Chromium and raw HTTP.

The run folder holds synthetic clips (known content) and a manifest with a motion score computed from
their frames, captions, QA turns, a span that starts mid-file, a rejected row and a broken file.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import uvicorn
from playwright.sync_api import Browser, sync_playwright

from vidcurate.core import schema
from vidcurate.core.frames import FrameSpec
from vidcurate.io import decode
from vidcurate.io import manifest as mio
from vidcurate.report.app import create_app
from vidcurate.testing import synth

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
FILTER = "motion_flow_mean > 0.01"


def motion(path: Path, start: float | None = None, end: float | None = None) -> float:
    """Mean absolute difference of consecutive luma frames (8 fps, 64 px), in [0, 1]."""
    f = decode.sample(path, {"g": FrameSpec(fps=8, max_side=64, gray=True)}, start_s=start, end_s=end)["g"]
    d = np.abs(np.diff(f.data.astype(np.float32), axis=0))
    return float(d.mean() / 255.0)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("viewer")
    vids = root / "videos"
    box = synth.moving_box(vids / "box.mp4", speed_px=3, box=80, num_frames=72).path
    still = synth.static(vids / "still.mp4", num_frames=48).path
    cuts = synth.scenes(vids / "scenes.mp4", cuts=(24, 48), num_frames=72).path
    txt = synth.text(vids / "text.mp4", num_frames=48).path
    nz = synth.noise(vids / "noise.mp4", num_frames=24, size=(160, 120)).path
    synth.static(vids / "not_in_manifest.mp4", num_frames=12)  # a real video the viewer must never serve
    broken = vids / "broken.mp4"
    broken.write_text("not a video\n")
    qa = [{"from": "human", "value": "Which way does the box move?"}, {"from": "gpt", "value": "To the right."}]

    def row(rid: str, path: Path, start: float | None = None, end: float | None = None, **kw: Any) -> dict:
        r = {"id": rid, "path": str(path), "media": "video", "start_s": start, "end_s": end}
        if path.exists() and not kw.get("error"):
            r["motion_flow_mean"] = motion(path, start, end)
        r.update(kw)
        return r

    kept = [
        row("box-a", box, 0.0, 1.5, caption="A checkered box slides right over a textured wall.", conversations=qa),
        row("box-b", box, 1.5, 3.0, caption="The box keeps moving right."),
        row("still", still, caption="A still textured frame."),
        row("scenes", cuts, caption="Three coloured scenes with hard cuts."),
        row("text", txt, caption="The words HELLO WORLD."),
        row("noise", nz),
        row("gone", vids / "deleted.mp4", motion_flow_mean=None),
    ]
    rejected = [
        row("still-short", still, 0.0, 0.4, reject_reason="duration_s >= 1.0 (dmin)", rejected_by="02-filter"),
        row(
            "broken",
            broken,
            error="probe: broken.mp4: not a readable media file",
            error_kind="probe:invalid_data",
            reject_reason="error: probe:invalid_data",
            rejected_by="02-filter",
        ),
    ]
    run = root / "run"
    mio.write_manifest(schema.from_rows(kept), run / "manifest.parquet")
    mio.write_manifest(schema.from_rows(rejected), run / "rejected.parquet")
    (run / "summary.json").write_text(json.dumps({"recipe": "recipes/motion.yaml", "input": str(vids)}))
    return run


def expected_count(run: Path, where: str = FILTER) -> int:
    col, _, value = where.split()
    t = pq.read_table(run / "manifest.parquet")
    return int(pc.sum(pc.greater(t.column(col), float(value))).as_py() or 0)


@pytest.fixture(scope="module")
def server(run_dir: Path) -> Iterator[str]:
    """uvicorn in a thread on a socket we bound ourselves (port 0: no race for a free port)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(create_app(run_dir), log_level="warning", lifespan="off"))
    th = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    th.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline, "viewer did not start"
        time.sleep(0.05)
    yield f"127.0.0.1:{port}"
    srv.should_exit = True
    th.join(timeout=10)
    sock.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def raw_get(hostport: str, target: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """GET with the request target sent exactly as written (http.client does not normalise it)."""
    host, port = hostport.split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.putrequest("GET", target, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", (headers or {}).pop("Host", hostport))
        for k, v in (headers or {}).items():
            conn.putheader(k, v)
        conn.endheaders()
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def api(hostport: str, path: str, **params: Any) -> tuple[int, Any]:
    status, _, body = raw_get(hostport, path + ("?" + urllib.parse.urlencode(params) if params else ""))
    return status, json.loads(body)


# --- the browser --------------------------------------------------------------------------------


def test_browser_filter_sort_and_play(server: str, run_dir: Path, browser: Browser, tmp_path: Path) -> None:
    n_kept = pq.read_metadata(run_dir / "manifest.parquet").num_rows
    n_moving = expected_count(run_dir)
    assert 0 < n_moving < n_kept - 1  # the filter really separates: still and text clips have no motion
    page = browser.new_page(viewport={"width": 1360, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"http://{server}/")
    page.wait_for_selector(f'#count[data-total="{n_kept}"]', timeout=15000)
    assert page.locator(".card").count() == n_kept

    page.fill("#filter", FILTER)
    page.press("#filter", "Enter")
    page.wait_for_selector(f'#count[data-total="{n_moving}"]', timeout=15000)
    ids = page.eval_on_selector_all(".card", "els => els.map(e => e.dataset.id)")
    moving = {
        r["id"] for r in pq.read_table(run_dir / "manifest.parquet").to_pylist() if (r["motion_flow_mean"] or 0) > 0.01
    }
    assert set(ids) == moving and {"box-a", "box-b", "noise"} <= moving and "still" not in ids
    # thumbnails of the matching rows are real images decoded by the browser
    page.wait_for_function(
        "() => [...document.querySelectorAll('.card img')].every(i => i.complete && i.naturalWidth > 0)", timeout=20000
    )

    # sort by the score, descending: the grid follows the column's order
    page.select_option("#sort", "motion_flow_mean")
    page.click("#order")
    scores = {r["id"]: r["motion_flow_mean"] for r in pq.read_table(run_dir / "manifest.parquet").to_pylist()}
    expected = sorted(moving, key=lambda i: -scores[i])
    page.wait_for_function(
        "exp => JSON.stringify([...document.querySelectorAll('.card')].map(e => e.dataset.id)) === JSON.stringify(exp)",
        arg=expected,
        timeout=10000,
    )
    assert "order=desc" in page.url and "sort=motion_flow_mean" in page.url  # the view is in the URL, shareable

    # open the clip that starts at 1.5 s: metadata loads and playback starts at the span
    page.click('.card[data-id="box-b"]')
    page.wait_for_function(
        "() => { const v = document.getElementById('player'); return v.readyState >= 1 && v.duration > 0; }",
        timeout=15000,
    )
    page.wait_for_function("() => Math.abs(document.getElementById('player').currentTime - 1.5) < 0.2", timeout=5000)
    state = page.evaluate(
        "() => { const v = document.getElementById('player'); return {d: v.duration, err: v.error && v.error.code}; }"
    )
    assert state["err"] is None and 2.9 < state["d"] < 3.1
    assert "The box keeps moving right." in page.inner_text("#dbody")
    page.screenshot(path=str(tmp_path / "viewer-clip.png"))
    page.keyboard.press("Escape")

    # QA turns of another clip show in the drawer
    page.click('.card[data-id="box-a"]')
    page.wait_for_selector(".turn.gpt")
    assert page.inner_text(".qa").count("To the right.") == 1
    page.keyboard.press("Escape")

    # a bad filter is a message on the page, not a broken page
    page.fill("#filter", "no_such_column > 1")
    page.press("#filter", "Enter")
    page.wait_for_selector("#msg:not([hidden])")
    assert "no_such_column" in page.inner_text("#msg")
    assert page.get_attribute("#count", "data-total") == "error"

    # the rejected toggle shows the rejected rows with their reasons
    page.fill("#filter", "")
    page.press("#filter", "Enter")
    page.click('#status button[data-v="rejected"]')
    page.wait_for_selector('#count[data-total="2"]')
    assert "duration_s >= 1.0 (dmin)" in page.inner_text("#results")
    page.click('#mode button[data-v="table"]')
    page.wait_for_selector("table tbody tr")
    assert page.locator("table tbody tr").count() == 2
    page.screenshot(path=str(tmp_path / "viewer-rejected.png"), full_page=True)
    page.close()
    assert errors == []
    assert (tmp_path / "viewer-clip.png").stat().st_size > 10_000


# --- HTTP: filter API, range requests, refusals --------------------------------------------------


def test_filter_api(server: str, run_dir: Path) -> None:
    status, body = api(server, "/api/rows", where=FILTER)
    assert status == 200 and body["total"] == expected_count(run_dir)
    status, body = api(server, "/api/rows", status="all", sort="motion_flow_mean", order="desc", limit=3)
    values = [r["motion_flow_mean"] for r in body["rows"]]
    assert status == 200 and body["total"] == 9 and values == sorted(values, reverse=True)
    status, body = api(server, "/api/rows", status="rejected", where="reject_reason LIKE '%dmin%'")
    assert status == 200 and [r["id"] for r in body["rows"]] == ["still-short"]
    status, body = api(server, "/api/row/box-a")
    assert status == 200 and body["row"]["conversations"][1]["value"] == "To the right."
    # mistakes and attempts to step outside the manifest: a 400 with a message, never a 500
    for where, says in [
        ("motion_flow_mean >", "syntax"),
        ("nope = 1", "nope"),
        ("1=1); DROP VIEW rows; SELECT (1", "single predicate"),
        ("(SELECT count(*) FROM read_text('/etc/passwd')) > 0", "disabled"),
        ("id IN (SELECT content FROM read_csv('/etc/hostname'))", "disabled"),
    ]:
        status, body = api(server, "/api/rows", where=where)
        assert status == 400, where
        assert says.lower() in body["error"].lower(), body
    status, body = api(server, "/api/rows", sort="nope")
    assert status == 400 and "nope" in body["error"]
    assert api(server, "/api/rows")[1]["total"] == 7  # the view is still there


def test_media_serves_ranges(server: str, run_dir: Path) -> None:
    data = (run_dir.parent / "videos" / "box.mp4").read_bytes()
    status, headers, body = raw_get(server, "/media/box-b")
    assert status == 200 and body == data and headers["accept-ranges"] == "bytes"
    assert headers["content-type"] == "video/mp4"
    status, headers, body = raw_get(server, "/media/box-b", {"Range": "bytes=100-1099"})
    assert status == 206 and body == data[100:1100]
    assert headers["content-range"] == f"bytes 100-1099/{len(data)}"
    status, headers, body = raw_get(server, "/media/box-b", {"Range": "bytes=-500"})
    assert status == 206 and body == data[-500:]
    status, headers, _ = raw_get(server, "/media/box-b", {"Range": f"bytes={len(data) + 10}-"})
    assert status == 416


def test_refuses_paths_outside_the_manifest(server: str, run_dir: Path) -> None:
    outside = run_dir.parent / "videos" / "not_in_manifest.mp4"
    secret = outside.read_bytes()[:64]
    passwd = Path("/etc/passwd").read_bytes()[:16]
    targets = [
        "/media/../../../../etc/passwd",
        "/../../../../etc/passwd",
        "/media/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/media/..%2f..%2f..%2fetc%2fpasswd",
        "/media/%2e%2e/%2e%2e/etc/passwd",
        "/media//etc/passwd",
        "/media/%2Fetc%2Fpasswd",
        "/media/" + urllib.parse.quote(str(outside), safe=""),
        "/media" + str(outside),
        "/media/not_in_manifest.mp4",
        "/media/" + urllib.parse.quote(str(run_dir.parent / "videos" / "box.mp4"), safe=""),  # a path, not an id
        "/thumb/..%2f..%2fvideos%2fnot_in_manifest.mp4",
        "/static/..%2fapp.py",
        "/static/../app.py",
        "/static/%2e%2e%2fhtml.py",
        "/videos/not_in_manifest.mp4",
        "/run/manifest.parquet",
        "/manifest.parquet",
        "/media/gone",  # in the manifest, but the file is missing
    ]
    for t in targets:
        status, _, body = raw_get(server, t)
        assert status in (403, 404), (t, status)
        assert secret not in body and passwd not in body and b"import" not in body, t
    # a foreign Host header (DNS rebinding) is refused on a loopback-bound viewer
    status, _, _ = raw_get(server, "/api/meta", {"Host": "evil.example:80"})
    assert status == 400


UNION_ATTACKS = [
    # closes the WHERE and appends rows whose path the attacker chooses
    "TRUE) UNION ALL BY NAME SELECT 'kept' AS _status, 'evil' AS id, '/etc/passwd' AS path WHERE (TRUE",
    "TRUE) UNION SELECT 'evil' WHERE (TRUE",
    "FALSE) UNION ALL SELECT 'evil' AS id FROM rows WHERE (TRUE",
    "TRUE) EXCEPT SELECT 'x' WHERE (TRUE",
    "TRUE) ORDER BY 1 LIMIT (1",
    "TRUE) GROUP BY id HAVING (TRUE",
    "id IN (SELECT 'evil' UNION SELECT id FROM rows)",
    "id IN (WITH t AS (SELECT 'evil' AS id) SELECT id FROM t)",
    "id IN (SELECT name FROM duckdb_settings())",
    "id IN (SELECT a.id FROM rows a JOIN rows b USING (id))",
]


def test_filter_can_only_select_the_runs_rows(server: str, run_dir: Path) -> None:
    """A predicate that tries to add rows (and so make /media serve any file) is refused."""
    passwd = Path("/etc/passwd").read_bytes()[:16]
    for where in UNION_ATTACKS:
        for status_ in ("kept", "all"):
            status, body = api(server, "/api/rows", where=where, status=status_)
            assert status == 400, (where, body)
            assert "evil" not in json.dumps(body.get("rows", []))
        for target in ("/media/evil", "/thumb/evil", "/api/row/evil"):
            status, _, body = raw_get(server, target)
            assert status == 404 and passwd not in body, (where, target)
    # subqueries over the run's own rows stay allowed, and really filter
    status, body = api(server, "/api/rows", where="id IN (SELECT id FROM rows WHERE caption LIKE '%box%')")
    assert status == 200 and sorted(r["id"] for r in body["rows"]) == ["box-a", "box-b"]
    status, body = api(server, "/api/rows", where="-- a comment\nid = 'still'")
    assert status == 200 and [r["id"] for r in body["rows"]] == ["still"]


def test_rows_come_from_the_run_even_past_the_check(run_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Defence in depth: with the parse check switched off, a UNION still cannot add a servable row."""
    from vidcurate.report import app as viewer

    cat = viewer.Catalog(run_dir)
    try:
        monkeypatch.setattr(cat, "predicate", lambda where: f"({where}\n)")
        total, rows = cat.query(where=UNION_ATTACKS[1], status="kept", sort=None, desc=False, offset=0, limit=100)
        assert "evil" not in {r["id"] for r in rows} and total == len(rows) == 7
        assert cat.row("evil") is None
    finally:
        cat.close()


def test_thumbnails_are_cached_in_the_run(server: str, run_dir: Path) -> None:
    status, headers, body = raw_get(server, "/thumb/scenes")
    assert status == 200 and headers["content-type"] == "image/jpeg"
    img = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR)
    assert img.shape == (120, 480, 3)  # three 160x120 frames side by side
    # the three frames come from the three scenes of the clip (cuts at 1 s and 2 s): three different colours
    means = [img[:, i * 160 : (i + 1) * 160].reshape(-1, 3).mean(0)[::-1] for i in range(3)]
    assert len({synth.nearest_palette(m) for m in means}) == 3
    cached = list((run_dir / "thumbs").glob("scenes-*.jpg"))
    assert len(cached) == 1 and cached[0].read_bytes() == body
    status, _, body = raw_get(server, "/thumb/broken")
    assert status == 404 and b"broken.mp4" in body  # the reason, from the cached decode failure


def test_view_command_serves(run_dir: Path) -> None:
    """`vidcurate view RUN --port P` starts the server (a subprocess, as a user runs it)."""
    import subprocess
    import sys

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    proc = subprocess.Popen(
        [sys.executable, "-m", "vidcurate.cli", "view", str(run_dir), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                status, body = api(f"127.0.0.1:{port}", "/api/meta")
                break
            except OSError:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                assert time.monotonic() < deadline, "vidcurate view did not answer"
                time.sleep(0.2)
        assert status == 200 and body["counts"] == {"kept": 7, "rejected": 2} and body["recipe"] == "motion"
        assert any(c["name"] == "motion_flow_mean" and c["numeric"] for c in body["columns"])
    finally:
        proc.terminate()
        proc.wait(timeout=10)
