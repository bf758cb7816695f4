"""The viewer under attack and under load: unsafe rows, slow filters, non-loopback hosts, clip ends."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import uvicorn
from fastapi.testclient import TestClient
from playwright.sync_api import sync_playwright

from test_viewer import CHROMIUM, CHROMIUM_ARGS
from vidcurate.core import schema
from vidcurate.io import manifest as mio
from vidcurate.report.app import create_app
from vidcurate.testing import synth


@pytest.fixture(scope="module")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("safety")
    vids = root / "videos"
    scenes = synth.scenes(vids / "scenes.mp4", cuts=(24, 48), num_frames=72)  # three 1 s shots at 24 fps
    secret = vids / "secret.mp4"
    synth.static(secret, num_frames=12)
    rows = [
        {"id": "shot-a", "path": str(scenes.path), "start_s": 0.0, "end_s": 1.0},
        {"id": "shot-b", "path": str(scenes.path), "start_s": 1.0, "end_s": 2.0},
        # a converter flagged this path as leaving its dataset root: the file exists, it must not be served
        {
            "id": "escaped",
            "path": str(secret),
            "error": "convert: media path '../secret.mp4' leaves the root",
            "error_kind": "convert:unsafe_path",
        },
        {"id": "climbs", "path": "../videos/secret.mp4"},
    ]
    run = root / "run"
    mio.write_manifest(schema.from_rows(rows), run / "manifest.parquet")
    (run / "summary.json").write_text(json.dumps({"input": str(root / "elsewhere")}))
    return run


def test_rows_flagged_as_escaping_are_never_served(small_run: Path) -> None:
    client = TestClient(create_app(small_run), base_url="http://127.0.0.1")
    for rid in ("escaped", "climbs"):
        assert client.get(f"/media/{rid}").status_code == 403
        assert client.get(f"/thumb/{rid}").status_code == 403
    assert client.get("/media/shot-a").status_code == 200
    assert not list((small_run / "thumbs").glob("escaped*"))  # never decoded, not even cached as an error


def test_a_non_loopback_viewer_needs_its_token(small_run: Path) -> None:
    client = TestClient(create_app(small_run, host="0.0.0.0", token="s3cret-token"))
    assert client.get("/api/meta").status_code == 401
    assert client.get("/media/shot-a").status_code == 401
    assert client.get("/api/meta", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/api/meta", headers={"Authorization": "Bearer s3cret-token"}).status_code == 200
    first = client.get("/?token=s3cret-token")  # the URL the viewer prints: sets a cookie for the page's requests
    assert first.status_code == 200 and "vidcurate_token" in first.headers.get("set-cookie", "")
    assert client.get("/api/meta").status_code == 200  # the cookie is sent from now on


def test_view_command_on_a_public_address_prints_a_token(small_run: Path) -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    proc = subprocess.Popen(
        [sys.executable, "-m", "vidcurate.cli", "view", str(small_run), "--host", "0.0.0.0", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "warning" in line and "token=" in line
        token = line.split("token=")[1].split()[0]
        deadline = time.monotonic() + 30
        while True:
            try:
                status = get(f"127.0.0.1:{port}", "/api/meta")[0]
                break
            except OSError:
                assert time.monotonic() < deadline, "viewer did not start"
                time.sleep(0.2)
        assert status == 401
        assert get(f"127.0.0.1:{port}", "/api/meta", {"Authorization": f"Bearer {token}"})[0] == 200
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def get(hostport: str, target: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    host, port = hostport.split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        conn.request("GET", target, headers=headers or {})
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def big_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A run of 200,000 rows behind a real server, with a short query time limit."""
    run = tmp_path_factory.mktemp("big") / "run"
    n = 200_000
    table = pa.table({"id": [f"r{i:06d}" for i in range(n)], "path": [f"/nowhere/{i}.mp4" for i in range(n)]})
    run.mkdir()
    pq.write_table(table, run / "manifest.parquet")
    app = create_app(run)
    app.state.catalog.timeout_s = 1.0
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    srv = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    th = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    th.start()
    while not srv.started:
        time.sleep(0.05)
    yield f"127.0.0.1:{sock.getsockname()[1]}"
    srv.should_exit = True
    th.join(timeout=10)


def test_a_slow_filter_is_stopped_and_does_not_hold_the_viewer(big_server: str) -> None:
    slow = "md5(repeat(id, 20000)) LIKE '%ffff%'"  # hashes 200k strings of 140 kB each: many seconds
    result: dict[str, Any] = {}

    def run_slow() -> None:
        t0 = time.monotonic()
        status, body = get(big_server, "/api/rows?" + _q(where=slow))
        result.update(status=status, body=json.loads(body), seconds=time.monotonic() - t0)

    th = threading.Thread(target=run_slow)
    th.start()
    time.sleep(0.2)
    t0 = time.monotonic()
    assert get(big_server, "/api/row/r000042")[0] == 200  # lookups never wait for a filter
    status, body = get(big_server, "/api/rows?" + _q(where="id = 'r000007'"))  # nor does another filter
    assert status == 200 and json.loads(body)["total"] == 1
    assert time.monotonic() - t0 < 1.0
    th.join(timeout=60)
    assert result["status"] == 400 and "took longer than 1 s" in result["body"]["error"]
    assert result["seconds"] < 5


def _q(**params: str) -> str:
    import urllib.parse

    return urllib.parse.urlencode(params)


def test_a_clip_stops_at_its_end(small_run: Path) -> None:
    app = create_app(small_run)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    srv = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    th = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    th.start()
    while not srv.started:
        time.sleep(0.05)
    try:
        with sync_playwright() as p:
            b = p.chromium.launch(
                executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, "--autoplay-policy=no-user-gesture-required"]
            )
            page = b.new_page()
            page.goto(f"http://127.0.0.1:{sock.getsockname()[1]}/")
            page.wait_for_selector('.card[data-id="shot-a"]', timeout=15000)
            page.click('.card[data-id="shot-a"]')
            page.wait_for_function("() => document.getElementById('player').readyState >= 2", timeout=15000)
            page.evaluate("() => { const v = document.getElementById('player'); v.muted = true; return v.play(); }")
            page.wait_for_function(
                "() => { const v = document.getElementById('player'); return v.paused && v.currentTime > 0.5; }",
                timeout=15000,
            )
            t = page.evaluate("() => document.getElementById('player').currentTime")
            b.close()
        assert 1.0 - 0.1 < t < 1.0  # stopped on the span's last frame, not in the next shot (1.0 s on)
    finally:
        srv.should_exit = True
        th.join(timeout=10)
