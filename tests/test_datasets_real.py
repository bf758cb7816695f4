"""Every real annotation sample in ../shared/data/annotations converted completely, checked field by field.

Counts are computed here independently of the converters (json.load / csv), and the traps of
FORMATS.md that these samples contain are checked on the records that have them.
"""

from __future__ import annotations

import csv
import json
import sys
from collections import Counter
from pathlib import Path

import pytest

from conftest import SHARED_ANNOTATIONS
from vidcurate.core import schema
from vidcurate.datasets import Settings, convert
from vidcurate.datasets.prompts import POOLS
from vidcurate.testing import synth


def sample(*parts: str) -> Path:
    p = SHARED_ANNOTATIONS.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"shared annotation sample {p} not present (expected ../shared/data/annotations)")
    return p


def by(rows: list[dict], **match: object) -> list[dict]:
    return [r for r in rows if all(r.get(k) == v for k, v in match.items())]


# --- ActivityNet-QA -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def anet_qa(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict]]:
    root = tmp_path_factory.mktemp("anetqa")
    res = convert("activitynet-qa", [sample("activitynet_qa")], Settings(video_root=root))
    assert res.issues.count == 0, res.issues.messages
    assert not res.errors
    return root, res.table.to_pylist()


def test_activitynet_qa_all_records_joined(anet_qa: tuple[Path, list[dict]]) -> None:
    root, rows = anet_qa
    expected: dict[str, tuple[dict, dict]] = {}
    for split in ("train", "val"):
        qs = json.loads(sample("activitynet_qa", f"{split}_q.json").read_text())
        ans = {a["question_id"]: a for a in json.loads(sample("activitynet_qa", f"{split}_a.json").read_text())}
        expected.update({q["question_id"]: (q, ans[q["question_id"]]) for q in qs})
    assert len(rows) == len(expected) == 50000
    assert len({r["id"] for r in rows}) == len(rows)
    for r in rows:
        q, a = expected[r["question_id"]]
        assert r["source_id"] == q["video_name"]
        assert r["path"] == str(root / f"v_{q['video_name']}.mp4")
        assert r["query"] == q["question"].strip()  # a few questions end in a space
        assert r["answer"] == a["answer"].strip()
        assert r["conversations"] == [
            {"from": "human", "value": f"<video>\n{q['question'].strip()}"},
            {"from": "gpt", "value": a["answer"].strip()},
        ]
        assert r["question_type"] == str(a["type"])
        assert r["media"] == "video" and r["source"] == "activitynet-qa"


def test_activitynet_qa_v_prefixed_video_name_becomes_v_v(anet_qa: tuple[Path, list[dict]]) -> None:
    root, rows = anet_qa
    trap = by(rows, question_id="v_v_UmAH95xls_4")
    assert len(trap) == 1
    r = trap[0]
    assert r["source_id"] == "v_UmAH95xls"
    assert r["path"] == str(root / "v_v_UmAH95xls.mp4")
    assert r["query"] == "what is under the cup"
    assert r["id"] == schema.stable_id("activitynet-qa", "v_v_UmAH95xls_4")
    assert len(by(rows, source_id="v_UmAH95xls")) == 10
    # a name starting with '_' keeps it too (never split or strip on '_')
    assert by(rows, question_id="v__ucD-3rUWWE_3")[0]["path"] == str(root / "v__ucD-3rUWWE.mp4")


def test_activitynet_qa_split_and_stable_ids(anet_qa: tuple[Path, list[dict]]) -> None:
    root, rows = anet_qa
    val = convert("activitynet-qa", [sample("activitynet_qa")], Settings(video_root=root, split="val")).table
    assert val.num_rows == 18000
    ids = {r["question_id"]: r["id"] for r in rows}
    assert all(
        ids[q] == i for q, i in zip(val.column("question_id").to_pylist(), val.column("id").to_pylist(), strict=True)
    )


def test_activitynet_qa_check_videos(tmp_path: Path) -> None:
    """Present media fill duration_s; missing media become row errors naming the expected path."""
    keep = {"v_UmAH95xls", "okC18bPTils", "ALjodjboELk"}
    qs = [q for q in json.loads(sample("activitynet_qa", "train_q.json").read_text()) if q["video_name"] in keep]
    ids = {q["question_id"] for q in qs}
    ans = [a for a in json.loads(sample("activitynet_qa", "train_a.json").read_text()) if a["question_id"] in ids]
    ann = tmp_path / "ann"
    ann.mkdir()
    (ann / "train_q.json").write_text(json.dumps(qs))
    (ann / "train_a.json").write_text(json.dumps(ans))
    root = tmp_path / "videos"
    synth.static(root / "v_v_UmAH95xls.mp4", num_frames=48, fps=24, size=(64, 48))
    synth.static(root / "v_okC18bPTils.mp4", num_frames=24, fps=12, size=(64, 48))
    res = convert("activitynet-qa", [ann], Settings(video_root=root, check_videos=True))
    rows = res.table.to_pylist()
    assert len(rows) == len(qs)
    for r in by(rows, source_id="v_UmAH95xls"):
        assert r["duration_s"] == pytest.approx(2.0) and r["width"] == 64 and r.get("error") is None
    for r in by(rows, source_id="okC18bPTils"):
        assert r["duration_s"] == pytest.approx(2.0) and r["fps"] == pytest.approx(12)
    missing = by(rows, source_id="ALjodjboELk")
    assert missing and all(r["error_kind"] == "convert:missing" for r in missing)
    assert all(str(root / "v_ALjodjboELk.mp4") in r["error"] for r in missing)
    assert all(r["path"] == str(root / "v_ALjodjboELk.mp4") for r in missing)
    assert res.errors == Counter({"convert:missing": len(missing)})


# --- ActivityNet Captions ---------------------------------------------------------------------------


def test_activitynet_captions_all_sentences_and_clamped_spans(tmp_path: Path) -> None:
    path = sample("activitynet_captions", "val_1.json")
    data = json.loads(path.read_text())
    res = convert("activitynet-captions", [path], Settings(video_root=tmp_path))
    rows = res.table.to_pylist()
    assert len(rows) == sum(len(v["sentences"]) for v in data.values()) == 17505
    assert not res.errors
    overrun = {(k, i) for k, v in data.items() for i, t in enumerate(v["timestamps"]) if t[1] > v["duration"] + 1e-3}
    assert len(overrun) == 5
    warned = {(r["source_id"], int(r["question_id"])) for r in rows if r.get("warning")}
    assert warned == overrun
    assert res.issues.count == 5
    assert all(m.startswith(f"{path} [v_") and "clamped" in m for m in res.issues.messages)
    for r in rows:
        v = data[r["source_id"]]
        i = int(r["question_id"])
        assert r["duration_s"] == v["duration"]
        assert 0 <= r["start_s"] < r["end_s"] <= r["duration_s"]
        assert r["start_s"] == v["timestamps"][i][0]
        assert r["end_s"] == pytest.approx(min(v["timestamps"][i][1], v["duration"]))
        assert r["caption"] == v["sentences"][i].strip()
        assert r["path"] == str(tmp_path / f"{r['source_id']}.mp4")
        assert r["conversations"][1]["value"] == r["caption"]
    r = by(rows, source_id="v_EGLJPCJnG64", question_id="4")[0]
    assert (r["start_s"], r["end_s"]) == (29.61, 89.71000000000001)
    assert r["warning"] == "convert: span end 89.72 > duration 89.71: clamped"
    r = by(rows, source_id="v_uqiMw7tQ1Cc", question_id="1")[0]
    assert r["caption"].startswith("The coach helps the guy in red")  # leading spaces stripped
    assert (r["start_s"], r["end_s"], r["duration_s"]) == (13.79, 54.32, 55.15)
    assert r["query"] in POOLS["video_caption"]
    assert r["conversations"][0]["value"] == f"<video>\n{r['query']}"


def test_activitynet_captions_reversed_span_swapped_and_reported(tmp_path: Path) -> None:
    """The real train split has spans with start > end: built here from a real record."""
    data = json.loads(sample("activitynet_captions", "val_1.json").read_text())
    rec = dict(data["v_bXdq2zI1Ms0"])  # timestamps [[0, 10.23], [10.6, 39.84], [38.01, 73.1]], duration 73.1
    rec["timestamps"] = [[10.23, 0], [10.6, 39.84], [38.01, 80.0]]
    f = tmp_path / "train.json"
    f.write_text(json.dumps({"v_bXdq2zI1Ms0": rec}))
    res = convert("activitynet-captions", [f], Settings(video_root=tmp_path))
    rows = res.table.to_pylist()
    assert [(r["start_s"], r["end_s"]) for r in rows] == [(0.0, 10.23), (10.6, 39.84), (38.01, 73.1)]
    assert rows[0]["warning"] == "convert: span start 10.23 > end 0: swapped"
    assert rows[2]["warning"] == "convert: span end 80 > duration 73.1: clamped"
    assert rows[1]["warning"] is None
    assert res.issues.count == 2 and all(m.startswith(f"{f} [v_bXdq2zI1Ms0]: ") for m in res.issues.messages)


# --- DiDeMo ----------------------------------------------------------------------------------------


def test_didemo_chunks_to_seconds_one_row_per_distinct_span(tmp_path: Path) -> None:
    path = sample("didemo", "val_data.json")
    data = json.loads(path.read_text())
    res = convert("didemo", [path.parent], Settings(video_root=tmp_path))
    rows = res.table.to_pylist()
    assert res.issues.count == 0 and not res.errors
    assert len(rows) == sum(len({tuple(t) for t in d["times"]}) for d in data) == 7679
    by_ann: dict[str, list[dict]] = {}
    for r in rows:
        by_ann.setdefault(r["question_id"], []).append(r)
    assert len(by_ann) == len(data)
    for d in data:
        got = by_ann[str(d["annotation_id"])]
        assert sum(r["annotators"] for r in got) == len(d["times"])  # every annotator counted once
        spans = Counter((t[0], t[1]) for t in d["times"])
        expect = {(5.0 * s, min(5.0 * (e + 1), 5.0 * d["num_segments"])): n for (s, e), n in spans.items()}
        assert {(r["start_s"], r["end_s"]): r["annotators"] for r in got} == expect
        for r in got:
            assert r["caption"] == d["description"].strip()
            assert r["path"] == str(tmp_path / f"{d['video']}.mp4")  # original name kept, .mp4 appended
    first = sorted(by_ann["49152"], key=lambda r: r["start_s"])
    assert [(r["start_s"], r["end_s"], r["annotators"]) for r in first] == [(0.0, 5.0, 1), (5.0, 10.0, 3)]
    assert first[0]["path"].endswith("/35034348999@N01_6060447507_dc1a90b8ef.mov.mp4")
    assert first[0]["source_id"] == "35034348999@N01_6060447507_dc1a90b8ef.mov"
    assert first[0]["id"] != first[1]["id"]
    dot = next(d for d in data if d["video"].endswith("."))  # 53 names end in a bare '.'
    assert by_ann[str(dot["annotation_id"])][0]["path"] == str(tmp_path / f"{dot['video']}.mp4")
    assert by_ann[str(dot["annotation_id"])][0]["path"].endswith("..mp4")


def test_didemo_last_chunk_clamped_to_probed_duration(tmp_path: Path) -> None:
    data = json.loads(sample("didemo", "val_data.json").read_text())
    rec = next(d for d in data if d["num_segments"] == 6 and any(t[1] == 5 for t in d["times"]))
    f = tmp_path / "val_data.json"
    f.write_text(json.dumps([rec]))
    root = tmp_path / "videos"
    synth.static(root / f"{rec['video']}.mp4", num_frames=27, fps=1, size=(64, 48))  # a 27 s video
    res = convert("didemo", [f], Settings(video_root=root, check_videos=True))
    rows = res.table.to_pylist()
    last = [r for r in rows if r["start_s"] <= 25.0 < r["end_s"]]
    assert last and all(r["end_s"] == pytest.approx(27.0) for r in last)  # min(5*(e+1), duration)
    assert all(r.get("warning") is None for r in rows)  # the formula's own min(), not an annotation error
    assert all(r["duration_s"] == pytest.approx(27.0) for r in rows)
    assert res.issues.count == 0


# --- NExT-QA ---------------------------------------------------------------------------------------


def test_nextqa_index_answers_mapped_to_option_text(tmp_path: Path) -> None:
    folder = sample("nextqa")
    recs = list(csv.DictReader((folder / "val.csv").open()))
    vmap = json.loads((folder / "map_vid_vidorID.json").read_text())
    res = convert("nextqa", [folder], Settings(video_root=tmp_path))
    rows = res.table.to_pylist()
    assert res.issues.count == 0 and not res.errors
    assert len(rows) == len(recs) == 4996
    for rec, r in zip(recs, rows, strict=True):
        opts = [rec[f"a{i}"].strip() for i in range(5)]  # some options end in a space
        assert r["options"] == opts
        assert r["answer_index"] == int(rec["answer"])
        assert r["answer"] == opts[int(rec["answer"])]
        assert r["path"] == str(tmp_path / f"{vmap[rec['video']]}.mp4")
        assert r["question_id"] == f"{rec['video']}_{rec['qid']}"
        assert r["num_frames"] == int(rec["frame_count"]) and r["width"] == int(rec["width"])
    r = rows[0]
    assert r["query"] == (
        "how do the two man play the instrument\nA. roll the handle\nB. tap their feet\n"
        "C. strum the string\nD. hit with sticks\nE. pat with hand"
    )
    assert r["conversations"] == [
        {"from": "human", "value": f"<video>\n{r['query']}"},
        {"from": "gpt", "value": "A. roll the handle"},
    ]
    assert r["path"] == str(tmp_path / "1106" / "4010069381.mp4")
    assert r["question_type"] == "CH"
    second = rows[1]  # answer 2 -> "unwrap it"
    assert (second["answer_index"], second["answer"]) == (2, "unwrap it")
    for style, reply in (("letter", "C"), ("text", "unwrap it"), ("letter_text", "C. unwrap it")):
        got = convert("nextqa", [folder], Settings(video_root=tmp_path, answer_style=style, limit=2)).table.to_pylist()
        assert got[1]["conversations"][1]["value"] == reply


# --- WebVid ----------------------------------------------------------------------------------------


def test_webvid_10m_csv_and_2m_column_order_read_by_name(tmp_path: Path) -> None:
    path = sample("webvid", "test_webvid.csv")
    recs = list(csv.DictReader(path.open()))
    root = tmp_path / "videos"
    root.mkdir()
    res = convert("webvid", [path], Settings(video_root=root, seed=7))
    rows = res.table.to_pylist()
    assert len(rows) == len(recs) == 20 and res.issues.count == 0
    for rec, r in zip(recs, rows, strict=True):
        assert r["source_id"] == rec["videoid"]
        assert r["caption"] == rec["name"].strip()
        assert r["path"] == str(root / rec["page_dir"] / f"{rec['videoid']}.mp4")
        assert r["url"] == rec["contentUrl"]
        assert r["query"] in POOLS["video_caption"]
        assert r["conversations"] == [
            {"from": "human", "value": f"<video>\n{r['query']}"},
            {"from": "gpt", "value": r["caption"]},
        ]
    assert rows[0]["duration_s"] == 17.0 and rows[1]["duration_s"] == 24.0  # PT00H00M17S, PT00H00M24S
    # the 2M CSVs order the columns differently: same rows
    two_m = tmp_path / "results_2M_val.csv"
    with two_m.open("w", newline="") as f:
        w = csv.DictWriter(f, ["videoid", "contentUrl", "duration", "page_dir", "name"], extrasaction="ignore")
        w.writeheader()
        w.writerows(recs)
    again = convert("webvid", [two_m], Settings(video_root=root, seed=7)).table.to_pylist()
    assert again == rows
    # the prompt draw is reproducible, and changes with the seed
    other = convert("webvid", [path], Settings(video_root=root, seed=8)).table.column("query").to_pylist()
    assert other != [r["query"] for r in rows]
    # auto layout: a flat <id>.mp4 that exists is used
    (root / f"{recs[0]['videoid']}.mp4").write_bytes(b"x")
    flat = convert("webvid", [path], Settings(video_root=root, limit=1)).table.to_pylist()[0]
    assert flat["path"] == str(root / f"{recs[0]['videoid']}.mp4")


def test_didemo_reversed_and_out_of_range_chunks(tmp_path: Path) -> None:
    rec = dict(json.loads(sample("didemo", "val_data.json").read_text())[0])  # num_segments 6
    rec["times"] = [[3, 1], [0, 6], [1, 3], [7, 7]]
    f = tmp_path / "test_data.json"
    f.write_text(json.dumps([rec, {**rec, "annotation_id": 1, "times": [[1, 1]]}]))
    res = convert("didemo", [f], Settings(video_root=tmp_path))
    rows = res.table.to_pylist()
    # the record with chunk 7 of 6 cannot be placed: reported, skipped; the next record converts
    assert [(r["question_id"], r["start_s"], r["end_s"]) for r in rows] == [("1", 5.0, 10.0)]
    assert res.issues.messages == [f"{f}:1 record 0: chunk [7, 7] outside 0..5; record skipped"]
    rec["times"] = [[3, 1], [0, 6], [1, 3]]
    f.write_text(json.dumps([rec]))
    res = convert("didemo", [f], Settings(video_root=tmp_path))
    got = {(r["start_s"], r["end_s"]): (r["annotators"], r["warning"]) for r in res.table.to_pylist()}
    assert got == {
        (5.0, 20.0): (2, "convert: chunks [3, 1] reversed: swapped"),  # [3, 1] and [1, 3]: one span, 2 annotators
        (0.0, 30.0): (1, "convert: chunk end 6 >= num_segments 6: clamped"),
    }
    assert res.issues.count == 2


def test_batches_join_into_one_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows cross batch boundaries (a column present in some batches only) and come out the same."""
    convert_mod = sys.modules["vidcurate.datasets.convert"]
    path = sample("activitynet_captions", "val_1.json")
    settings = Settings(video_root=tmp_path, limit=6000)  # clamp warnings at rows 3427 and 5310
    whole = convert("activitynet-captions", [path], settings).table
    monkeypatch.setattr(convert_mod, "BATCH_ROWS", 1000)
    parts = convert("activitynet-captions", [path], settings).table
    assert parts.num_rows == whole.num_rows == 6000
    assert parts.schema == whole.schema and parts.equals(whole)
    assert parts.column("warning").null_count == 6000 - 2
