"""Malformed input, unsafe paths and the `vidcurate convert` command line."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from vidcurate.cli import app
from vidcurate.core.errors import ConfigError
from vidcurate.datasets import Settings, convert, convert_to_file, names


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vidcurate.cli", *args], capture_output=True, text=True, cwd=cwd)


def qa_files(folder: Path, questions: list[object], answers: list[object]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "val_q.json").write_text(json.dumps(questions))
    (folder / "val_a.json").write_text(json.dumps(answers))
    return folder


def test_bad_json_line_is_named_and_the_rest_converts(tmp_path: Path) -> None:
    f = tmp_path / "InternVid-10M-flt.jsonl"
    good = {"YoutubeID": "a", "Start_timestamp": "00:00:01.000", "End_timestamp": "00:00:02.000", "Caption": "x"}
    f.write_text(json.dumps(good) + "\n" + '{"YoutubeID": "b", "Caption": \n' + json.dumps({**good, "YoutubeID": "c"}))
    res = convert("internvid", [f], Settings(video_root=tmp_path))
    assert res.table.column("source_id").to_pylist() == ["a", "c"]
    assert res.issues.count == 1 and res.issues.messages[0].startswith(f"{f}:2: not valid JSON")


def test_missing_column_skips_that_file_only(tmp_path: Path) -> None:
    good = tmp_path / "val.csv"
    bad = tmp_path / "test.csv"
    header = [
        "video",
        "frame_count",
        "width",
        "height",
        "question",
        "answer",
        "qid",
        "type",
        "a0",
        "a1",
        "a2",
        "a3",
        "a4",
    ]
    with good.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerow(["1", "10", "4", "4", "why?", "1", "0", "CW", "a", "b", "c", "d", "e"])
        w.writerow(["2", "10", "4", "4", "how?", "7", "1", "CH", "a", "b", "c", "d", "e"])  # index out of range
        w.writerow(["3", "10"])  # wrong number of fields
    bad.write_text("video,qid,answer\n1,0,1\n")
    (tmp_path / "map_vid_vidorID.json").write_text(json.dumps({"1": "0001/1", "2": "0001/2", "3": "0001/3"}))
    res = convert("nextqa", [good, bad], Settings(video_root=tmp_path))
    rows = res.table.to_pylist()
    assert [r["source_id"] for r in rows] == ["1", "2"]
    assert (rows[0]["answer"], rows[0].get("error")) == ("b", None)
    assert rows[1]["error"] == "convert: answer 7 is out of range for 5 options"
    assert rows[1]["path"] == str(tmp_path / "0001" / "2.mp4")
    assert res.issues.messages == [
        f"{good}:3: answer 7 is out of range for 5 options",
        f"{good}:4: expected 13 fields, got 2; row skipped",
        f"{bad}:1: missing column(s) 'question' (columns: video, qid, answer); file skipped",
    ]


def test_wrong_types_are_named_by_record(tmp_path: Path) -> None:
    folder = qa_files(
        tmp_path / "ann",
        [
            {"video_name": "aaa", "question": "what?", "question_id": "v_aaa_0"},
            {"video_name": "bbb", "question": ["not", "text"], "question_id": "v_bbb_0"},
            "not an object",
            {"video_name": "ccc", "question_id": "v_ccc_0"},
            {"video_name": "ddd", "question": "who?", "question_id": "v_ddd_0"},
        ],
        [{"answer": "x", "type": 0, "question_id": q} for q in ("v_aaa_0", "v_bbb_0", "v_ccc_0")],
    )
    res = convert("activitynet-qa", [folder], Settings(video_root=tmp_path))
    rows = res.table.to_pylist()
    assert [r["source_id"] for r in rows] == ["aaa", "ddd"]
    assert rows[1]["error"] == "convert: no answer for v_ddd_0" and rows[1]["query"] == "who?"
    q = folder / "val_q.json"
    assert res.issues.messages == [
        f"{q}:1 record 1: 'question' is list, not text; record skipped",
        f"{q}:1 record 2: record is str, not an object; record skipped",
        f"{q}:1 record 3: missing field 'question'; record skipped",
        f"{q}:1 record 4: no answer for v_ddd_0",
    ]


def test_paths_escaping_the_root_are_row_errors(tmp_path: Path) -> None:
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.mp4").write_bytes(b"x")
    root.mkdir()
    os.symlink(outside / "secret.mp4", root / "link.mp4")
    f = tmp_path / "OpenVid-1M.csv"
    f.write_text(
        "video,caption\nok.mp4,fine\n../outside/secret.mp4,up\n/etc/passwd,absolute\nlink.mp4,symlink\n"
        "sub/../../outside/secret.mp4,sneaky\n"
    )
    res = convert("openvid", [f], Settings(video_root=root))
    rows = res.table.to_pylist()
    assert rows[0]["path"] == str(root / "ok.mp4") and rows[0].get("error") is None
    for r in rows[1:]:
        assert r["error_kind"] == "convert:unsafe_path", r
        assert not r["path"].startswith(str(outside))  # never a resolved path outside the root
    assert "leaves the root" in rows[1]["error"] and "is absolute" in rows[2]["error"]
    assert "symlink" in rows[3]["error"]
    assert res.issues.count == 4 and res.errors == {"convert:unsafe_path": 4}


def test_repeated_records_get_suffixed_ids_and_a_report(tmp_path: Path) -> None:
    q = {"video_name": "aaa", "question": "what?", "question_id": "v_aaa_0"}
    folder = qa_files(tmp_path / "ann", [q, q, q], [{"answer": "x", "type": 0, "question_id": "v_aaa_0"}])
    res = convert("activitynet-qa", [folder], Settings(video_root=tmp_path))
    ids = res.table.column("id").to_pylist()
    assert ids[1:] == [f"{ids[0]}-2", f"{ids[0]}-3"]
    assert res.issues.messages == [
        f"2 records repeat an earlier record's ids (ids suffixed -2, -3...; first: {ids[0]})"
    ]


def test_config_errors(tmp_path: Path) -> None:
    folder = qa_files(tmp_path / "ann", [], [])
    with pytest.raises(ConfigError, match="did you mean activitynet-qa"):
        convert("activitynet_qaa", [folder], Settings(video_root=tmp_path))
    with pytest.raises(ConfigError, match="options: ext"):
        convert("activitynet-qa", [folder], Settings(video_root=tmp_path), {"extension": "mkv"})
    with pytest.raises(ConfigError, match="give --video-root"):
        convert("activitynet-qa", [folder], Settings())
    with pytest.raises(ConfigError, match="only for datasets with per-subset roots"):
        convert("activitynet-qa", [folder], Settings(video_root=tmp_path, roots={"x": tmp_path}))
    with pytest.raises(ConfigError, match="no annotation files for split 'train'"):
        convert("activitynet-qa", [folder], Settings(video_root=tmp_path, split="train"))
    with pytest.raises(ConfigError, match="would overwrite an annotation file"):
        convert_to_file("activitynet-qa", [folder], folder / "val_q.json", Settings(video_root=tmp_path))
    assert json.loads((folder / "val_q.json").read_text()) == []  # untouched


def test_cli_convert_list_and_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    r = runner.invoke(app, ["convert", "--list"], terminal_width=200)
    assert r.exit_code == 0, r.output
    listed = [line.split()[0] for line in r.output.splitlines() if line.strip()]
    assert listed == names() and "activitynet-qa" in listed and "flickr5k" in listed
    assert all(len(line.split()) > 2 for line in r.output.splitlines())  # a description on every line
    r = runner.invoke(app, ["convert", "--list", "webvid"], terminal_width=200)
    assert "--opt layout = 'auto'" in r.output
    r = cli("convert", "nosuch", "-a", str(tmp_path), "-o", str(tmp_path / "m.parquet"))
    assert r.returncode == 2 and "unknown dataset 'nosuch'" in r.stderr


def test_cli_convert_writes_manifest_and_reports_problems(tmp_path: Path) -> None:
    folder = qa_files(
        tmp_path / "ann",
        [{"video_name": "v_abc", "question": "what is it", "question_id": "v_v_abc_0"}, {"video_name": 3}],
        [{"answer": "a dog", "type": 5, "question_id": "v_v_abc_0"}],
    )
    out = tmp_path / "out" / "m.parquet"
    r = cli(
        "convert", "activitynet-qa", "-a", str(folder / "val_q.json"), "-a", str(folder / "val_a.json"),
        "--video-root", str(tmp_path / "videos"), "-o", str(out), "--no-progress",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert f"1 rows (1 ok, 0 with errors) -> {out}" in r.stdout
    assert "2 problems in the input" in r.stderr and f"{folder / 'val_q.json'}:1 record 1: missing field" in r.stderr
    assert f"video root {tmp_path / 'videos'} does not exist" in r.stderr  # a mistyped root is pointed out
    (row,) = pq.read_table(out).to_pylist()
    assert row["path"] == str(tmp_path / "videos" / "v_v_abc.mp4")
    assert row["conversations"] == [
        {"from": "human", "value": "<video>\nwhat is it"},
        {"from": "gpt", "value": "a dog"},
    ]
