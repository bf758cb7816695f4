"""Converters on damaged real annotation files: one bad byte or a cut file costs only what it must.

Each test starts from a real annotation file in ../shared (copied to a temp folder, then damaged)
and checks the exact rows kept and the exact report.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

from conftest import SHARED_ANNOTATIONS
from vidcurate.datasets import Settings, convert

NEXTQA = SHARED_ANNOTATIONS / "nextqa"
ANET_QA = SHARED_ANNOTATIONS / "activitynet_qa"
ANET_CAP = SHARED_ANNOTATIONS / "activitynet_captions" / "val_1.json"


def _inject(data: bytes, marker: bytes, bad: bytes = b"\xe9") -> bytes:
    """`data` with the first occurrence of `marker` followed by a byte that is not UTF-8."""
    i = data.index(marker) + len(marker)
    return data[:i] + bad + data[i:]


# --- 1. a non-UTF-8 byte loses only its record -------------------------------------------------


def test_bad_byte_in_a_csv_loses_only_that_row(tmp_path: Path) -> None:
    src = (NEXTQA / "val.csv").read_bytes()
    lines = src.decode().splitlines()
    n_rows = len(lines) - 1
    third = lines[3].split(",")[4]  # the question of the third data row (line 4)
    f = tmp_path / "val.csv"
    f.write_bytes(_inject(src, third.encode()))
    shutil.copy(NEXTQA / "map_vid_vidorID.json", tmp_path)
    res = convert("nextqa", [f], Settings(video_root=tmp_path))
    assert res.table.num_rows == n_rows - 1
    assert f"{f}:4: not UTF-8 text (byte 0xE9); row skipped" in res.issues.messages
    assert res.issues.count == 1


def test_bad_byte_in_a_json_list_loses_only_that_record(tmp_path: Path) -> None:
    for name in ("val_q.json", "val_a.json"):
        shutil.copy(ANET_QA / name, tmp_path / name)
    questions = json.loads((ANET_QA / "val_q.json").read_text())
    victim = questions[10]["question_id"]
    q = tmp_path / "val_q.json"
    q.write_bytes(_inject(q.read_bytes(), f'"question_id": "{victim}'.encode(), b"\xff"))
    res = convert("activitynet-qa", [tmp_path], Settings(video_root=tmp_path))
    ids = res.table.column("question_id").to_pylist()
    assert len(ids) == len(questions) - 1 and victim not in ids
    assert res.issues.messages == [f"{q}:1 record 10: not UTF-8 text (byte 0xFF); record skipped"]


def test_bad_byte_in_json_lines_loses_only_that_line(tmp_path: Path) -> None:
    f = tmp_path / "InternVid-10M-flt.jsonl"
    rec = {"YoutubeID": "a", "Start_timestamp": "00:00:01.000", "End_timestamp": "00:00:02.000", "Caption": "x"}
    lines = [json.dumps({**rec, "YoutubeID": y}).encode() for y in "abc"]
    lines[1] = lines[1].replace(b'"x"', b'"caf\xe9"')  # latin-1 text in a UTF-8 file
    f.write_bytes(b"\n".join(lines) + b"\n")
    res = convert("internvid", [f], Settings(video_root=tmp_path))
    assert res.table.column("source_id").to_pylist() == ["a", "c"]
    assert res.issues.messages == [f"{f}:2: not UTF-8 text (byte 0xE9); line skipped"]


def test_bad_byte_in_a_json_object_loses_only_that_video(tmp_path: Path) -> None:
    doc = json.loads(ANET_CAP.read_text())
    victim = list(doc)[5]
    f = tmp_path / "val_1.json"
    key = f'"{victim}": {{'.encode()
    f.write_bytes(ANET_CAP.read_bytes().replace(key, key + b'"note": "\xc3(", ', 1))  # JSON stays valid
    res = convert("activitynet-captions", [f], Settings(video_root=tmp_path))
    assert res.table.num_rows == sum(len(v["sentences"]) for k, v in doc.items() if k != victim)
    assert victim not in set(res.table.column("source_id").to_pylist())
    utf8 = [m for m in res.issues.messages if "UTF-8" in m]
    assert utf8 == [f"{f} [{victim}]: not UTF-8 text (byte 0xC3); record skipped"]
    clean = convert("activitynet-captions", [ANET_CAP], Settings(video_root=tmp_path))
    assert res.issues.count == clean.issues.count + 1  # the real file's own clamped spans, and this


# --- 2. a cut JSON list keeps what came before the cut; empty files and objects say so -----------


def _record_ends(text: str) -> list[int]:
    """Where each record of a JSON list ends (by the standard library's decoder)."""
    dec, ends, pos = json.JSONDecoder(), [], text.index("[") + 1
    while True:
        while text[pos] in " \n\r\t,":
            pos += 1
        if text[pos] == "]":
            return ends
        _, pos = dec.raw_decode(text, pos)
        ends.append(pos)


def test_truncated_json_list_keeps_every_complete_record(tmp_path: Path) -> None:
    text = (ANET_QA / "val_q.json").read_text()
    cut = int(len(text) * 0.6)
    complete = sum(1 for e in _record_ends(text) if e <= cut)
    shutil.copy(ANET_QA / "val_a.json", tmp_path)
    q = tmp_path / "val_q.json"
    q.write_text(text[:cut])
    res = convert("activitynet-qa", [tmp_path], Settings(video_root=tmp_path))
    assert complete > 1000 and res.table.num_rows == complete
    assert res.issues.messages == [
        f"{q}:1: the JSON list is cut off in record {complete}; {complete} records before it kept, rest skipped"
    ]


def test_empty_file_and_object_instead_of_list_are_named(tmp_path: Path) -> None:
    shutil.copy(ANET_QA / "val_a.json", tmp_path)
    q = tmp_path / "val_q.json"
    q.write_text("\n")
    res = convert("activitynet-qa", [tmp_path], Settings(video_root=tmp_path))
    assert res.table.num_rows == 0 and res.issues.messages == [f"{q}: file is empty; skipped"]
    q.write_text(json.dumps({"questions": json.loads((ANET_QA / "val_q.json").read_text())[:3], "version": 1}))
    res = convert("activitynet-qa", [tmp_path], Settings(video_root=tmp_path))
    assert res.table.num_rows == 0
    assert res.issues.messages == [
        f"{q}: a JSON object with keys 'questions', 'version', not a list of records "
        "(records may be under 'questions'); file skipped"
    ]
    c = tmp_path / "clips.csv"
    c.write_bytes(b"")
    res = convert("openvid", [c], Settings(video_root=tmp_path))
    assert res.issues.messages == [f"{c}: file is empty; skipped"]


# --- 3. a multiple-choice CSV that lost an option column is never open-ended QA -----------------


def _nextqa_without(tmp_path: Path, drop: set[str], add: dict[str, str] | None = None) -> Path:
    rows = list(csv.DictReader(io.StringIO((NEXTQA / "val.csv").read_text())))[:20]
    cols = [c for c in rows[0] if c not in drop] + list(add or {})
    f = tmp_path / "val.csv"
    with f.open("w", newline="") as out:
        w = csv.DictWriter(out, cols, extrasaction="ignore")
        w.writeheader()
        w.writerows({**r, **(add or {})} for r in rows)
    shutil.copy(NEXTQA / "map_vid_vidorID.json", tmp_path)
    return f


def test_nextqa_missing_option_columns_are_reported_not_made_open_ended(tmp_path: Path) -> None:
    f = _nextqa_without(tmp_path, {"a4"})
    res = convert("nextqa", [f], Settings(video_root=tmp_path))
    assert res.table.num_rows == 0
    assert res.issues.messages[-1] == f"{f}:1: multiple-choice CSV without option column(s) a4; file skipped"

    f = _nextqa_without(tmp_path, {"a0", "a1", "a2", "a3", "a4"})
    rows = convert("nextqa", [f], Settings(video_root=tmp_path)).table.to_pylist()
    assert len(rows) == 20
    assert all(r["error_kind"] == "convert:missing_options" and r.get("conversations") is None for r in rows)
    assert rows[0]["error"].startswith("convert: answer 0 is an option index but the file has no a0..a4")

    # NExT-OE: no options, an additional_ref column, word answers -> open-ended questions
    f = _nextqa_without(tmp_path, {"a0", "a1", "a2", "a3", "a4"}, {"additional_ref": ""})
    text = f.read_text().replace(",0,", ",guitar,", 1)
    f.write_text(text)
    rows = convert("nextqa", [f], Settings(video_root=tmp_path)).table.to_pylist()
    assert not any(r.get("error") for r in rows) and rows[0]["answer"] == "guitar"
    assert "options" not in rows[0] or rows[0]["options"] is None


# --- 4. split names match whole ----------------------------------------------------------------


def test_split_names_match_whole(tmp_path: Path) -> None:
    doc = json.loads(ANET_CAP.read_text())
    keys = list(doc)
    (tmp_path / "val_1.json").write_text(json.dumps({k: doc[k] for k in keys[:3]}))
    (tmp_path / "val_2.json").write_text(json.dumps({k: doc[k] for k in keys[3:5]}))
    (tmp_path / "validation_extra.json").write_text(json.dumps({k: doc[k] for k in keys[5:6]}))

    def videos(split: str) -> set[str]:
        res = convert("activitynet-captions", [tmp_path], Settings(video_root=tmp_path, split=split))
        return set(res.table.column("source_id").to_pylist())

    assert videos("val_2") == set(keys[3:5])
    assert videos("val_1") == set(keys[:3])
    assert videos("val") == set(keys[:5])  # `val` is a whole word of both, not of `validation`


# --- 5. videos are found whatever their container ------------------------------------------------


def test_video_lookup_tries_the_usual_extensions(tmp_path: Path) -> None:
    for name in ("val_q.json", "val_a.json"):
        shutil.copy(ANET_QA / name, tmp_path)
    names = [q["video_name"] for q in json.loads((ANET_QA / "val_q.json").read_text())]
    first, second, third = list(dict.fromkeys(names))[:3]
    videos = tmp_path / "videos"
    videos.mkdir()
    (videos / f"v_{first}.mkv").write_bytes(b"x")
    (videos / f"v_{second}.webm").write_bytes(b"x")
    (videos / f"v_{third}.webm").write_bytes(b"x")
    (videos / f"v_{third}.MP4").write_bytes(b"x")  # both: mp4 comes first, its case kept
    rows = convert("activitynet-qa", [tmp_path], Settings(video_root=videos)).table.to_pylist()
    path_of = {r["source_id"]: r["path"] for r in rows}
    assert path_of[first] == str(videos / f"v_{first}.mkv")
    assert path_of[second] == str(videos / f"v_{second}.webm")
    assert path_of[third] == str(videos / f"v_{third}.MP4")
    missing = next(n for n in names if n not in (first, second, third))
    assert path_of[missing] == str(videos / f"v_{missing}.mp4")  # none on disk: the default
    forced = convert("activitynet-qa", [tmp_path], Settings(video_root=videos), options={"ext": "webm"})
    assert {r["path"] for r in forced.table.to_pylist() if r["source_id"] == first} == {str(videos / f"v_{first}.webm")}


def test_escaping_video_id_is_still_refused_with_lookup(tmp_path: Path) -> None:
    q = [{"video_name": "../../etc/x", "question": "what?", "question_id": "v_1"}]
    (tmp_path / "val_q.json").write_text(json.dumps(q))
    (tmp_path / "val_a.json").write_text(json.dumps([{"answer": "a", "type": 0, "question_id": "v_1"}]))
    (tmp_path / "videos").mkdir()
    rows = convert("activitynet-qa", [tmp_path], Settings(video_root=tmp_path / "videos")).table.to_pylist()
    assert rows[0]["error_kind"] == "convert:unsafe_path"


# --- 6. any LLaVA-format file, and MSR-VTT's list layout ----------------------------------------

VILAMP_STYLE = [
    {
        "id": "s1",
        "video": "clips/a.mp4",
        "max_frame_num": 64,
        "data_source": "youcook2",
        "meta": {"fps": 1},
        "conversations": [
            {"from": "human", "value": "<image>\nWhat is cooked?"},
            {"from": "gpt", "value": "Noodles."},
            {"from": "human", "value": "And then? <image>"},
            {"from": "gpt", "value": "Served."},
        ],
    },
    {
        "id": "s2",
        "image": ["pics/b.jpg"],
        "conversations": [{"from": "human", "value": "Say what you see.<image>"}, {"from": "gpt", "value": "A cat."}],
    },
    {"id": "s3", "conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "hello"}]},
    {"id": "s4", "video": ["a.mp4", "b.mp4"], "conversations": []},
    {
        "id": "s5",
        "video": "c.mp4",
        "max_frame_num": "many",
        "source": "web",
        "conversations": [{"from": "human", "value": "<image>\nQ"}, {"from": "gpt", "value": "A"}],
    },
]


def test_generic_llava_importer_keeps_extra_keys(tmp_path: Path) -> None:
    f = tmp_path / "vilamp_train.json"
    f.write_text(json.dumps(VILAMP_STYLE))
    res = convert("llava", [f], Settings(video_root=tmp_path))
    rows = {r["source_id"]: r for r in res.table.to_pylist()}
    assert set(rows) == {"s1", "s2", "s5"}
    a, b, c = rows["s1"], rows["s2"], rows["s5"]
    assert a["source"] == "llava" and a["media"] == "video" and a["path"] == str(tmp_path / "clips" / "a.mp4")
    assert [t["value"] for t in a["conversations"]] == ["<video>\nWhat is cooked?", "Noodles.", "And then?", "Served."]
    assert a["max_frame_num"] == 64 and a["data_source"] == "youcook2" and json.loads(a["meta"]) == {"fps": 1}
    assert a["keep_keys"] == ["max_frame_num", "data_source", "meta:json"]
    assert b["media"] == "image" and b["conversations"][0]["value"] == "<image>\nSay what you see."
    assert c["max_frame_num"] is None and c["src_source"] == "web"  # `source` is ours: kept under src_
    assert res.issues.messages == [
        f"{f}:1 record 2: no 'video' or 'image' (a text-only sample has no media row); record skipped",
        f"{f}:1 record 3: 2 videos in one record; a row holds exactly one; record skipped",
        f"{f}:1 record 4: key 'max_frame_num' is text here but int in earlier records; value dropped",
    ]


def test_msrvtt_list_of_videos_with_caption_lists(tmp_path: Path) -> None:
    f = tmp_path / "msrvtt_train_9k.json"
    f.write_text(
        json.dumps(
            [
                {"video": "video0.mp4", "caption": ["a man cooks", "someone is cooking"], "category": 9},
                {"video_id": "video1", "caption": "a dog runs"},
            ]
        )
    )
    rows = convert("msrvtt", [f], Settings(video_root=tmp_path)).table.to_pylist()
    assert [(r["source_id"], r["caption"]) for r in rows] == [
        ("video0", "a man cooks"),
        ("video0", "someone is cooking"),
        ("video1", "a dog runs"),
    ]
    assert rows[0]["path"] == str(tmp_path / "video0.mp4") and rows[2]["path"] == str(tmp_path / "video1.mp4")
    assert rows[0]["category"] == "9" and len({r["id"] for r in rows}) == 3
