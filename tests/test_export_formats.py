"""Exporters other than LLaMA-Factory: llava, webdataset, opensora, parquet, frames, and --materialize.

Each output is read back with the tool that consumes it (the `webdataset` library, Hugging Face
`datasets`, csv, PyAV) and compared with ground truth: source bytes, counter frames whose index
is drawn into the pixels, probed sizes of a real rotated phone video.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import subprocess
import tarfile
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import cv2
import datasets
import numpy as np
import pytest
import webdataset as wds

from conftest import SHARED_ANNOTATIONS, cli_inprocess, shared_video
from vidcurate.core import schema
from vidcurate.core.errors import ConfigError
from vidcurate.export import frames as frames_mod
from vidcurate.export.command import parse_bytes
from vidcurate.export.driver import EmptyExport, export
from vidcurate.io.decode import iter_frames
from vidcurate.io.manifest import write_manifest
from vidcurate.io.probe import probe_file
from vidcurate.testing import synth

PROBED = ("duration_s", "fps", "num_frames", "width", "height", "aspect_ratio")


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("exp") / "media"
    out = {
        "counter": synth.counter(root / "counter.mp4", num_frames=48, fps=24, size=(160, 120)).path,
        "static": synth.static(root / "sub" / "static.mp4", num_frames=24, fps=12, size=(96, 64)).path,
    }
    img = np.full((48, 64, 3), 128, np.uint8)
    cv2.imwrite(str(root / "pic.jpg"), img)
    out["image"] = root / "pic.jpg"
    (root / "bad.mp4").write_text("not a video")
    out["bad"] = root / "bad.mp4"
    out["root"] = root
    return out


def probed(path: Path, **row: Any) -> dict[str, Any]:
    info = probe_file(path)
    return {"path": str(path), **{k: info[k] for k in PROBED}, **row}


def qa(q: str = "What?", a: str = "This.", token: str = "<video>") -> list[dict[str, str]]:
    return [{"from": "human", "value": f"{token}\n{q}"}, {"from": "gpt", "value": a}]


def manifest(tmp_path: Path, rows: list[dict[str, Any]], name: str = "m.parquet") -> Path:
    p = tmp_path / name
    write_manifest(schema.from_rows(rows), p)
    return p


def sha(p: Path | bytes) -> str:
    return hashlib.sha1(p if isinstance(p, bytes) else Path(p).read_bytes()).hexdigest()


def counters(folder: Path) -> list[int]:
    return [synth.read_counter(cv2.imread(str(f))[..., ::-1]) for f in sorted(folder.glob("*.jpg"))]


# --- llava ---------------------------------------------------------------------------------------


def test_llava_records_and_paths(tmp_path: Path, media: dict[str, Path]) -> None:
    rows = [
        probed(
            media["counter"],
            id="mc-1",
            conversations=qa("Pick one.\nA. red\nB. blue", "B. blue"),
            query="Pick one.\nA. red\nB. blue",
            options=["red", "blue"],
            answer_index=1,
            answer="blue",
            start_s=0.5,
            end_s=1.5,
        ),
        {"id": "img", "path": str(media["image"]), "media": "image", "conversations": qa(token="<image>")},
        {"id": "no-conv", "path": str(media["static"])},
    ]
    m = manifest(tmp_path, rows)
    res = export("llava", m, dict(out=tmp_path / "out" / "train.json", media_root=media["root"]))
    assert (res.written, dict(res.skipped)) == (2, {"no conversations": 1})
    recs = json.loads((tmp_path / "out" / "train.json").read_text())
    assert recs[0] == {
        "id": "mc-1",
        "video": "counter.mp4",
        "conversations": qa("Pick one.\nA. red\nB. blue", "B. blue", token="<image>"),  # LLaVA-NeXT's token
        "query": "Pick one.\nA. red\nB. blue",
        "answer": "blue",
        "options": ["red", "blue"],
        "answer_index": 1,
        "start_s": 0.5,
        "end_s": 1.5,
    }
    assert recs[1]["image"] == "pic.jpg" and "video" not in recs[1]
    assert res.notes == [
        "1 rows have a span (start_s/end_s) written as metadata: a trainer that ignores it sees the whole video; "
        "--materialize cuts each span into its own clip"
    ]
    # the default root is the JSON's folder: media elsewhere are refused unless --absolute
    with pytest.raises(
        EmptyExport,
        match=r"no row can be exported, nothing written \(3 skipped: "
        r"path outside media root: 2, no conversations: 1\)",
    ):
        export("llava", m, dict(out=tmp_path / "o2" / "t.json"))
    assert not (tmp_path / "o2" / "t.json").exists()
    res = export("llava", m, dict(out=tmp_path / "o4" / "t.json", media_root=media["root"], media_token="<video>"))
    recs = json.loads((tmp_path / "o4" / "t.json").read_text())
    assert recs[0]["conversations"][0]["value"].startswith("<video>\n")  # LLaMA-Factory-style code
    assert recs[1]["conversations"][0]["value"].startswith("<image>\n")  # an image stays <image>
    res = export("llava", m, dict(out=tmp_path / "o3", absolute=True, name="abs"))
    assert [
        r["video" if "video" in r else "image"] for r in json.loads((tmp_path / "o3" / "abs.json").read_text())
    ] == [
        str(media["counter"]),
        str(media["image"]),
    ]


# --- webdataset ----------------------------------------------------------------------------------


def test_webdataset_shards_read_back(tmp_path: Path, media: dict[str, Path]) -> None:
    rows = [
        probed(media["counter"], id="a.b/c", conversations=qa(), start_s=0.25, end_s=1.0),
        probed(media["static"], id="s1", caption="a still frame"),
        {"id": "img", "path": str(media["image"]), "media": "image"},
        probed(media["static"], id="s2"),
        probed(media["counter"], id="c2"),
        {"id": "gone", "path": str(media["root"] / "missing.mp4")},
    ]
    m = manifest(tmp_path, rows, "wds.parquet")
    out = tmp_path / "shards"
    res = export("webdataset", m, dict(out=out, shard_size=2))
    assert res.written == 5 and dict(res.skipped) == {"media file not found": 1}
    assert res.notes[0].endswith("(3 media files, each stored once, holding 5 rows)")
    shards = sorted(out.glob("wds-*.tar"))
    assert [p.name for p in shards] == ["wds-000000.tar", "wds-000001.tar"]
    samples = list(wds.WebDataset([str(p) for p in shards], shardshuffle=False, empty_check=False))
    assert [s["__key__"] for s in samples] == ["a_b_c", "img", "s1"]  # one sample per file, sorted by path
    src = {"a_b_c": media["counter"], "s1": media["static"], "img": media["image"]}
    for s in samples:
        blob = s.get("mp4", s.get("jpg"))
        assert blob is not None and sha(blob) == sha(src[s["__key__"]])
    doc = json.loads(samples[0]["json"])
    assert (doc["path"], doc["media"]) == (str(media["counter"]), "video")
    first, second = doc["rows"]
    assert (first["id"], second["id"]) == ("a.b/c", "c2")  # every row of the file, in manifest order
    assert first["conversations"] == qa() and (first["start_s"], first["end_s"]) == (0.25, 1.0)
    assert first["path"] == str(media["counter"]) and "error" not in first and "start_s" not in second
    assert [r["id"] for r in json.loads(samples[2]["json"])["rows"]] == ["s1", "s2"]
    assert json.loads(samples[2]["json"])["rows"][0]["caption"] == "a still frame"
    umask = os.umask(0)
    os.umask(umask)
    assert shards[0].stat().st_mode & 0o777 == 0o666 & ~umask  # published like any new file, not 0600
    # a byte bound: no shard above it unless it holds a single sample
    limit = media["counter"].stat().st_size + media["static"].stat().st_size + 4096
    res = export("webdataset", m, dict(out=out, shard_bytes=limit))
    shards = sorted(out.glob("wds-*.tar"))
    per_shard = []
    for p in shards:
        with tarfile.open(p) as t:
            per_shard.append(len(t.getnames()) // 2)
        assert p.stat().st_size <= limit or per_shard[-1] == 1
    assert sum(per_shard) == 3 and max(per_shard) > 1
    res = export("webdataset", m, dict(out=out, shard_size=100))
    assert [p.name for p in sorted(out.glob("wds-*.tar"))] == ["wds-000000.tar"]  # stale shards removed


def test_webdataset_stores_each_video_of_a_qa_dataset_once(tmp_path: Path) -> None:
    """ActivityNet-QA asks ~10 questions per video: the tars hold each video once, not once per question."""
    from vidcurate.datasets import Settings, convert_to_file

    questions = json.loads((SHARED_ANNOTATIONS / "activitynet_qa" / "val_q.json").read_text())
    names = list(dict.fromkeys(q["video_name"] for q in questions))[:4]
    videos = tmp_path / "videos"
    videos.mkdir()
    for n in names:
        synth.counter(videos / f"v_{n}.mp4", num_frames=6, fps=6, size=(64, 48))
    m = tmp_path / "anetqa.parquet"
    convert_to_file(
        "activitynet-qa", [SHARED_ANNOTATIONS / "activitynet_qa"], m, Settings(video_root=videos, split="val")
    )
    asked = sum(1 for q in questions if q["video_name"] in names)
    res = export("webdataset", m, dict(out=tmp_path / "wds", shard_size=3))
    assert res.written == asked and asked >= 3 * len(names)
    members = []
    for p in sorted((tmp_path / "wds").glob("*.tar")):
        with tarfile.open(p) as t:
            members += t.getnames()
    assert sum(n.endswith(".mp4") for n in members) == len(names)
    ds = wds.WebDataset(sorted(str(p) for p in (tmp_path / "wds").glob("*.tar")), shardshuffle=False)
    got = {}
    for s in ds.decode():
        rows = s["json"]["rows"]
        assert s["mp4"] == (videos / Path(s["json"]["path"]).name).read_bytes()
        got[Path(s["json"]["path"]).stem] = len(rows)
    assert got == {f"v_{n}": sum(1 for q in questions if q["video_name"] == n) for n in names}


# --- opensora ------------------------------------------------------------------------------------


def test_opensora_csv_aspect_is_height_over_width(tmp_path: Path, media: dict[str, Path]) -> None:
    phone = shared_video("16_dec_video_90.mov")  # coded 568x320, rotated -90: displayed 320x568
    rows = [
        probed(phone, id="phone", caption="a hand"),
        probed(media["counter"], id="span", caption="counting", start_s=0.5, end_s=1.5),
        {"id": "raw", "path": str(media["static"]), "caption": "not probed"},
        probed(media["static"], id="mute"),
    ]
    res = export("opensora", manifest(tmp_path, rows), dict(out=tmp_path / "meta.csv"))
    assert res.written == 2
    assert dict(res.skipped) == {"not probed": 1, "no caption": 1}
    with open(tmp_path / "meta.csv", newline="") as f:
        reader = csv.DictReader(f)
        header = reader.fieldnames
        got = {r["id"]: r for r in reader}
    assert header[:8] == ["path", "text", "num_frames", "height", "width", "aspect_ratio", "fps", "resolution"]
    p = got["phone"]
    assert (p["path"], p["text"], int(p["height"]), int(p["width"])) == (str(phone), "a hand", 568, 320)
    assert float(p["aspect_ratio"]) == pytest.approx(568 / 320)  # Open-Sora: height / width
    assert int(p["resolution"]) == 568 * 320 and int(p["num_frames"]) == 3
    s = got["span"]
    assert int(s["num_frames"]) == 24 and float(s["aspect_ratio"]) == pytest.approx(0.75)
    assert (float(s["start_s"]), float(s["end_s"]), float(s["fps"])) == (0.5, 1.5, 24.0)


# --- parquet -------------------------------------------------------------------------------------


def test_parquet_loads_with_hf_datasets(tmp_path: Path, media: dict[str, Path]) -> None:
    rows = [
        probed(media["counter"], id="c", conversations=qa("Q1", "A1"), options=["x", "y"], answer_index=0, note=None),
        probed(media["static"], id="s", caption="still", note=None),
        {"id": "e", "path": str(media["static"]), "error": "probe: x", "error_kind": "probe:x"},
    ]
    m = manifest(tmp_path, rows)
    out = tmp_path / "hf" / "train.parquet"
    res = export("parquet", m, dict(out=out, media_root=media["root"]))
    assert res.written == 2 and dict(res.skipped) == {"row has an error": 1}
    ds = datasets.load_dataset("parquet", data_files=str(out), split="train", cache_dir=str(tmp_path / "cache"))
    assert ds.num_rows == 2
    assert "error" not in ds.column_names and "error_kind" not in ds.column_names
    conv = ds.features["conversations"]
    inner = getattr(conv, "feature", conv[0] if isinstance(conv, list) else conv)
    assert set(inner) == {"from", "value"}
    first, second = ds[0], ds[1]
    assert first["path"] == "counter.mp4" and second["path"] == "sub/static.mp4"
    assert first["conversations"] == qa("Q1", "A1") and first["options"] == ["x", "y"] and first["answer_index"] == 0
    assert second["conversations"] is None and second["caption"] == "still" and second["note"] is None
    assert first["width"] == 160 and first["num_frames"] == 48 and first["media"] == "video"


# --- frames --------------------------------------------------------------------------------------


def test_frames_at_fps_and_count_decode_once(tmp_path: Path, media: dict[str, Path], monkeypatch: Any) -> None:
    calls: list[str] = []
    real = frames_mod.sample_frames

    def counting(path: Any, *a: Any, **k: Any) -> Any:
        calls.append(Path(path).name)
        return real(path, *a, **k)

    monkeypatch.setattr(frames_mod, "sample_frames", counting)
    rows = [
        probed(media["counter"], id="whole", caption="c"),
        probed(media["counter"], id="span", start_s=1.0, end_s=2.0),
        probed(media["static"], id="still"),
        {"id": "bad", "path": str(media["bad"])},
        {"id": "pic", "path": str(media["image"]), "media": "image"},
    ]
    m = manifest(tmp_path, rows)
    out = tmp_path / "frames"
    res = export("frames", m, dict(out=out, fps=4, workers=2))
    assert res.written == 3
    assert res.skipped["frames failed"] + res.skipped["not a video"] == 2
    assert counters(out / "whole") == [0, 6, 12, 18, 24, 30, 36, 42]
    assert counters(out / "span") == [24, 30, 36, 42]
    assert len(list((out / "still").glob("*.jpg"))) == 8
    assert sorted(calls) == ["bad.mp4", "counter.mp4", "counter.mp4", "static.mp4"]  # one decode per video
    index = [json.loads(x) for x in (out / "m.jsonl").read_text().splitlines()]
    assert [r["id"] for r in index] == ["whole", "span", "still"]  # manifest order despite threads
    assert index[1]["times_s"] == pytest.approx([1.0, 1.25, 1.5, 1.75]) and index[1]["frames_dir"] == "span"
    assert index[0]["caption"] == "c" and index[0]["frames"] == 8
    img = cv2.imread(str(out / "whole" / "000001.jpg"))
    assert img.shape == (120, 160, 3)
    # a count spread over the span; a rerun replaces the folders and leaves no temp dirs
    res = export("frames", m, dict(out=out, num_frames=3, max_side=80))
    assert counters(out / "whole") == [8, 24, 40]
    assert cv2.imread(str(out / "whole" / "000001.jpg")).shape == (60, 80, 3)
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_frames_long_span_in_windows_gives_the_same_frames(
    tmp_path: Path, media: dict[str, Path], monkeypatch: Any
) -> None:
    m = manifest(tmp_path, [probed(media["counter"], id="w")])
    export("frames", m, dict(out=tmp_path / "one", fps=12))
    monkeypatch.setattr(frames_mod, "_WINDOW_BYTES", 1)  # 8 frames per window: 3 windows of 2/3 s
    export("frames", m, dict(out=tmp_path / "win", fps=12))
    assert counters(tmp_path / "win" / "w") == counters(tmp_path / "one" / "w") == list(range(0, 48, 2))
    # unknown duration: windows until one comes back empty
    m2 = manifest(tmp_path, [{"id": "nodur", "path": str(media["counter"])}], "m2.parquet")
    export("frames", m2, dict(out=tmp_path / "nodur", fps=12))
    assert counters(tmp_path / "nodur" / "nodur") == list(range(0, 48, 2))


def test_frames_of_a_real_corrupt_file(tmp_path: Path) -> None:
    bad = shared_video("17_dec_corrupted.mp4")  # 10 fps, 5 s, the packet at 3.0 s is corrupt
    m = manifest(tmp_path, [probed(bad, id="corrupt")])
    res = export("frames", m, dict(out=tmp_path / "f", fps=1))
    assert res.written == 1
    rec = json.loads((tmp_path / "f" / "m.jsonl").read_text())
    assert 4 <= rec["frames"] <= 5 and rec["times_s"][:3] == [0.0, 1.0, 2.0]


# --- spans as clips ------------------------------------------------------------------------------


def test_materialize_cuts_spans_with_the_cut_stage(tmp_path: Path, media: dict[str, Path]) -> None:
    rows = [
        probed(media["counter"], id="clip", conversations=qa(), start_s=0.5, end_s=1.5),
        probed(media["static"], id="whole", conversations=qa()),
    ]
    out = tmp_path / "ds"
    res = export("llava", manifest(tmp_path, rows), dict(out=out / "train.json", materialize=True))
    assert res.written == 1 and res.skipped == {"path outside media root": 1}  # whole file lives elsewhere
    res = export("llava", manifest(tmp_path, rows), dict(out=out / "train.json", materialize=True, absolute=True))
    assert res.written == 2
    recs = json.loads((out / "train.json").read_text())
    clip = Path(recs[0]["video"])
    assert clip == out / "clips" / "clip.mp4" and clip.is_file()
    assert recs[0]["clip_of"] == str(media["counter"]) and (recs[0]["clip_start_s"], recs[0]["clip_end_s"]) == (
        0.5,
        1.5,
    )
    assert "start_s" not in recs[0] and recs[1]["video"] == str(media["static"])
    got = [synth.read_counter(d.frame.to_ndarray(format="rgb24")) for d in iter_frames(clip)]
    assert abs(len(got) - 24) <= 1 and abs(got[0] - 12) <= 1 and got == list(range(got[0], got[0] + len(got)))


# --- command line --------------------------------------------------------------------------------


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return cli_inprocess(*args)


def test_cli_list_and_one_line_errors(tmp_path: Path, media: dict[str, Path]) -> None:
    r = cli("export", "--list")
    assert r.returncode == 0
    names = [line.split()[0] for line in r.stdout.splitlines() if line.strip()]
    assert names == ["llava", "llamafactory", "webdataset", "opensora", "parquet", "frames"]
    m = manifest(tmp_path, [probed(media["counter"], id="c")])
    r = cli("export", "lava", str(m), "-o", str(tmp_path / "x"))
    assert r.returncode == 2 and "unknown export format 'lava'; did you mean 'llava'?" in r.stderr
    r = cli("export", "frames", str(m), "-o", str(tmp_path / "x"), "--fps", "1", "--num-frames", "3")
    assert r.returncode == 2 and "--fps or --num-frames, not both" in r.stderr
    assert [parse_bytes(x) for x in ("1M", "500k", "2GB", "123")] == [10**6, 5 * 10**5, 2 * 10**9, 123]
    with pytest.raises(ConfigError, match="--shard-bytes"):
        parse_bytes("lots")
