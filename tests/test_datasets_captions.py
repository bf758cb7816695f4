"""Caption datasets without a real sample: fixtures built from FORMATS.md's records, one test per trap."""

from __future__ import annotations

import csv
import io
import json
import tarfile
import zipfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from vidcurate.datasets import Settings, convert
from vidcurate.datasets.prompts import POOLS
from vidcurate.testing import synth


def write_csv(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def check_caption_row(r: dict, caption: str, token: str = "<video>") -> None:
    assert r["caption"] == caption
    assert r["query"] in POOLS["video_caption" if token == "<video>" else "image_caption"]
    assert r["conversations"] == [
        {"from": "human", "value": f"{token}\n{r['query']}"},
        {"from": "gpt", "value": caption},
    ]


# --- WebVid tar layout ---------------------------------------------------------------------------


def test_webvid_tar_json_layout_and_extract_never_overwrites(tmp_path: Path) -> None:
    tar = tmp_path / "00000.tar"
    meta = {"crf": 23, "duration": 11.39, "fps": 16, "height": 336, "num_frames": 683, "text": "a dog runs"}
    with tarfile.open(tar, "w") as tf:
        for name, data in (
            ("1041376159.mp4", b"video-bytes"),
            ("1041376159.json", json.dumps(meta).encode()),
            ("1041376160.json", b"{not json"),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    root = tmp_path / "videos"
    res = convert("webvid", [tar], Settings(video_root=root), {"extract": "true"})
    rows = res.table.to_pylist()
    assert len(rows) == 1
    r = rows[0]
    check_caption_row(r, "a dog runs")
    assert (r["source_id"], r["path"]) == ("1041376159", str(root / "1041376159.mp4"))
    assert (r["duration_s"], r["fps"], r["num_frames"], r["height"]) == (11.39, 16.0, 683, 336)
    assert (root / "1041376159.mp4").read_bytes() == b"video-bytes"
    assert res.issues.count == 1 and res.issues.messages[0].startswith(f"{tar}!1041376160.json: not valid JSON")
    # a different file already there is never overwritten: reported, kept
    (root / "1041376159.mp4").write_bytes(b"mine")
    res = convert("webvid", [tar], Settings(video_root=root), {"extract": "true"})
    assert (root / "1041376159.mp4").read_bytes() == b"mine"
    assert any("already exists with different content" in m for m in res.issues.messages)


# --- InternVid ---------------------------------------------------------------------------------


def test_internvid_hms_spans(tmp_path: Path) -> None:
    f = tmp_path / "InternVid-10M-flt.jsonl"
    recs = [
        {
            "YoutubeID": "HdYoyzCSWyw",
            "Start_timestamp": "00:03:10.567",
            "End_timestamp": "00:03:11.200",
            "Caption": "woman using a computer mouse and keyboard",
            "Aesthetic_Score": 4.589844,
            "UMT_Score": 0.397949,
        },
        {"YoutubeID": "-abc_def", "Start_timestamp": "01:00:00.000", "End_timestamp": "bad", "Caption": "x"},
    ]
    f.write_text("\n".join(json.dumps(r) for r in recs) + "\n")
    res = convert("internvid", [f], Settings(video_root=tmp_path))
    a, b = res.table.to_pylist()
    check_caption_row(a, "woman using a computer mouse and keyboard")
    assert a["path"] == str(tmp_path / "HdYoyzCSWyw.mp4")
    assert a["start_s"] == pytest.approx(190.567) and a["end_s"] == pytest.approx(191.2)
    assert (a["aesthetic"], a["umt_score"]) == (4.589844, 0.397949)
    # a bad timestamp: an error row for the known video, reported with its line
    assert b["path"] == str(tmp_path / "-abc_def.mp4") and b["error_kind"] == "convert:bad_record"
    assert "not a timestamp" in b["error"]
    assert res.issues.messages[0].startswith(f"{f}:2: ")


# --- OpenVid -----------------------------------------------------------------------------------


def test_openvid_mp4_not_doubled(tmp_path: Path) -> None:
    f = write_csv(
        tmp_path / "OpenVid-1M.csv",
        ["video", "caption", "aesthetic score", "motion score", "temporal consistency score", "camera motion",
         "frame", "fps", "seconds"],
        [
            ["---_iRTHryQ_13_0to241.mp4", "a man talks", 5.1, 3.2, 0.99, "static", 241, 24, 10.0],
            ["noext_clip", "a cat", 4.0, 1.0, 0.9, "pan_right", 48, 24, 2.0],
        ],
    )  # fmt: skip
    rows = convert("openvid", [f], Settings(video_root=tmp_path)).table.to_pylist()
    assert rows[0]["path"] == str(tmp_path / "---_iRTHryQ_13_0to241.mp4")  # not .mp4.mp4
    assert rows[1]["path"] == str(tmp_path / "noext_clip.mp4")
    check_caption_row(rows[0], "a man talks")
    assert (rows[0]["duration_s"], rows[0]["fps"], rows[0]["num_frames"]) == (10.0, 24.0, 241)
    assert (rows[0]["aesthetic"], rows[0]["motion_score"], rows[0]["temporal_consistency"]) == (5.1, 3.2, 0.99)
    assert rows[0]["camera_motion_label"] == "static"


# --- Koala-36M and Panda-70M: Python-repr cells ---------------------------------------------------


def test_koala36m_repr_pair_and_youtube_id(tmp_path: Path) -> None:
    header = ["videoID", "url", "timestamp", "caption", "clarity_score", "aesthetic_score", "motion_score",
              "video_training_stability_score"]  # fmt: skip
    f = write_csv(
        tmp_path / "Koala_36M_1.csv",
        header,
        [
            ["pv97fCP13SE_68", "https://www.youtube.com/watch?v=pv97fCP13SE", "['0:01:02.500', '0:01:10.000']",
             "a street at night", 0.90, 5.34, 22.03, 4.48],
            ["a_b_c_3", "", "['0:00:01.000', '0:00:02.000']", "no url", 0.5, 4.0, 1.0, 1.0],
        ],
    )  # fmt: skip
    rows = convert("koala36m", [f], Settings(video_root=tmp_path)).table.to_pylist()
    assert rows[0]["path"] == str(tmp_path / "pv97fCP13SE.mp4") and rows[0]["source_id"] == "pv97fCP13SE_68"
    assert (rows[0]["start_s"], rows[0]["end_s"]) == (62.5, 70.0)
    assert rows[0]["aesthetic"] == 5.34
    check_caption_row(rows[0], "a street at night")
    assert rows[1]["path"] == str(tmp_path / "a_b_c.mp4")  # videoID.rsplit('_', 1)[0] without a url
    clip = convert("koala36m", [f], Settings(video_root=tmp_path), {"layout": "clip"}).table.to_pylist()
    assert clip[0]["path"] == str(tmp_path / "pv97fCP13SE_68.mp4") and clip[0].get("start_s") is None


def test_panda70m_repr_lists_parsed_safely(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    f = write_csv(
        tmp_path / "panda70m_training_2m.csv",
        ["videoID", "url", "timestamp", "caption", "matching_score"],
        [
            ["-1hTK0wGrTg", "https://www.youtube.com/watch?v=-1hTK0wGrTg",
             "[['0:00:19.227', '0:00:28.278'], ['0:00:30.000', '0:00:35.500']]",
             "['a man is cooking', \"it's raining\"]", "[0.509, 0.43]"],
            ["evilVID", "", f"__import__('os').system('touch {marker}')", "['x']", "[0.1]"],
            ["mismatch", "", "[['0:00:01.0', '0:00:02.0']]", "['a', 'b']", "[0.1, 0.2]"],
        ],
    )  # fmt: skip
    res = convert("panda70m", [f], Settings(video_root=tmp_path))
    rows = res.table.to_pylist()
    assert not marker.exists()  # the cell was never executed
    good = [r for r in rows if r["source_id"] == "-1hTK0wGrTg"]
    assert [(r["clip_index"], r["start_s"], r["end_s"], r["caption"], r["matching_score"]) for r in good] == [
        (0, 19.227, 28.278, "a man is cooking", 0.509),
        (1, 30.0, 35.5, "it's raining", 0.43),
    ]
    assert all(r["path"] == str(tmp_path / "-1hTK0wGrTg.mp4") for r in good)
    assert good[0]["id"] != good[1]["id"]
    evil = [r for r in rows if r["source_id"] == "evilVID"]
    assert len(evil) == 1 and evil[0]["error_kind"] == "convert:bad_record"
    assert "timestamp: not a Python literal" in evil[0]["error"]
    bad = next(r for r in rows if r["source_id"] == "mismatch")
    assert bad["error"] == "convert: 1 timestamps, 2 captions, 2 scores"
    assert [m.split(": ", 1)[0] for m in res.issues.messages] == [f"{f}:3", f"{f}:4"]


# --- Vript ----------------------------------------------------------------------------------------


def vript_doc(vid: str) -> dict:
    clip = {
        "video_id": vid,
        "clip_id": f"{vid}-Scene-001",
        "video_title": "cooking",
        "caption": {
            "shot_type": "close-up",
            "camera_movement": "static",
            "content": "Hands chop an onion on a wooden board.",
            "scene_title": "Chopping",
        },
        "voiceover": ["first we chop"],
    }
    broken = {**clip, "clip_id": f"{vid}-Scene-002", "caption": {"shot_type": "wide"}}
    return {
        "meta": {"video_id": vid, "video_title": "cooking", "num_clips": 2, "integrity": True},
        "data": {clip["clip_id"]: clip, broken["clip_id"]: broken},
    }


def test_vript_caption_content_from_zip_and_jsonl(tmp_path: Path) -> None:
    z = tmp_path / "vript_long_videos_captions.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("vript_captions/abc123_caption.json", json.dumps(vript_doc("abc123")))
        zf.writestr("vript_captions/readme.txt", "ignored")
    res = convert("vript", [z], Settings(video_root=tmp_path))
    ok, broken = res.table.to_pylist()
    check_caption_row(ok, "Hands chop an onion on a wooden board.")  # caption.content, not the object
    assert ok["path"] == str(tmp_path / "abc123" / "abc123-Scene-001.mp4")
    assert (ok["shot_type"], ok["camera_movement"], ok["scene_title"]) == ("close-up", "static", "Chopping")
    assert broken["error"] == "convert: caption has no 'content'"
    assert broken["path"] == str(tmp_path / "abc123" / "abc123-Scene-002.mp4")
    jl = tmp_path / "vript_long_videos_captions.jsonl"
    clip = vript_doc("xyz")["data"]["xyz-Scene-001"]
    jl.write_text(json.dumps({"meta": {"video_id": "xyz"}, "clip_id": clip["clip_id"], "caption": clip["caption"]}))
    (row,) = convert("vript", [jl], Settings(video_root=tmp_path)).table.to_pylist()
    check_caption_row(row, "Hands chop an onion on a wooden board.")
    assert row["path"] == str(tmp_path / "xyz" / "xyz-Scene-001.mp4")


# --- ShareGPTVideo: frame folders -------------------------------------------------------------------


def test_sharegptvideo_frame_directory(tmp_path: Path) -> None:
    f = tmp_path / "video_caption_pretrain.jsonl"
    recs = [
        {"id": "v1", "video": "vidA", "conversations": [
            {"from": "human", "value": "<video>\nDescribe the video."}, {"from": "gpt", "value": "A red car."}]},
        {"id": "v2", "video": "vidB", "conversations": [
            {"from": "human", "value": "Describe."}, {"from": "gpt", "value": "Snow."}]},
    ]  # fmt: skip
    f.write_text("\n".join(json.dumps(r) for r in recs))
    root = tmp_path / "frames"
    (root / "train_300k" / "vidA").mkdir(parents=True)
    (root / "train_300k" / "vidA" / "c01_0001.jpg").write_bytes(b"\xff\xd8\xff")  # a frame (content unchecked)
    res = convert("sharegptvideo", [f], Settings(video_root=root, check_videos=True))
    a, b = res.table.to_pylist()
    assert (a["media"], a["path"]) == ("frames", str(root / "train_300k" / "vidA"))
    assert a["conversations"] == [{"from": "human", "value": "<video>\nDescribe the video."},
                                  {"from": "gpt", "value": "A red car."}]  # fmt: skip
    assert (a["caption"], a["query"], a.get("error")) == ("A red car.", "Describe the video.", None)
    assert b["conversations"][0]["value"] == "<video>\nDescribe."  # token added where missing
    assert b["error_kind"] == "convert:missing" and str(root / "vidB") in b["error"]


# --- MSR-VTT ----------------------------------------------------------------------------------------


def test_msrvtt_sentences_and_split(tmp_path: Path) -> None:
    doc = {
        "info": {"year": 2016},
        "videos": [
            {"category": 9, "url": "https://www.youtube.com/watch?v=9lZi22qLlEo", "video_id": "video0",
             "start time": 137.72, "end time": 149.44, "split": "train", "id": 0},
            {"category": 3, "url": "u", "video_id": "video7010", "start time": 1, "end time": 2, "split": "test",
             "id": 7010},
        ],
        "sentences": [
            {"caption": "a car is shown", "video_id": "video0", "sen_id": 0},
            {"caption": "a man drives", "video_id": "video0", "sen_id": 1},
            {"caption": "people dance", "video_id": "video7010", "sen_id": 2},
        ],
    }  # fmt: skip
    f = tmp_path / "MSRVTT_data.json"
    f.write_text(json.dumps(doc))
    rows = convert("msrvtt", [f], Settings(video_root=tmp_path)).table.to_pylist()
    assert [(r["source_id"], r["caption"], r["split"]) for r in rows] == [
        ("video0", "a car is shown", "train"),
        ("video0", "a man drives", "train"),
        ("video7010", "people dance", "test"),
    ]
    assert rows[0]["path"] == str(tmp_path / "video0.mp4") and rows[0].get("start_s") is None  # trimmed clips
    test = convert("msrvtt", [f], Settings(video_root=tmp_path, split="test")).table.to_pylist()
    assert [r["caption"] for r in test] == ["people dance"]


# --- FineVideo: media bytes written, never overwriting ------------------------------------------------


def test_finevideo_writes_media_and_rows(tmp_path: Path) -> None:
    video = synth.static(tmp_path / "src.mp4", num_frames=12, fps=12, size=(64, 48)).path.read_bytes()
    meta = {
        "original_video_filename": "clip_a.mp4",
        "duration_seconds": 1.0,
        "content_metadata": {
            "description": "A short clip of a textured wall.",
            "qAndA": [{"question": "What moves?", "answer": "Nothing."}, {"question": "Colour?", "answer": "Grey."}],
            "scenes": [{"activities": [{"timestamp": {"start_timestamp": "00:00:00.000",
                                                      "end_timestamp": "00:00:01.000"}}]}],
        },
    }  # fmt: skip
    table = pa.table({"mp4": pa.array([video, None], pa.binary()), "json": [json.dumps(meta), json.dumps({})]})
    f = tmp_path / "train-00000-of-00001.parquet"
    pq.write_table(table, f)
    out = tmp_path / "media"
    res = convert("finevideo", [f], Settings(video_root=out, check_videos=True))
    rows = res.table.to_pylist()
    assert (out / "clip_a.mp4").read_bytes() == video
    good = [r for r in rows if r["source_id"] == "clip_a"]
    assert [r.get("caption") or r["answer"] for r in good] == ["A short clip of a textured wall.", "Nothing.", "Grey."]
    assert all(r["path"] == str(out / "clip_a.mp4") and r.get("error") is None for r in good)
    assert good[1]["query"] == "What moves?" and good[1]["duration_s"] == 1.0
    missing = [r for r in rows if r["source_id"] != "clip_a"]
    assert len(missing) == 1 and missing[0]["error_kind"] == "convert:no_media"
    # a second run reuses the identical file; a different file with the name is never overwritten
    assert convert("finevideo", [f], Settings(video_root=out)).errors["convert:exists"] == 0
    (out / "clip_a.mp4").write_bytes(b"someone else's file")
    res = convert("finevideo", [f], Settings(video_root=out))
    assert (out / "clip_a.mp4").read_bytes() == b"someone else's file"
    assert res.errors["convert:exists"] == 1
