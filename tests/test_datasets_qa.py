"""QA datasets without a real sample: fixtures built from FORMATS.md's records, one test per trap."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from vidcurate.datasets import Settings, convert
from vidcurate.datasets.choices import NONE_CORRECT


def dump(path: Path, obj: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj))
    return path


# --- CLEVRER --------------------------------------------------------------------------------------


def test_clevrer_open_ended_and_all_correct_choices(tmp_path: Path) -> None:
    scene = {
        "scene_index": 0,
        "video_filename": "video_00000.mp4",
        "questions": [
            {"question_id": 0, "question": "How many metal objects are moving?", "question_type": "descriptive",
             "question_subtype": "count", "program": ["filter"], "answer": "2"},
            {"question_id": 12, "question": "Which of the following is responsible for the collision?",
             "question_type": "explanatory", "program": ["x"],
             "choices": [
                 {"choice_id": 0, "choice": "The presence of the sphere", "program": [], "answer": "correct"},
                 {"choice_id": 1, "choice": "The cube's entering", "program": [], "answer": "wrong"},
                 {"choice_id": 2, "choice": "The cylinder's motion", "program": [], "answer": "correct"},
             ]},
            {"question_id": 13, "question": "What will happen next?", "question_type": "predictive",
             "choices": [{"choice_id": 0, "choice": "A hits B", "answer": "wrong"},
                         {"choice_id": 1, "choice": "B hits C", "answer": "wrong"}]},
            {"question_id": 14, "question": "Broken?", "choices": [{"choice_id": 0, "choice": "x", "answer": "maybe"},
                                                                   {"choice_id": 1, "choice": "y", "answer": "wrong"}]},
        ],
    }  # fmt: skip
    f = dump(tmp_path / "validation.json", [scene])
    res = convert("clevrer", [f], Settings(video_root=tmp_path, answer_style="letter"))
    oe, mc, none, bad = res.table.to_pylist()
    assert (oe["query"], oe["answer"], oe["question_type"]) == (
        "How many metal objects are moving?",
        "2",
        "descriptive",
    )
    assert oe["conversations"][1] == {"from": "gpt", "value": "2"} and oe["options"] is None
    assert mc["answer_indices"] == [0, 2] and mc.get("answer_index") is None  # both correct choices kept
    assert mc["options"] == ["The presence of the sphere", "The cube's entering", "The cylinder's motion"]
    assert mc["answer"] == "The presence of the sphere; The cylinder's motion"
    assert mc["conversations"][1]["value"] == "A, C"
    assert mc["query"] == (
        "Which of the following is responsible for the collision?\nA. The presence of the sphere\n"
        "B. The cube's entering\nC. The cylinder's motion"
    )
    assert (none["answer_indices"], none["conversations"][1]["value"]) == ([], NONE_CORRECT)
    assert bad["error_kind"] == "convert:bad_record" and "'maybe'" in bad["error"]
    assert all(r["path"] == str(tmp_path / "video_00000.mp4") for r in (oe, mc, none, bad))
    assert [r["question_id"] for r in (oe, mc, none, bad)] == ["0", "12", "13", "14"]
    grouped = convert("clevrer", [f], Settings(video_root=tmp_path), {"grouped": "true"}).table.to_pylist()
    assert grouped[0]["path"] == str(tmp_path / "video_00000-01000" / "video_00000.mp4")
    text_style = convert("clevrer", [f], Settings(video_root=tmp_path, answer_style="letter_text")).table
    assert text_style.to_pylist()[1]["conversations"][1]["value"] == (
        "A. The presence of the sphere\nC. The cylinder's motion"
    )


# --- Perception Test ------------------------------------------------------------------------------


def test_perceptiontest_official_int_and_parquet_string_answer_id(tmp_path: Path) -> None:
    official = {
        "video_10909": {
            "metadata": {"video_id": "video_10909", "split": "valid", "frame_rate": 30.0, "num_frames": 900,
                         "resolution": [1080, 1920]},
            "mc_question": [
                {"id": 7, "question": "What is the person holding?", "options": ["a cup", "a pen", "a ball"],
                 "answer_id": 1, "area": "semantics", "reasoning": "descriptive", "tag": ["objects"]},
            ],
            "object_tracking": [],
        }
    }  # fmt: skip
    f = dump(tmp_path / "mc_question_valid.json", official)
    (a,) = convert("perceptiontest", [f], Settings(video_root=tmp_path)).table.to_pylist()
    assert (a["answer_index"], a["answer"], a["options"]) == (1, "a pen", ["a cup", "a pen", "a ball"])
    assert (a["fps"], a["num_frames"], a["duration_s"], a["split"]) == (30.0, 900, 30.0, "valid")
    assert a["path"] == str(tmp_path / "video_10909.mp4") and a["question_id"] == "video_10909_7"
    assert a["question_type"] == "semantics/descriptive"
    mirror = pa.table(
        {
            "video_name": ["video_10909", "video_10910", "video_10911"],
            "question": ["What is the person holding?", "Q2?", "Q3?"],
            "question_id": ["7", "0", "1"],
            "options": [["a cup", "a pen", "a ball"], ["x", "y", "z"], ["x", "y", "z"]],
            "answer_id": ["1", "2", "B"],  # strings in the lmms-lab mirror
            "area": ["semantics"] * 3,
            "reasoning": ["descriptive"] * 3,
            "tag": [["objects"]] * 3,
        }
    )
    p = tmp_path / "mc_question_val" / "validation-00000-of-00001.parquet"
    p.parent.mkdir()
    pq.write_table(mirror, p)
    res = convert("perceptiontest", [p], Settings(video_root=tmp_path))
    b, c, bad = res.table.to_pylist()
    assert (b["answer_index"], b["answer"]) == (1, "a pen")  # "1" -> the same int as the official file
    assert b["conversations"] == a["conversations"]
    assert (c["answer_index"], c["answer"]) == (2, "z")
    assert bad["error_kind"] == "convert:bad_answer" and "'B'" in bad["error"]
    assert res.issues.messages[0].startswith(f"{p} row 2: ")


# --- CinePile ----------------------------------------------------------------------------------------


def test_cinepile_answer_key_position(tmp_path: Path) -> None:
    choices = ["He leaves", "He laughs", "He cries", "He sings", "He sleeps"]
    table = pa.table(
        {
            "movie_name": ["Film A", "Film A"],
            "yt_clip_link": ["https://www.youtube.com/watch?v=abcDEF12345", "https://youtu.be/abcDEF12345"],
            "question": ["What does he do after the call?", "And then?"],
            "choices": [choices, choices],
            "answer_key": ["He cries", "He sings"],
            "answer_key_position": [2, 1],  # the second disagrees with its key
            "question_category": ["Character and Relationship Dynamics", "Narrative"],
        }
    )
    f = tmp_path / "test.parquet"
    pq.write_table(table, f)
    res = convert("cinepile", [f], Settings(video_root=tmp_path, answer_style="letter"))
    ok, bad = res.table.to_pylist()
    assert (ok["answer_index"], ok["answer"], ok["options"]) == (2, "He cries", choices)
    assert ok["conversations"][1]["value"] == "C"
    assert ok["path"] == str(tmp_path / "abcDEF12345.mp4") and ok["movie_name"] == "Film A"
    assert ok["query"].startswith("What does he do after the call?\nA. He leaves\n")
    assert bad["path"] == str(tmp_path / "abcDEF12345.mp4")
    assert bad["error"] == "convert: answer_key_position 1 points at 'He laughs' but answer_key is 'He sings'"


# --- STAR ----------------------------------------------------------------------------------------------


def test_star_answer_text_to_index_and_span(tmp_path: Path) -> None:
    rec = {
        "question_id": "Interaction_T1_4", "video_id": "TJZ0P", "start": 7.7, "end": 15.7,
        "question": "Which object was eaten by the person?", "answer": "The sandwich.", "question_program": [],
        "choices": [{"choice_id": 2, "choice": "The medicine.", "choice_program": []},
                    {"choice_id": 0, "choice": "The book.", "choice_program": []},
                    {"choice_id": 1, "choice": "The sandwich.", "choice_program": []},
                    {"choice_id": 3, "choice": "The laptop.", "choice_program": []}],
        "situations": {"000199": {}},
    }  # fmt: skip
    missing = {**rec, "question_id": "Interaction_T1_5", "answer": "The phone."}
    f = dump(tmp_path / "STAR_val.json", [rec, missing])
    ok, bad = convert("star", [f], Settings(video_root=tmp_path)).table.to_pylist()
    assert ok["options"] == ["The book.", "The sandwich.", "The medicine.", "The laptop."]  # by choice_id
    assert (ok["answer_index"], ok["answer"]) == (1, "The sandwich.")
    assert ok["conversations"][1]["value"] == "B. The sandwich."
    assert (ok["start_s"], ok["end_s"], ok["question_type"]) == (7.7, 15.7, "Interaction")
    assert ok["path"] == str(tmp_path / "TJZ0P.mp4")
    assert "?." not in ok["query"]
    assert bad["error"] == "convert: answer 'The phone.' matches no choice"


# --- EgoTaskQA -------------------------------------------------------------------------------------------


def test_egotaskqa_interval_clip(tmp_path: Path) -> None:
    rec = {"question": "what is the status of the fridge before the person opens it?", "answer": "closed",
           "interval": "bathroom_1|P1_fpv|120|480", "reasoning_type": "state$before", "type": "descriptive",
           "video_id": 3, "question_id": 17}  # fmt: skip
    f = dump(tmp_path / "direct" / "val_qas.json", [rec])
    (r,) = convert("egotaskqa", [tmp_path / "direct"], Settings(video_root=tmp_path / "qa_videos")).table.to_pylist()
    assert r["path"] == str(tmp_path / "qa_videos" / "bathroom_1|P1_fpv|120|480.mp4")
    assert (r["source_id"], r["question_id"], r["answer"]) == ("bathroom_1|P1_fpv|120|480", "17", "closed")
    assert (r["reasoning_type"], r["subset"]) == ("state$before", "direct")
    assert f.exists()


# --- VideoChat2-IT: per-subset roots, every QA turn --------------------------------------------------------


def test_videochat2_root_map_and_every_turn(tmp_path: Path) -> None:
    ann = tmp_path / "video"
    dump(
        ann / "caption" / "textvr" / "train.json",
        [{"video": "Clip/a.mp4", "QA": [{"i": "Describe the video.", "q": "", "a": "A road."},
                                        {"i": "", "q": "Is it night?", "a": "No."}]}],
    )  # fmt: skip
    dump(
        ann / "reasoning" / "star" / "train.json",
        [{"video": "TJZ0P.mp4", "QA": [{"i": "Answer.", "q": "What was eaten?", "a": "(B) sandwich"}],
          "start": 7.7, "end": 15.7}],
    )  # fmt: skip
    roots = {"textvr": tmp_path / "textvr_videos", "reasoning/star": tmp_path / "charades"}
    res = convert("videochat2", [ann], Settings(roots=roots))
    star, textvr = sorted(res.table.to_pylist(), key=lambda r: r["subset"])
    assert textvr["path"] == str(tmp_path / "textvr_videos" / "Clip" / "a.mp4")
    assert textvr["conversations"] == [
        {"from": "human", "value": "<video>\nDescribe the video."},
        {"from": "gpt", "value": "A road."},
        {"from": "human", "value": "Is it night?"},
        {"from": "gpt", "value": "No."},
    ]
    assert textvr["answer"] is None and textvr["query"] == "Describe the video."
    assert star["path"] == str(tmp_path / "charades" / "TJZ0P.mp4")
    assert (star["query"], star["answer"], star["start_s"], star["end_s"]) == (
        "Answer.\nWhat was eaten?", "(B) sandwich", 7.7, 15.7)  # fmt: skip
    # an unmapped subset without --video-root is reported, not guessed
    res = convert("videochat2", [ann], Settings(roots={"textvr": tmp_path / "t"}))
    assert res.rows == 1 and "no video root for subset 'star'" in res.issues.messages[0]


# --- LLaVA-Video-178K ---------------------------------------------------------------------------------------


def test_llava_video_178k_cap_oe_mc(tmp_path: Path) -> None:
    b = tmp_path / "0_30_s_nextqa"
    video = "NextQA/NExTVideo/1006/8968804598.mp4"
    mc_q = ("<image>\nWhat is the man doing?\nOptions:\nA. eating.\nB. reading.\nC. running.\nD. singing.\n"
            "E. training.\nPlease provide your answer by stating the letter followed by the full option.")  # fmt: skip
    dump(b / "0_30_s_nextqa_mc_qa_processed.json",
         [{"id": "1006-8968804598", "conversations": [{"from": "human", "value": mc_q},
                                                      {"from": "gpt", "value": "E. training."}],
           "data_source": "0_30_s_nextqa", "video": video}])  # fmt: skip
    dump(b / "0_30_s_nextqa_cap_processed.json",
         [{"id": "1006-8968804598", "conversations": [{"from": "human", "value": "<image>\nDescribe."},
                                                      {"from": "gpt", "value": "A man trains."}],
           "data_source": "0_30_s_nextqa", "video": video}])  # fmt: skip
    dump(b / "0_30_s_nextqa_oe_qa_processed.json",
         [{"id": "1006-8968804598", "conversations": [{"from": "human", "value": "<image>\nWhere?"},
                                                      {"from": "gpt", "value": "A gym."},
                                                      {"from": "human", "value": "Who?"},
                                                      {"from": "gpt", "value": "A man."}],
           "data_source": "0_30_s_nextqa", "video": "../escape.mp4"}])  # fmt: skip
    res = convert("llava-video-178k", [tmp_path], Settings(video_root=tmp_path / "videos"))
    rows = {r["task"]: r for r in res.table.to_pylist()}
    mc, cap, oe = rows["mc"], rows["cap"], rows["oe"]
    assert mc["path"] == str(tmp_path / "videos" / video)
    assert mc["conversations"][0]["value"].startswith("<video>\nWhat is the man doing?")  # <image> -> <video>
    assert mc["conversations"][1]["value"] == "E. training."
    assert (mc["options"][4], mc["answer_index"], mc["answer"]) == ("training.", 4, "training.")
    assert (cap["caption"], cap["query"], cap["subset"]) == ("A man trains.", "Describe.", "0_30_s_nextqa")
    assert len(oe["conversations"]) == 4 and oe["answer"] is None
    assert oe["error_kind"] == "convert:unsafe_path" and oe["path"] == "../escape.mp4"


# --- MovieChat-1K ----------------------------------------------------------------------------------------------


def test_moviechat_breakpoint_frames_to_seconds(tmp_path: Path) -> None:
    doc = {
        "caption": "A long movie about a heist.",
        "info": {"video_path": "1.mp4", "fps": 25, "num_frame": 2500},
        "global": [{"question": "Is it a comedy?", "answer": "No."}, {"question": "Where?", "answer": "A bank."}],
        "breakpoint": [{"time": 50, "question": "What is he holding?", "answer": "A bag."},
                       {"time": 1000, "question": "Who enters?", "answer": "A guard."}],
    }  # fmt: skip
    dump(tmp_path / "jsons" / "1.json", doc)
    rows = convert("moviechat", [tmp_path / "jsons"], Settings(video_root=tmp_path)).table.to_pylist()
    assert len(rows) == 5  # caption + every global and breakpoint QA
    cap = next(r for r in rows if r.get("caption"))
    assert cap["caption"] == "A long movie about a heist." and cap["duration_s"] == 100.0
    g = [r for r in rows if r.get("question_type") == "global"]
    assert [(r["query"], r["answer"], r.get("end_s")) for r in g] == [("Is it a comedy?", "No.", None),
                                                                       ("Where?", "A bank.", None)]  # fmt: skip
    bp = [r for r in rows if r.get("question_type") == "breakpoint"]
    assert [(r["breakpoint_frame"], r["start_s"], r["end_s"]) for r in bp] == [(50, 0.0, 2.0), (1000, 0.0, 40.0)]
    assert all(r["path"] == str(tmp_path / "1.mp4") for r in rows)
    no_fps = dump(tmp_path / "j2" / "2.json", {**doc, "info": {"video_path": "2.mp4"}})
    res = convert("moviechat", [no_fps], Settings(video_root=tmp_path))
    bad = [r for r in res.table.to_pylist() if r.get("error")]
    assert len(bad) == 2 and all("info.fps is missing" in r["error"] for r in bad)


@pytest.mark.parametrize("style", ["letter", "letter_text", "text"])
def test_answer_style_applies_to_every_multiple_choice_dataset(tmp_path: Path, style: str) -> None:
    rec = {"question_id": "Sequence_T1_1", "video_id": "V1", "start": 0, "end": 2, "question": "What next?",
           "answer": "Sat.", "choices": [{"choice_id": 0, "choice": "Ran."},
                                         {"choice_id": 1, "choice": "Sat."}]}  # fmt: skip
    f = dump(tmp_path / "STAR_train.json", [rec])
    (r,) = convert("star", [f], Settings(video_root=tmp_path, answer_style=style)).table.to_pylist()
    assert r["conversations"][1]["value"] == {"letter": "B", "letter_text": "B. Sat.", "text": "Sat."}[style]
    assert (r["answer"], r["answer_index"]) == ("Sat.", 1)  # structured fields do not depend on the style
