"""The run report: built from a real run of the default recipe on the demo corpus plus a broken file and
a too-short clip, checked as HTML and as a page rendered by headless Chromium with the network off."""

from __future__ import annotations

import base64
import html
import json
import os
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import pyarrow.parquet as pq
import pytest
from playwright.sync_api import sync_playwright
from typer.testing import CliRunner

from vidcurate.core.recipe import load_recipe
from vidcurate.engines.local import LocalEngine
from vidcurate.io import decode
from vidcurate.report import data as rd
from vidcurate.report import hist, thumbs
from vidcurate.report import svg as svg_mod
from vidcurate.report.html import write_report
from vidcurate.testing import synth

REPO = Path(__file__).resolve().parents[1]
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


def demo_videos(root: Path) -> Path:
    vids = root / "videos"
    synth.demo_corpus(vids)
    (vids / "broken.mp4").write_text("this is not a video\n")
    synth.static(vids / "tiny.mp4", size=(96, 64), num_frames=12)  # 0.5 s: fails dmin (and min_side)
    return vids


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("report")
    vids = demo_videos(root)
    recipe = load_recipe(REPO / "recipes" / "default.yaml")
    cwd = os.getcwd()
    os.chdir(root)  # a stage's relative output folder (e.g. cut's `out_dir: work`) goes to the temp folder
    try:
        LocalEngine(recipe, root / "run", workers=1, progress=False).run(vids)
    finally:
        os.chdir(cwd)
    write_report(root / "run")
    return root / "run"


class Refs(HTMLParser):
    """Every URL-bearing attribute and every <img>/<svg> in a page."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.imgs: list[dict[str, str | None]] = []
        self.svgs: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.urls += [
            v or "" for k, v in attrs if k in ("src", "href", "srcset", "action", "poster", "data", "xlink:href")
        ]
        if tag == "img":
            self.imgs.append(a)
        if tag == "svg":
            self.svgs.append(a)


def test_report_content_is_self_contained_and_right(demo_run: Path) -> None:
    page = (demo_run / "report.html").read_text()
    refs = Refs()
    refs.feed(page)
    # nothing to fetch: no absolute URL anywhere, every reference is inline data or an anchor, CSP forbids fetches
    assert not re.search(r"(?i)\b(?:https?|ftp|wss?):", page)
    assert refs.urls and all(u.startswith(("data:", "#")) for u in refs.urls), refs.urls
    assert "url(" not in page and "@import" not in page
    assert "default-src 'none'" in page
    kept = pq.read_table(demo_run / "manifest.parquet").to_pylist()
    rejected_rows = pq.read_table(demo_run / "rejected.parquet").to_pylist()
    rejected = {Path(r["path"]).name: r for r in rejected_rows}
    # ground truth of the recipe's first filter (later stages of the default recipe may drop more clips)
    assert rejected["broken.mp4"]["reject_reason"] == "error: probe:invalid_data"
    assert rejected["tiny.mp4"]["reject_reason"] == "duration_s >= 1.0 (dmin)"
    assert len(kept) >= 3
    # one histogram per numeric column with values, the thresholds of the filter stages drawn on them
    columns = [s["data-column"] for s in refs.svgs if "hist" in (s.get("class") or "")]
    assert {"duration_s", "width", "height", "fps", "num_frames"} <= set(columns)
    svg = hist_svg(page, "duration_s")
    assert "≥ 1 · dmin" in svg
    cut = float(re.search(r'<line class="cut" x1="([\d.]+)"', svg).group(1))  # type: ignore[union-attr]
    bars = [(m.group(1), float(m.group(2))) for m in re.finditer(r'<rect class="([kr])" x="([\d.]+)"', svg)]
    assert ("r", 44.0) in bars and cut > 44.0  # the 0.5 s clip, the shortest, rejected, left of the cut
    assert any(c == "k" and x >= cut for c, x in bars)
    has_d = [r for r in kept if r["duration_s"] is not None], [r for r in rejected_rows if r["duration_s"]]
    assert f"{len(has_d[0])} kept · {len(has_d[1])} rejected" in page  # broken.mp4 has no duration
    assert "≥ 128 · min_side" in hist_svg(page, "width") and "≥ 128 · min_side" in hist_svg(page, "height")
    # every simple `where` cut-off of the recipe (e.g. black_frame_ratio <= 0.5) is drawn on its column
    sym = {">=": "≥", "<=": "≤", ">": ">", "<": "<"}
    for meta in demo_run.glob("*/_stage.json"):
        m = re.fullmatch(
            r"(\w+) (<=|>=|<|>) ([\d.]+)", (json.loads(meta.read_text()).get("config") or {}).get("where") or ""
        )
        if m and m.group(1) in columns:  # drawn, or (far from every value) named as off the axis
            card = re.search(rf"<h4>{m.group(1)}</h4>.*?</svg>", page, re.S).group(0)  # type: ignore[union-attr]
            drawn = f"{sym[m.group(2)]} {float(m.group(3)):g} · where" in card
            noted = f"cut {html.escape(m.group(2))} {float(m.group(3)):g} ({meta.parent.name} where) off the axis"
            assert drawn or noted in card, m.group(0)
    # thumbnails: every example that decodes shows a real 3-frame JPEG strip; only the broken file has none
    cards = re.findall(
        r'<figure class="panel clip (\w+)" data-id="([^"]+)">(<img class="strip"[^>]*>|<div class="nostrip")', page
    )
    rows = {r["id"]: r for r in kept + rejected_rows}
    assert sum(status == "kept" for status, _, _ in cards) == min(8, len(kept))
    assert {Path(rows[i]["path"]).name for _, i, t in cards if t.startswith("<div")} == {"broken.mp4"}
    strips = {i: t for _, i, t in cards if t.startswith("<img")}
    shapes = {i: decode_strip(t).shape for i, t in strips.items()}
    # three frames side by side: 320x240 clips scaled to 160x120, the 96x64 clip never upscaled
    assert {i: sh for i, sh in shapes.items() if sh != (120, 480, 3)} == {rejected["tiny.mp4"]["id"]: (64, 288, 3)}
    # ground truth of synth.scenes (red, green, blue scenes of 1 s each): every strip of a scenes.mp4 row or clip
    # shows, frame by frame, the colour of the scene at that time of the source
    checked = 0
    for i, tag in strips.items():
        r = rows[i]
        if Path(r.get("source_path") or r["path"]).name != "scenes.mp4":
            continue
        a = r.get("source_start_s") if r.get("source_start_s") is not None else (r.get("start_s") or 0.0)
        b = r.get("source_end_s") if r.get("source_end_s") is not None else (r.get("end_s") or r["duration_s"])
        want = [min(2, int(a + (k + 0.5) * (b - a) / 3)) for k in range(3)]
        img = decode_strip(tag)
        w = img.shape[1] // 3
        got = [synth.nearest_palette(img[:, k * w : (k + 1) * w].reshape(-1, 3).mean(0)[::-1]) for k in range(3)]
        assert got == want, (r["path"], a, b)
        checked += 1
    assert checked >= 1
    # rejected examples grouped by reason; the broken file gets a placeholder and its error, also in the error table
    assert "Rejected: <code>duration_s &gt;= 1.0 (dmin)</code>" in page
    assert "Rejected: <code>error: probe:invalid_data</code>" in page
    assert re.search(r'class="nostrip"[^>]*>no frames<', page)
    errors = re.search(r'<section id="errors">.*?</section>', page, re.S)
    assert errors is not None and "broken.mp4" in errors.group(0) and "probe:invalid_data" in errors.group(0)
    # funnel and timing per stage, from summary.json
    funnel = re.search(r'<section id="funnel">.*?</section>', page, re.S).group(0)  # type: ignore[union-attr]
    assert "01-probe" in funnel and "02-filter" in funnel and "duration_s &gt;= 1.0 (dmin) <b>1</b>" in funnel
    assert re.search(r'<section id="time">.*02-filter.*rows/s', page, re.S)
    # thumbnails are cached in the run folder (the broken file's failure too, so it is not retried)
    assert len(list((demo_run / "thumbs").glob("*.jpg"))) == len(strips)
    assert len(list((demo_run / "thumbs").glob("*.err"))) == 1


def decode_strip(img_tag: str) -> np.ndarray:
    b64 = re.search(r'src="data:image/jpeg;base64,([^"]+)"', img_tag).group(1)  # type: ignore[union-attr]
    return cv2.imdecode(np.frombuffer(base64.b64decode(b64), np.uint8), cv2.IMREAD_COLOR)


def hist_svg(page: str, column: str) -> str:
    m = re.search(rf'<svg class="hist"[^>]*data-column="{column}".*?</svg>', page, re.S)
    assert m is not None, f"no histogram of {column}"
    return m.group(0)


def test_report_renders_offline_in_chromium(demo_run: Path, tmp_path: Path) -> None:
    requests: list[str] = []
    problems: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(offline=True, viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.on("request", lambda r: requests.append(r.url))
        page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.goto((demo_run / "report.html").as_uri())
        page.wait_for_load_state("load")
        hists = page.eval_on_selector_all(
            "#distributions > .hists svg.hist",
            "els => els.map(e => { const b = e.getBoundingClientRect(); "
            "return {w: b.width, h: b.height, bars: e.querySelectorAll('rect.k, rect.r').length, "
            "cuts: e.querySelectorAll('line.cut').length}; })",
        )
        imgs = page.eval_on_selector_all(
            "img.strip",
            "els => els.map(e => { const b = e.getBoundingClientRect(); "
            "return {w: b.width, h: b.height, nw: e.naturalWidth, done: e.complete}; })",
        )
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        browser.close()
    assert requests == [(demo_run / "report.html").as_uri()]  # the page itself, nothing else
    assert problems == []  # no CSP violation, no script error
    assert len(hists) >= 6 and all(h["w"] > 200 and h["h"] > 90 and h["bars"] > 0 for h in hists)
    assert sum(h["cuts"] for h in hists) >= 3  # dmin on duration_s, min_side on width and height
    assert len(imgs) == (demo_run / "report.html").read_text().count('<img class="strip"') >= 4 and all(
        i["done"] and i["nw"] > 0 and i["w"] > 100 and i["h"] > 20 for i in imgs
    )
    assert (tmp_path / "report.png").stat().st_size > 50_000


# --- pieces ----------------------------------------------------------------------------------------


def test_thresholds_from_stage_configs() -> None:
    where = (
        "fps >= 15 AND codec != 'x > 3' AND 0.5 < \"motion_flow_mean\" AND duration_s BETWEEN 2 AND 10.5 "
        "AND ocr_area_ratio NOT BETWEEN 1 AND 2 AND least(width, height) >= 3 AND aesthetic<4.5e0"
    )
    parsed = rd.parse_where(where, "03-filter")
    assert {t.clause for t in parsed if t.column == "motion_flow_mean"} == {"0.5 < motion_flow_mean"}
    got = {(t.column, t.op, t.value) for t in parsed}
    assert got == {
        ("fps", ">=", 15.0),
        ("motion_flow_mean", ">", 0.5),
        ("duration_s", ">=", 2.0),
        ("duration_s", "<=", 10.5),
        ("aesthetic", "<", 4.5),
    }
    stages = [
        rd.StageInfo(name="probe", dirname="01-probe", config={"decode_check": "ends"}),
        rd.StageInfo(
            name="filter", dirname="02-filter", config={"dmin": 1.0, "fmax": 300, "min_side": 128, "where": "fps > 20"}
        ),
        rd.StageInfo(
            name="score.motion", dirname="03-score.motion", config={"dmin": 5}
        ),  # not a filter: flags mean nothing
    ]
    cuts = {(t.column, t.op, t.value, t.label) for t in rd.thresholds(stages)}
    assert cuts == {
        ("duration_s", ">=", 1.0, "dmin"),
        ("num_frames", "<=", 300.0, "fmax"),
        ("width", ">=", 128.0, "min_side"),
        ("height", ">=", 128.0, "min_side"),
        ("fps", ">", 20.0, "where"),
    }


def test_histogram_counts_match_the_manifest(demo_run: Path) -> None:
    run = rd.open_run(demo_run)
    try:
        main, more = rd.numeric_columns(run)
        assert main[:3] == ["duration_s", "width", "height"]  # thresholded columns first
        assert "size_bytes" in more
        cuts = rd.thresholds(run.stages)
        for col in ("duration_s", "num_frames", "size_bytes"):
            h = hist.histogram(run, col, cuts)
            assert h is not None
            kept = [r[col] for r in pq.read_table(demo_run / "manifest.parquet").to_pylist()]
            rej = [r[col] for r in pq.read_table(demo_run / "rejected.parquet").to_pylist()]
            assert sum(h.kept) == sum(v is not None for v in kept) and h.missing_kept == sum(v is None for v in kept)
            assert sum(h.rejected) == sum(v is not None for v in rej) and h.missing_rejected == 1
            vals = [v for v in kept + rej if v is not None]
            assert h.edges[0] <= min(vals) and h.edges[-1] >= max(vals)
        nf = hist.histogram(run, "num_frames", cuts)
        frames = [r["num_frames"] for r in pq.read_table(demo_run / "manifest.parquet").to_pylist()]
        assert nf is not None and nf.lo <= min(frames) and nf.integer == (nf.hi - nf.lo < hist.MAX_INT_BINS)
        if nf.integer:  # one bar per frame count, centred on it
            assert nf.edges == [nf.lo - 0.5 + k for k in range(len(nf.edges))]
    finally:
        run.close()


def test_log_axis_for_widely_spread_values(tmp_path: Path) -> None:
    """Durations from 0.2 s to 10 min: bins equal in log10, the 1 s cut-off between the 0.5 s and 2 s bars."""

    import pyarrow as pa

    run = tmp_path / "run"
    (run / "02-filter").mkdir(parents=True)
    kept = [0.2, 0.5, 2.0, 5.0, 30.0, 600.0]
    pq.write_table(
        pa.table({"id": [f"k{i}" for i in range(6)], "path": ["x"] * 6, "duration_s": kept}), run / "manifest.parquet"
    )
    pq.write_table(
        pa.table({"id": ["r"], "path": ["y"], "duration_s": [0.1], "reject_reason": ["dmin"]}), run / "rejected.parquet"
    )
    (run / "summary.json").write_text(json.dumps({"stages": [{"name": "filter", "dirname": "02-filter"}]}))
    (run / "02-filter" / "_stage.json").write_text(json.dumps({"config": {"dmin": 1.0}}))
    r = rd.open_run(run)
    try:
        h = hist.histogram(r, "duration_s", rd.thresholds(r.stages))
    finally:
        r.close()
    assert h is not None and h.log and h.edges[0] == pytest.approx(0.1) and h.edges[-1] == pytest.approx(600)
    ratios = [b / a for a, b in zip(h.edges, h.edges[1:], strict=False)]
    assert max(ratios) == pytest.approx(min(ratios))  # geometric bins
    assert sum(h.kept) == 6 and sum(h.rejected) == 1 and h.rejected[0] == 1
    drawn = svg_mod.histogram(h)
    cut = float(re.search(r'<line class="cut" x1="([\d.]+)"', drawn).group(1))  # type: ignore[union-attr]
    xs = sorted(float(x) for x in re.findall(r'<rect class="k" x="([\d.]+)"', drawn))
    assert xs[1] < cut < xs[2]  # 0.5 s left of the line, 2 s right of it
    assert '<text class="xtick" x="' in drawn and ">100<" in drawn and ">1<" in drawn  # decade ticks


def test_thumbnail_frames_come_from_the_span(tmp_path: Path) -> None:
    v = synth.counter(tmp_path / "counter.mp4", num_frames=96, size=(320, 240))  # 4 s at 24 fps
    frames = thumbs.sample_frames(v.path, start_s=1.0, end_s=3.0, n=4, max_side=320)
    # targets at 1.25, 1.75, 2.25, 2.75 s -> frames 30, 42, 54, 66
    assert [synth.read_counter(f) for _, f in frames] == [30, 42, 54, 66]
    # a long span samples each frame with its own short seek: same frames, without decoding the whole span
    stats: list[int] = []
    real = decode.sample

    def counting(*a: object, **k: object) -> dict:
        out = real(*a, **k)  # type: ignore[arg-type]
        stats.append(1)
        return out

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(decode, "sample", counting)
        frames = thumbs.sample_frames(v.path, start_s=1.0, end_s=3.0, n=4, max_side=320, long_span_s=1.0)
    assert len(stats) == 4
    assert [synth.read_counter(f) for _, f in frames] == [30, 42, 54, 66]


def test_thumbnails_of_a_long_clip_decode_only_its_key_frames(tmp_path: Path) -> None:
    v = synth.counter(tmp_path / "counter.mp4", num_frames=240, size=(320, 240), gop=12)  # 10 s, a key frame each 0.5 s
    decoded: list[int] = []
    real = decode._decode

    def counting(*a: Any, **k: Any) -> Any:
        for d in real(*a, **k):
            decoded.append(synth.read_counter(d.frame.to_ndarray(format="rgb24")))
            yield d

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(decode, "_decode", counting)
        frames = thumbs.sample_frames(v.path, start_s=1.0, end_s=9.0, n=4, max_side=320)
    with av.open(str(v.path)) as c:  # where the encoder put key frames (x264 adds some at its own choice)
        keys = sorted(round(float(p.pts * p.time_base) * 24) for p in c.demux(c.streams.video[0]) if p.is_keyframe)
    in_span = [k for k in keys if 24 <= k < 216]
    assert len(in_span) >= 15
    assert decoded == in_span  # nothing but the key frames of [1, 9) s was decoded
    spread = [in_span[min(len(in_span) - 1, int((i + 0.5) * len(in_span) / 4))] for i in range(4)]
    assert [synth.read_counter(f) for _, f in frames] == spread
    # a span with fewer key frames than the strip needs: the frames nearest the targets, as before
    few = thumbs.sample_frames(v.path, start_s=1.0, end_s=2.2, n=4, max_side=320)
    assert [synth.read_counter(f) for _, f in few] == [28, 35, 42, 49]  # targets 1.15, 1.45, 1.75, 2.05 s


def test_thumbnail_cache(tmp_path: Path) -> None:
    v = synth.scenes(tmp_path / "v" / "scenes.mp4", cuts=(24, 48), num_frames=72)
    run = tmp_path / "run"
    clip = thumbs.Clip(id="a/b:c", path=str(v.path), start_s=0.0, end_s=3.0)
    first = thumbs.thumbnail(clip, run)
    assert first.jpeg is not None and first.path is not None and first.path.parent == run / "thumbs"
    assert first.path.name.startswith("a_b_c-")  # a safe file name whatever the id
    img = cv2.imdecode(np.frombuffer(first.jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert img.shape == (120, 480, 3)
    with pytest.MonkeyPatch.context() as mp:  # a cache hit decodes nothing
        mp.setattr(decode, "sample", lambda *a, **k: pytest.fail("decoded again"))
        again = thumbs.thumbnail(clip, run)
    assert again.jpeg == first.jpeg
    # another span is another thumbnail
    other = thumbs.thumbnail(thumbs.Clip(id="a/b:c", path=str(v.path), start_s=2.0, end_s=3.0), run)
    assert other.path != first.path and other.jpeg != first.jpeg
    # a file that does not decode: the reason, cached
    bad = tmp_path / "v" / "bad.mp4"
    bad.write_bytes(b"\x00" * 1000)
    t = thumbs.thumbnail(thumbs.Clip(id="bad", path=str(bad)), run)
    assert t.jpeg is None and t.error and "bad.mp4" in t.error
    assert len(list((run / "thumbs").glob("bad-*.err"))) == 1
    # a read-only place for the cache still gives the thumbnail
    assert thumbs.thumbnail(clip, None).jpeg is not None


def test_run_writes_the_report_and_survives_a_report_failure(tmp_path: Path) -> None:
    from vidcurate.cli import app

    vids = tmp_path / "videos"
    synth.static(vids / "a.mp4", num_frames=30)
    (vids / "b.mp4").write_bytes(b"")
    recipe = tmp_path / "probe.yaml"  # probe + filter: the report hook is what this test is about, not scoring
    recipe.write_text("name: quick\nstages:\n  - probe: {}\n  - filter: {drop_errors: true}\n")
    args = ["run", str(recipe), "--input", str(vids), "--workers", "1", "--no-progress"]
    r = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "run")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "run" / "report.html").is_file() and "report in" in r.output
    assert "a.mp4" in (tmp_path / "run" / "report.html").read_text()

    def broken(*a: object, **k: object) -> Path:
        raise RuntimeError("disk full")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("vidcurate.report.html.write_report", broken)
        r = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "run2")])
    assert r.exit_code == 0, r.output
    assert "warning" in r.output and "report was not written: disk full" in r.output
    assert (tmp_path / "run2" / "manifest.parquet").is_file() and not (tmp_path / "run2" / "report.html").exists()


def test_report_command(demo_run: Path, tmp_path: Path) -> None:
    from vidcurate.cli import app

    out = tmp_path / "elsewhere" / "r.html"
    r = CliRunner().invoke(app, ["report", str(demo_run), "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert out.is_file() and '<svg class="hist"' in out.read_text()
    r = CliRunner().invoke(app, ["report", str(tmp_path / "nope")])
    assert r.exit_code != 0 and "does not exist" in str(r.exception)
    manifest = (demo_run / "manifest.parquet").read_bytes()
    r = CliRunner().invoke(app, ["report", str(demo_run), "-o", str(demo_run / "manifest.parquet")])
    assert r.exit_code != 0 and "must be an .html file" in str(r.exception)
    assert (demo_run / "manifest.parquet").read_bytes() == manifest  # the user's data is untouched


@pytest.mark.parametrize("group_rows", [2048, 1024])  # 30 row groups: DuckDB's vector sample; 59: whole groups
def test_a_big_run_is_summarised_from_a_sample(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, group_rows: int
) -> None:
    """Past SAMPLE_ROWS rows the histograms come from a block sample, scaled back up and labelled."""
    import pyarrow as pa

    rng = np.random.default_rng(0)
    n = 60_000
    run = tmp_path / "run"
    run.mkdir()
    table = pa.table({"id": [f"k{i}" for i in range(n)], "path": ["x"] * n, "aesthetic": rng.uniform(1, 10, n)})
    pq.write_table(table, run / "manifest.parquet", row_group_size=group_rows)
    (run / "summary.json").write_text(json.dumps({"stages": []}))
    monkeypatch.setattr(rd, "SAMPLE_ROWS", 20_000)
    r = rd.open_run(run)
    try:
        h = hist.histograms(r, ["aesthetic"], [])["aesthetic"]
    finally:
        r.close()
    assert 0.2 <= h.sample <= 0.5 and sum(h.kept) == pytest.approx(n, rel=0.05)  # scaled to the whole run
    assert max(h.kept) / min(h.kept) < 1.5  # still uniform
    from vidcurate.report.html import render

    page = render(rd.open_run(run))
    assert "estimated from a" in page and "% sample of the rows" in page
