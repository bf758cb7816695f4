"""Downloads against a local server with faults on demand; yt-dlp and the Hub up to their boundary.

`vidcurate.testing.fake_http.FakeHTTP` serves the shared real videos on 127.0.0.1 and misbehaves
per path on request: a connection dropped halfway, 429 with Retry-After, 404, 500, an HTML page,
a stall longer than the client's timeout. No site or Hub is reachable from this machine, so yt-dlp
and `huggingface_hub` are replaced by fakes that record what they were asked for.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import time
import zipfile
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import SHARED_VIDEOS
from vidcurate.core.errors import ConfigError
from vidcurate.core.recipe import parse_recipe
from vidcurate.engines.local import LocalEngine
from vidcurate.io import archives, hub
from vidcurate.stages.download import stage as download_stage
from vidcurate.testing.fake_http import FakeHTTP

FILES = {
    "ok": "07_skv_bikes.mp4",
    "drop": "09_mpy_chaplin.mp4",
    "limited": "15_dec_flipping_a_pancake.mkv",
    "flaky": "11_mpy_no_duration.webm",
    "gone": "missing.mp4",
    "html": "mpy_video_with_failing_audio.mp4",
    "big": "intel_car-detection.mp4",
    "stall": "17_dec_corrupted.mp4",
}


def sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def manifest(tmp_path: Path, base: str) -> Path:
    rows = [
        {"id": k, "url": f"{base}/{name}", "source": "webvid" if k != "big" else "other"} for k, name in FILES.items()
    ]
    p = tmp_path / "urls.parquet"
    pq.write_table(pa.Table.from_pylist(rows), p)
    return p


CONFIG = {"per_host": 2, "concurrency": 8, "timeout_s": 1.0, "max_retries": 2, "backoff_s": 0.05, "max_mb": 2.0}


def test_downloads_with_faults_then_a_rerun_fetches_only_what_failed(tmp_path: Path) -> None:
    with FakeHTTP(SHARED_VIDEOS, retry_after="1", slow_s=2.5) as srv:
        srv.fault(FILES["drop"], "drop")
        srv.fault(FILES["limited"], "429")
        srv.fault(FILES["flaky"], "500")
        srv.fault(FILES["html"], "html")  # final in this run (a 200 with a page), retried by the next
        srv.fault(FILES["stall"], "slow", "slow", "slow")
        rec = parse_recipe({"stages": [{"download": CONFIG}]})
        t0 = time.monotonic()
        summary = LocalEngine(rec, tmp_path / "run", workers=1, shard_size=100, progress=False).run(
            manifest(tmp_path, srv.url)
        )
        took = time.monotonic() - t0
        rows = {r["id"]: r for r in pq.read_table(tmp_path / "run" / "manifest.parquet").to_pylist()}
        for k in ("ok", "drop", "limited", "flaky"):
            assert rows[k].get("error") is None, rows[k].get("error")
            got = Path(rows[k]["path"])
            assert got.parent == tmp_path / "run" / "media" and sha(got) == sha(SHARED_VIDEOS / FILES[k])
            assert got.suffix == Path(FILES[k]).suffix and rows[k]["download_bytes"] == got.stat().st_size
        assert any(p == FILES["drop"] and r.startswith("bytes=") and r != "bytes=0-" for p, r in srv.ranges)
        assert srv.requests[FILES["limited"]] == 2 and took >= 1.0  # Retry-After: 1 was honoured
        kinds = {k: rows[k]["error_kind"] for k in ("gone", "html", "big", "stall")}
        assert kinds == {"gone": "download:http_404", "html": "download:not_video", "big": "download:too_large",
                         "stall": "download:timeout"}  # fmt: skip
        assert "HTTP 404" in rows["gone"]["error"] and "text/HTML page" in rows["html"]["error"]
        assert "over the limit" in rows["big"]["error"] and "within 1 s" in rows["stall"]["error"]
        media = tmp_path / "run" / "media"
        finals = {p.name for p in media.iterdir() if not p.name.startswith(".")}
        assert finals == {Path(rows[k]["path"]).name for k in ("ok", "drop", "limited", "flaky")}  # nothing partial
        assert summary.downloads == [
            {"source": "other", "asked": 1, "fetched": 0, "bytes": 0, "not_fetched": {"too_large": 1}},
            {"source": "webvid", "asked": 7, "fetched": 4, "bytes": sum(rows[k]["download_bytes"] for k in
             ("ok", "drop", "limited", "flaky")), "not_fetched": {"http_404": 1, "not_video": 1, "timeout": 1}},
        ]  # fmt: skip
        # the faults are over: a rerun fetches the failed rows only
        before = dict(srv.requests)
        again = LocalEngine(rec, tmp_path / "run", workers=1, shard_size=100, progress=False).run(
            manifest(tmp_path, srv.url)
        )
        fetched_again = {p for p, n in srv.requests.items() if n > before.get(p, 0)}
        assert fetched_again == {FILES["gone"], FILES["html"], FILES["big"], FILES["stall"]}
        rows = {r["id"]: r for r in pq.read_table(tmp_path / "run" / "manifest.parquet").to_pylist()}
        assert rows["html"].get("error") is None and rows["stall"].get("error") is None
        assert sha(Path(rows["stall"]["path"])) == sha(SHARED_VIDEOS / FILES["stall"])
        assert again.downloads[1]["fetched"] == 6
    from vidcurate.report.html import write_report

    page = write_report(tmp_path / "run").read_text()
    assert '<section id="downloads"><h2>Downloads</h2>' in page and "http_404" in page


def test_per_host_concurrency_is_never_exceeded(tmp_path: Path) -> None:
    names = sorted(p.name for p in SHARED_VIDEOS.iterdir() if p.suffix in (".mp4", ".mkv", ".webm", ".mov"))
    rows = [{"id": f"r{i}", "url": f"URL/{n}"} for i, n in enumerate(names)]
    with FakeHTTP(SHARED_VIDEOS, latency_s=0.2) as srv:
        for r in rows:
            r["url"] = r["url"].replace("URL", srv.url)
        pq.write_table(pa.Table.from_pylist(rows), tmp_path / "m.parquet")
        rec = parse_recipe({"stages": [{"download": {"per_host": 3, "concurrency": 16}}]})
        LocalEngine(rec, tmp_path / "run", workers=1, shard_size=100, progress=False).run(tmp_path / "m.parquet")
        assert srv.max_in_flight == 3  # the server counted: never more than the limit, and the limit used
    got = pq.read_table(tmp_path / "run" / "manifest.parquet").to_pylist()
    assert len(got) == len(names) >= 10 and not any(r.get("error") for r in got)


def test_a_partial_file_is_resumed_by_the_next_run(tmp_path: Path) -> None:
    from vidcurate.stages.download.http import Fetcher, FetchOptions

    src = SHARED_VIDEOS / FILES["drop"]
    (tmp_path / f".partial-x").write_bytes(src.read_bytes()[:100_000])  # noqa: F541
    with FakeHTTP(SHARED_VIDEOS) as srv:
        f = Fetcher(FetchOptions(max_retries=0))
        path, n = f.fetch(f"{srv.url}/{FILES['drop']}", tmp_path, "x")
        f.close()
        assert srv.ranges == [(FILES["drop"], "bytes=100000-")] and sha(path) == sha(src) and n == src.stat().st_size
        assert not (tmp_path / ".partial-x").exists()


# --- yt-dlp, up to the network boundary ----------------------------------------------------------


class FakeYDL:
    calls: ClassVar[list[dict[str, Any]]] = []
    fail: ClassVar[str | None] = None

    def __init__(self, opts: dict[str, Any]) -> None:
        self.opts = opts

    def __enter__(self) -> FakeYDL:
        return self

    def __exit__(self, *a: object) -> None:
        pass

    def download(self, urls: list[str]) -> None:
        ranges = self.opts.get("download_ranges")
        FakeYDL.calls.append({"url": urls[0], "format": self.opts["format"],
                              "ranges": ranges(None, None) if ranges else None})  # fmt: skip
        if FakeYDL.fail:
            raise RuntimeError(FakeYDL.fail)
        out = Path(self.opts["outtmpl"].replace("%(ext)s", "mp4"))
        out.write_bytes((SHARED_VIDEOS / FILES["ok"]).read_bytes())


def test_site_videos_by_span_or_whole_through_ytdlp(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setattr(download_stage.Downloader, "ydl_class", FakeYDL)
    FakeYDL.calls = []
    FakeYDL.fail = None
    rows = [{"id": f"a{i}", "url": "https://www.youtube.com/watch?v=AAAAAAAAAAA", "start_s": 10.0 * i,
             "end_s": 10.0 * i + 4} for i in range(2)]  # fmt: skip
    rows += [{"id": f"b{i}", "url": "https://youtu.be/BBBBBBBBBBB", "start_s": 5.0 * i, "end_s": 5.0 * i + 3}
             for i in range(4)]  # fmt: skip
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "yt.parquet")
    rec = parse_recipe({"stages": [{"download": {"max_height": 480}}]})
    LocalEngine(rec, tmp_path / "run", workers=1, shard_size=100, progress=False).run(tmp_path / "yt.parquet")
    got = {r["id"]: r for r in pq.read_table(tmp_path / "run" / "manifest.parquet").to_pylist()}
    spans = sorted(c["ranges"][0]["start_time"] for c in FakeYDL.calls if c["ranges"])
    assert spans == [0.0, 10.0]  # two spans of video A: only the spans are fetched, one file each
    whole = [c for c in FakeYDL.calls if c["ranges"] is None]
    assert len(whole) == 1 and whole[0]["url"].endswith("BBBBBBBBBBB")  # four spans of B: fetched once
    assert all("height<=480" in c["format"] for c in FakeYDL.calls)
    assert (got["a1"]["start_s"], got["a1"]["source_start_s"], got["a1"]["source_end_s"]) == (None, 10.0, 14.0)
    assert len({got[f"b{i}"]["path"] for i in range(4)}) == 1 and got["b2"]["start_s"] == 10.0
    assert got["a0"]["path"] != got["a1"]["path"] and all(Path(r["path"]).is_file() for r in got.values())
    FakeYDL.fail = "ERROR: [youtube] CCC: Private video. Sign in if you've been granted access"
    pq.write_table(pa.Table.from_pylist([{"id": "c", "url": "https://www.youtube.com/watch?v=CCCCCCCCCCC"}]),
                   tmp_path / "c.parquet")  # fmt: skip
    LocalEngine(rec, tmp_path / "run2", workers=1, progress=False).run(tmp_path / "c.parquet")
    row = pq.read_table(tmp_path / "run2" / "manifest.parquet").to_pylist()[0]
    assert row["error_kind"] == "download:private" and "Private video" in row["error"]


# --- archives -------------------------------------------------------------------------------------


def test_unsafe_archives_are_refused_without_writing_outside(tmp_path: Path) -> None:
    target = tmp_path / "out"
    for name, member in (("dots", "../escape.txt"), ("abs", "/tmp/abs-escape.txt")):
        z = tmp_path / f"{name}.zip"
        with zipfile.ZipFile(z, "w") as f:
            f.writestr("fine.txt", "ok")
            f.writestr(member, "bad")
        with pytest.raises(ConfigError, match="refused, members would leave"):
            archives.extract([z], target)
    link = tmp_path / "link.zip"
    with zipfile.ZipFile(link, "w") as f:
        info = zipfile.ZipInfo("link")
        info.external_attr = 0o120777 << 16
        f.writestr(info, "/etc/passwd")
    with pytest.raises(ConfigError, match="symbolic link"):
        archives.extract([link], target)
    t = tmp_path / "link.tar"
    with tarfile.open(t, "w") as f:
        ti = tarfile.TarInfo("up")
        ti.type, ti.linkname = tarfile.SYMTYPE, "../../etc"
        f.addfile(ti)
    with pytest.raises(ConfigError, match=r"a link to \.\./\.\./etc"):
        archives.extract([t], target)
    assert not (tmp_path / "escape.txt").exists() and not Path("/tmp/abs-escape.txt").exists()
    assert not target.exists() or not any(target.iterdir())  # nothing of a refused archive is written


def test_split_archives_reassemble_in_order(tmp_path: Path) -> None:
    videos = [SHARED_VIDEOS / FILES[k] for k in ("ok", "drop", "flaky")]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as f:
        for v in videos:
            f.write(v, f"clips/{v.name}")
    data = buf.getvalue()
    parts = tmp_path / "zip"
    parts.mkdir()
    third = len(data) // 3 + 1
    for i in range(3):  # `split -b` style: x.zip.001, .002, .003 (listed out of order on purpose)
        (parts / f"clips.zip.{3 - i:03d}").write_bytes(data[(2 - i) * third : (3 - i) * third])
    tgz = io.BytesIO()
    with tarfile.open(fileobj=tgz, mode="w:gz") as f:
        f.add(SHARED_VIDEOS / FILES["stall"], arcname=f"more/{FILES['stall']}")
    raw = tgz.getvalue()
    (parts / "OpenVid_part9_partab").write_bytes(raw[len(raw) // 2 :])
    (parts / "OpenVid_part9_partaa").write_bytes(raw[: len(raw) // 2])
    groups = archives.group_parts(sorted(parts.iterdir()))
    assert {k: [p.name for p in v] for k, v in groups.items()} == {
        "OpenVid_part9": ["OpenVid_part9_partaa", "OpenVid_part9_partab"],
        "clips.zip": ["clips.zip.001", "clips.zip.002", "clips.zip.003"],
    }
    from vidcurate.cli import main

    out = tmp_path / "x"
    (tmp_path / "need.csv").write_text(f"video\n{FILES['ok']}\n")
    import sys

    argv = sys.argv
    try:
        sys.argv = ["vidcurate", "fetch-archive", str(parts), "-o", str(out), "--need", str(tmp_path / "need.csv")]
        main()  # returns on success (a failure would exit with 2)
    finally:
        sys.argv = argv
    assert sha(out / "clips" / FILES["ok"]) == sha(SHARED_VIDEOS / FILES["ok"])
    assert not (out / "more").exists()  # the tarball holds no wanted file: not extracted
    index = (out / "archive_index.csv").read_text().splitlines()
    assert f"more/{FILES['stall']},OpenVid_part9" in index and len(index) == 5
    got = archives.extract(groups["OpenVid_part9"], tmp_path / "y")
    assert [p.name for p in got] == [FILES["stall"]] and sha(got[0]) == sha(SHARED_VIDEOS / FILES["stall"])


def test_hub_paths_up_to_the_network_boundary(tmp_path: Path, monkeypatch: Any) -> None:
    import huggingface_hub

    calls: list[dict[str, Any]] = []

    def fake_snapshot(**kw: Any) -> str:
        calls.append(kw)
        d = Path(kw["local_dir"])
        d.mkdir(parents=True, exist_ok=True)
        (d / "OpenVid_part0.zip").write_bytes(b"PK\x05\x06" + b"\x00" * 18)
        (d / "README.md").write_text("x")
        return str(d)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot)
    got = hub.fetch("hf://datasets/nkp37/OpenVid-1M/OpenVid_part0.zip", tmp_path)
    assert [p.name for p in got] == ["OpenVid_part0.zip"]
    assert calls == [{"repo_id": "nkp37/OpenVid-1M", "repo_type": "dataset", "allow_patterns": ["OpenVid_part0.zip"],
                      "local_dir": tmp_path / "OpenVid-1M"}]  # fmt: skip
    with pytest.raises(ConfigError, match="use hf://datasets/OWNER/NAME/PATTERN"):
        hub.parse("hf://datasets/onlyowner")
    assert json.dumps(hub.parse("hf://datasets/a/b")) == '["a/b", "*"]'
    assert os.sep  # (the fake wrote under tmp_path only)


def test_a_retry_after_header_that_cannot_be_read_means_the_usual_backoff() -> None:
    from vidcurate.stages.download.http import _retry_after

    assert _retry_after("2") == 2.0 and _retry_after("-5") == 0.0
    assert _retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # a date in the past: go now
    assert _retry_after("soon, please") is None and _retry_after("") is None
