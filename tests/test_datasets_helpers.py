"""Shared converter helpers: time parsing, safe repr parsing, safe paths, multiple choice, prompts, readers."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from vidcurate.core.errors import ConfigError, RowError
from vidcurate.datasets import choices
from vidcurate.datasets.paths import PathEscape, SafeRoot
from vidcurate.datasets.prompts import POOLS, PromptPicker, load_prompt_file
from vidcurate.datasets.readers import Issues, iter_csv, iter_json_records, iter_jsonl
from vidcurate.datasets.timeparse import hms_to_s, iso_duration_s, literal, span_pair
from vidcurate.io.fs import write_once

# --- time -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("00:03:10.567", 190.567),  # InternVid
        ("0:00:19.227", 19.227),  # Panda-70M / Koala-36M
        ("1:02:03", 3723.0),
        ("02:03.5", 123.5),
        (12.5, 12.5),
    ],
)
def test_hms_to_seconds(text: object, seconds: float) -> None:
    assert hms_to_s(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["", "abc", "00:61:00", "1:2:3:4", None, True, "00:00:70"])
def test_hms_rejects_junk(bad: object) -> None:
    with pytest.raises(ValueError):
        hms_to_s(bad)


def test_iso_duration() -> None:
    assert iso_duration_s("PT00H00M17S") == 17.0  # WebVid
    assert iso_duration_s("PT1H2M3.5S") == pytest.approx(3723.5)
    assert iso_duration_s("PT45S") == 45.0
    assert iso_duration_s("11.39") == pytest.approx(11.39)
    with pytest.raises(ValueError):
        iso_duration_s("P")
    with pytest.raises(ValueError):
        iso_duration_s("17 seconds")


def test_literal_parses_repr_strings_safely(tmp_path: Path) -> None:
    pairs = literal("[['0:00:19.227', '0:00:28.278'], ['0:00:30.0', '0:00:31.5']]")
    assert [span_pair(p) for p in pairs] == [(19.227, 28.278), (30.0, 31.5)]
    assert literal("['a caption', \"it's\"]") == ["a caption", "it's"]
    marker = tmp_path / "pwned"
    evil = f"__import__('os').system('touch {marker}')"
    with pytest.raises(ValueError, match="not a Python literal"):
        literal(evil, "timestamp")
    with pytest.raises(ValueError):
        literal("[1, 2] + [3]")  # an expression, not a literal
    assert not marker.exists()
    with pytest.raises(ValueError):
        span_pair(["0:00:01.0"])


# --- paths ------------------------------------------------------------------------------------


def test_safe_root_joins_inside_and_rejects_escapes(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x.mp4").write_bytes(b"x")
    sr = SafeRoot(root)
    assert sr.join("sub/a.mp4") == str(root / "sub" / "a.mp4")
    assert sr.join("./missing.mp4") == str(root / "missing.mp4")  # need not exist
    for bad in ("../outside/x.mp4", "sub/../../outside/x.mp4", "/etc/passwd", "..\\outside\\x.mp4", "", "a\x00b"):
        with pytest.raises(PathEscape) as e:
            sr.join(bad)
        assert e.value.kind == "unsafe_path"
    # a symlinked folder or file that leads out of the root is an escape too
    os.symlink(outside, root / "link")
    os.symlink(outside / "x.mp4", root / "sub" / "file.mp4")
    with pytest.raises(PathEscape, match="symlink"):
        sr.join("link/x.mp4")
    with pytest.raises(PathEscape, match="symlink"):
        sr.join("sub/file.mp4")
    # a symlink that stays inside is fine
    (root / "real.mp4").write_bytes(b"v")
    os.symlink(root / "real.mp4", root / "alias.mp4")
    assert sr.join("alias.mp4") == str(root / "alias.mp4")


def test_write_once_never_overwrites(tmp_path: Path) -> None:
    dest = tmp_path / "media" / "a.mp4"
    assert write_once(dest, b"abc") is True
    assert write_once(dest, b"abc") is False  # identical: reused
    with pytest.raises(RowError) as e:
        write_once(dest, b"abd")
    assert e.value.kind == "exists"
    assert dest.read_bytes() == b"abc"
    assert sorted(p.name for p in dest.parent.iterdir()) == ["a.mp4"]  # no temp files left


# --- multiple choice ----------------------------------------------------------------------------


def test_render_question_lines_and_no_question_mark_dot() -> None:
    q = choices.render_question("What is he holding?", ["a cup", "a phone."])
    assert q == "What is he holding?\nA. a cup\nB. a phone."
    assert "?." not in q and "[" not in q
    assert choices.render_question("Why? ", ["x", "y"], "Answer with the letter.").endswith("\nAnswer with the letter.")


def test_answer_styles() -> None:
    opts = ["red", "green", "blue"]
    assert choices.render_answer(opts, 1, "letter") == "B"
    assert choices.render_answer(opts, 1, "letter_text") == "B. green"
    assert choices.render_answer(opts, 1, "text") == "green"
    assert choices.render_answers(opts, [0, 2], "letter") == "A, C"
    assert choices.render_answers(opts, [0, 2], "text") == "red\nblue"
    assert choices.render_answers(opts, [], "letter") == choices.NONE_CORRECT


def test_check_index_and_parsing() -> None:
    assert choices.check_index("2", 5) == 2  # PerceptionTest parquet: a string
    assert choices.check_index(4, 5) == 4
    for bad in (5, -1, "x", "1.5", True, None):
        with pytest.raises(ValueError):
            choices.check_index(bad, 5)
    text = "<image>\nQuestion?\nOptions:\nA. one\nB. two\nC. three\nPlease answer."
    assert choices.parse_rendered(text) == (["one", "two", "three"], 3)
    assert choices.letter_of("C. three.", 3) == 2
    assert choices.letter_of("(B)", 3) == 1
    assert choices.letter_of("Dog", 3) is None
    with pytest.raises(ValueError):
        choices.clean_options(["a", " "])
    with pytest.raises(ValueError):
        choices.clean_options("['a', 'b']")  # a repr string is not a list of options


# --- prompts ------------------------------------------------------------------------------------


def test_prompt_choice_depends_on_seed_and_row_id_only(tmp_path: Path) -> None:
    ids = [f"row{i}" for i in range(200)]
    a = PromptPicker(seed=1)
    forward = {i: a.pick("video_caption", i) for i in ids}
    backward = {i: PromptPicker(seed=1).pick("video_caption", i) for i in reversed(ids)}
    assert forward == backward  # order does not matter
    assert set(forward.values()) == set(POOLS["video_caption"])  # the pool is used, not one prompt
    other = {i: PromptPicker(seed=2).pick("video_caption", i) for i in ids}
    assert other != forward
    f = tmp_path / "p.txt"
    f.write_text("# my prompts\nSay what happens.\n\nDescribe it briefly.\n")
    user = PromptPicker(seed=1, user_pool=load_prompt_file(f))
    assert {user.pick("video_caption", i) for i in ids} == {"Say what happens.", "Describe it briefly."}
    j = tmp_path / "p.json"
    j.write_text(json.dumps(["Only one."]))
    assert load_prompt_file(j) == ("Only one.",)
    j.write_text("{}")
    with pytest.raises(ConfigError, match="JSON list"):
        load_prompt_file(j)
    (tmp_path / "empty.txt").write_text("# nothing\n")
    with pytest.raises(ConfigError, match="no prompts"):
        load_prompt_file(tmp_path / "empty.txt")


# --- readers ------------------------------------------------------------------------------------


def test_jsonl_bad_line_is_named_and_rest_read(tmp_path: Path) -> None:
    f = tmp_path / "a.jsonl"
    f.write_text('{"a": 1}\n{"a": 2,\n\n{"a": 3}\n')
    issues = Issues()
    got = list(iter_jsonl(f, issues))
    assert [(w.rsplit(":", 1)[1], r["a"]) for w, r in got] == [("1", 1), ("4", 3)]
    assert issues.count == 1 and issues.messages[0].startswith(f"{f}:2: not valid JSON")


def test_json_any_reads_lists_and_json_lines(tmp_path: Path) -> None:
    f = tmp_path / "a.json"
    f.write_text('{"a": 1}\n{"a": 2}\n')  # JSON lines in a .json file
    assert [r["a"] for _, r in iter_json_records(f, Issues())] == [1, 2]
    f.write_text('[{"a": 1},\n {"a": 2}')  # cut after the last record's brace
    issues = Issues()
    assert [r["a"] for _, r in iter_json_records(f, issues)] == [1, 2]
    assert issues.messages == [f"{f}:2: the JSON list is cut off after 2 records (kept)"]


def test_csv_reader_by_name_missing_column_and_bad_row(tmp_path: Path) -> None:
    f = tmp_path / "a.csv"
    f.write_text('b,a\n2,1\n3\n"5",4\n')
    issues = Issues()
    rows = list(iter_csv(f, issues, ("a", "b")))
    assert [(w.rsplit(":", 1)[1], r) for w, r in rows] == [("2", {"b": "2", "a": "1"}), ("4", {"b": "5", "a": "4"})]
    assert issues.messages == [f"{f}:3: expected 2 fields, got 1; row skipped"]
    issues = Issues()
    assert list(iter_csv(f, issues, ("a", "caption"))) == []
    assert issues.messages == [f"{f}:1: missing column(s) 'caption' (columns: b, a); file skipped"]
