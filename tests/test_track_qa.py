"""Tracks and spatial QA: synthetic scenes with known motion, the shared real videos, imports, the LLM.

Synthetic scenes (`vidcurate.testing.synth_tracks.standard`): a red square crossing left to right,
a blue disk rising and growing (approaching), a green square moving left out of the frame; the
same under a camera pan. Every template question is checked against the scene's ground truth.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import shared_video
from vidcurate.core.recipe import parse_recipe
from vidcurate.engines.local import LocalEngine
from vidcurate.stages.qa.questions import CAMERA, MOVES, SIDES
from vidcurate.stages.qa.template import TemplateConfig, TemplateQA
from vidcurate.stages.track.importer import ImportConfig, TrackImporter
from vidcurate.stages.track.stage import TrackConfig, Tracker
from vidcurate.testing import synth_tracks
from vidcurate.testing.fake_server import FakeServer

LETTERS = "ABCD"


@pytest.fixture(scope="module")
def scenes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    d = tmp_path_factory.mktemp("scenes")
    out = {}
    for name, pan in (("static", 0.0), ("pan", 1.5)):
        v = synth_tracks.standard(d / f"{name}.mp4", pan_px=pan)
        row = {"id": name, "path": str(v.path), "camera_motion": "pan_right" if pan else "static"}
        row |= Tracker(TrackConfig(crops_dir=str(d / "crops"))).process_row(row)
        out[name] = (v, row)
    return out


def by_color(row: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["color"]: t for t in row["tracks"]}


@pytest.mark.parametrize("name", ["static", "pan"])
def test_tracks_of_a_known_scene(scenes: dict[str, Any], name: str) -> None:
    v, row = scenes[name]
    assert row["track_count"] == 3 and set(by_color(row)) == {"red", "green", "blue"}
    red, green, blue = (by_color(row)[c] for c in ("red", "green", "blue"))
    assert (red["direction"], red["enter_side"], red["exit_side"]) == ("right", "left", "right")
    assert (green["direction"], green["enter_side"], green["exit_side"]) == ("left", None, "left")
    assert (blue["direction"], blue["depth"]) == ("up", "approaching")
    w, h = v.width, v.height
    for t, obj in ((red, 0), (blue, 1), (green, 2)):  # the object's own velocity, camera removed
        vx, vy = v.truth["objects"][obj]["velocity_px_s"]
        assert t["vx"] == pytest.approx(vx / w, abs=0.02) and t["vy"] == pytest.approx(vy / h, abs=0.02)
    assert row["track_in_out"] == 1 and row["track_max_concurrent"] == 3
    crops = [Path(t["crop"]) for t in row["tracks"]]
    assert all(p.is_file() and p.stat().st_size > 500 for p in crops)


# --- every template answer against the ground truth ----------------------------------------------


def _gt_frames(obj: dict[str, Any]) -> list[int]:
    return [i for i, b in enumerate(obj["boxes"]) if b is not None]


def expected(q: dict[str, Any], row: dict[str, Any], v: Any) -> str:
    """The answer the scene's ground truth gives to question `q` (independent of the tracker)."""
    objs = {o["color"]: o for o in v.truth["objects"]}
    tracks = {t["id"]: t for t in row["tracks"]}
    name = {c: f"the {c} object" for c in objs}
    subj = [objs[tracks[i]["color"]] for i in q["subjects"]]
    w, h, n = v.width, v.height, v.num_frames

    def speed(o: dict[str, Any]) -> float:
        return float(np.hypot(o["velocity_px_s"][0] / w, o["velocity_px_s"][1] / h))

    def entered(o: dict[str, Any]) -> int:
        f = _gt_frames(o)
        assert f[0] > 0, "asked when an object that was there from the start entered"
        return f[0]

    def left(o: dict[str, Any]) -> int:
        f = _gt_frames(o)
        assert f[-1] < n - 1, "asked when an object that stays in view left"
        return f[-1]

    kind = q["type"]
    if kind == "direction":
        vx, vy = subj[0]["velocity_px_s"]
        return MOVES[("right" if vx > 0 else "left") if abs(vx / w) >= abs(vy / h) else ("down" if vy > 0 else "up")]
    if kind == "approach":
        return "it comes closer" if subj[0]["grow_per_s"] > 1 else "it moves away"
    if kind == "exit_side":
        box = subj[0]["boxes"][left(subj[0])]
        side = min(("left", box[0]), ("right", 1 - box[2]), ("top", box[1]), ("bottom", 1 - box[3]), key=lambda s: s[1])
        return SIDES[side[0]]
    if kind == "faster":
        return name[max(subj, key=speed)["color"]]
    if kind == "enters_first":
        return name[min(subj, key=entered)["color"]]
    if kind == "leaves_last":
        return name[max(subj, key=left)["color"]]
    if kind == "count":
        return str(len(objs))
    if kind == "camera":
        return CAMERA["pan_right" if v.truth["camera"]["pan_px_s"] > 0 else "static"]
    if kind == "relative_position":
        a, b = subj
        both = [i for i in range(n) if a["boxes"][i] is not None and b["boxes"][i] is not None]
        cx = lambda o, i: (o["boxes"][i][0] + o["boxes"][i][2]) / 2  # noqa: E731
        end = "to the right of" if cx(a, both[-1]) > cx(b, both[-1]) else "to the left of"
        return f"{end} {name[b['color']]}"
    raise AssertionError(f"no ground truth for {kind}")


@pytest.mark.parametrize("name", ["static", "pan"])
def test_every_template_answer_matches_the_ground_truth(scenes: dict[str, Any], name: str) -> None:
    v, row = scenes[name]
    out = TemplateQA(TemplateConfig(qa_num=50)).process_row(row)
    kinds = Counter(q["type"] for q in out["qa"])
    assert set(kinds) >= {"direction", "approach", "exit_side", "faster", "count", "camera", "relative_position"}
    wrong = [(q["question"], q["answer"], expected(q, row, v)) for q in out["qa"] if q["answer"] != expected(q, row, v)]
    assert not wrong, wrong
    for q in out["qa"]:
        assert q["options"][q["answer_index"]] == q["answer"] and len(set(q["options"])) == len(q["options"]) >= 3
    conv = out["conversations"]
    assert len(conv) == 2 * len(out["qa"]) and conv[0]["value"].startswith("<video>\n")
    assert sum(t["value"].count("<video>") for t in conv) == 1


def test_answer_letters_are_balanced_and_deterministic(scenes: dict[str, Any]) -> None:
    letters: Counter[str] = Counter()
    for seed in range(12):
        for name in ("static", "pan"):
            _, row = scenes[name]
            for k in range(3):
                r = {**row, "id": f"{name}-{seed}-{k}"}
                out = TemplateQA(TemplateConfig(qa_num=6, seed=seed)).process_row(r)
                letters.update(LETTERS[q["answer_index"]] for q in out["qa"])
    total = sum(letters.values())
    assert total >= 200 and max(letters.values()) / total <= 0.40, letters
    a = TemplateQA(TemplateConfig(seed=3)).process_row(scenes["static"][1])
    assert a == TemplateQA(TemplateConfig(seed=3)).process_row(scenes["static"][1])


def test_unclear_questions_are_not_asked(scenes: dict[str, Any]) -> None:
    _, row = scenes["static"]
    twins = [{**t, "color": "red"} for t in row["tracks"]]  # three red objects: none can be named
    out = TemplateQA(TemplateConfig(qa_num=50)).process_row({**row, "tracks": twins, "camera_motion": None})
    assert {q["type"] for q in out["qa"]} == {"count"}
    slow = [{**t, "speed": 0.01, "direction": "still"} if t["color"] == "red" else t for t in row["tracks"]]
    out = TemplateQA(TemplateConfig(qa_num=50)).process_row({**row, "tracks": slow})
    assert not [q for q in out["qa"] if q["type"] == "direction" and "red" in q["question"]]


# --- real footage --------------------------------------------------------------------------------


def test_cars_enter_and_leave_a_road_seen_from_above(tmp_path: Path) -> None:
    """intel_car-detection.mp4, checked by eye: a white car drives up (4.5-8.5 s), a silver car down
    (14.5-18 s) while a red car drives up (15.5-19 s), a white car down (25-27.5 s)."""
    row = {"id": "cars", "path": str(shared_video("intel_car-detection.mp4"))}
    out = Tracker(TrackConfig(crops_dir=str(tmp_path))).process_row(row)
    tracks = sorted(out["tracks"], key=lambda t: t["times_s"][0])
    moving = [t for t in tracks if t["times_s"][-1] - t["times_s"][0] >= 1.5]
    assert [(t["enter_side"], t["exit_side"]) for t in moving] == [
        ("bottom", "top"), ("top", "bottom"), ("bottom", "top"), ("top", "bottom")
    ]  # fmt: skip
    for t, start in zip(moving, (4.5, 14.5, 15.5, 25.2), strict=True):
        assert t["enter_s"] == pytest.approx(start, abs=1.0)
    assert [t["direction"] for t in moving] == ["up", "down", "up", "down"]
    assert len(tracks) <= 6 and out["track_in_out"] >= 4
    for t in moving:  # a crop of a whole car: taller than wide, seen from above
        from PIL import Image

        w, h = Image.open(t["crop"]).size
        assert h > w and h >= 60


def test_people_walking_out_and_in_past_a_table() -> None:
    """18_intel_one-by-one-person-detection.mp4, checked by eye: at 44 s the man walks off to the
    right; at 86 s the next man walks out at the bottom and at 92 s a woman walks in from it."""
    video = str(shared_video("18_intel_one-by-one-person-detection.mp4"))
    out = Tracker(TrackConfig(crops=False)).process_row({"id": "a", "path": video, "start_s": 40.0, "end_s": 50.0})
    assert [t["exit_side"] for t in out["tracks"] if t["exit_side"]] == ["right"]
    out = Tracker(TrackConfig(crops=False)).process_row({"id": "b", "path": video, "start_s": 84.0, "end_s": 94.0})
    exits = [(t["exit_side"], round(t["exit_s"])) for t in out["tracks"] if t["exit_side"] == "bottom"]
    enters = [(t["enter_side"], round(t["enter_s"])) for t in out["tracks"] if t["enter_side"] == "bottom"]
    assert len(exits) == 1 and 1 <= exits[0][1] <= 5  # 85-89 s
    assert len(enters) == 1 and 6 <= enters[0][1] <= 10  # 90-94 s
    assert out["track_count"] <= 4


# --- imported trajectories -----------------------------------------------------------------------


def test_imported_tracks_drive_the_same_questions(tmp_path: Path) -> None:
    doc = {
        "width": 1280, "height": 720,
        "objects": [
            {"id": 7, "label": "car", "color": "red",
             "frames": [{"t": (t + 1) / 2, "box": [x, 300, x + 200, 420]} for t, x in enumerate(range(0, 1100, 100))]},
            {"id": 9, "label": "person", "frames": [{"frame": f, "box": [600, 200, 660, 340], "position_3d": [0, 0, 5]}
                                                      for f in range(0, 150, 15)]},
        ],
        "fps": 30,
    }  # fmt: skip
    (tmp_path / "clip1.json").write_text(json.dumps(doc))
    row = {"id": "clip1", "path": str(tmp_path / "clip1.mp4"), "duration_s": 6.0}
    out = TrackImporter(ImportConfig(folder=str(tmp_path))).process_row(row)
    car, person = out["tracks"]
    assert (car["label"], car["direction"], car["enter_side"], car["exit_side"]) == ("car", "right", "left", "right")
    assert car["vx"] == pytest.approx(200 / 1280, abs=0.01)
    assert person["direction"] == "still" and person["positions_3d"] == [[0.0, 0.0, 5.0]] * 10
    qas = TemplateQA(TemplateConfig(qa_num=50)).process_row({**row, **out})["qa"]
    assert "In which direction does the red car move?" in [q["question"] for q in qas]
    (tmp_path / "clip2.json").write_text(
        json.dumps({"objects": [{"id": 1, "frames": [{"t": 0, "box": [5, 5, 1, 9]}]}]})
    )
    bad = TrackImporter(ImportConfig(folder=str(tmp_path))).apply({"id": "clip2", "path": "clip2.mp4"})[0]
    assert bad["error_kind"] == "tracks.import:bad_tracks"
    assert "objects.0.frames.0: Value error, box [5.0, 5.0, 1.0, 9.0] is empty" in bad["error"]


# --- the LLM writes free-form questions from the trajectories ------------------------------------


def test_llm_questions_from_trajectories_with_faults(scenes: dict[str, Any], tmp_path: Path) -> None:
    _, row = scenes["static"]
    base = {k: v for k, v in row.items() if k != "camera_motion"}
    rows = [
        {**base, "camera_motion": "static"},
        {**base, "id": "flaky", "camera_motion": "static [[fault:500,badjson]]"},  # recovers on retry
        {**base, "id": "broken", "camera_motion": "static [[fault:500*9]]"},  # never answers
    ]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "in.parquet")
    with FakeServer(retry_after="0") as srv:
        cfg = {"base_url": srv.url, "model": "m", "qa_num": 2, "backoff_s": 0.01, "backoff_max_s": 0.02,
               "max_retries": 2, "cache_path": str(tmp_path / "cache.sqlite")}  # fmt: skip
        rec = parse_recipe({"stages": [{"qa.template": {"qa_num": 2}}, {"qa.llm": cfg}]})
        LocalEngine(rec, tmp_path / "run", workers=1, progress=False).run(tmp_path / "in.parquet")
        got = {r["id"]: r for r in pq.read_table(tmp_path / "run" / "manifest.parquet").to_pylist()}
        first = srv.received
        colors = {t["color"]: t["direction"] for t in row["tracks"]}
        for rid in ("static", "flaky"):
            r = got[rid]
            free = [q for q in r["qa"] if q["source"] == "llm"]
            assert r.get("error") is None and len(free) == 2 and len(r["qa"]) == 4 and len(r["conversations"]) == 8
            for q in free:  # the answers come from the trajectories the prompt carried
                color = next(c for c in colors if c in q["question"])
                assert colors[color] in q["answer"]
        broken = got["broken"]
        assert broken["error_kind"].startswith("qa.llm:") and len(broken["qa"]) == 2  # the template ones stay
        # a rerun is served from the cache (the broken row is retried: its error is a transient one)
        LocalEngine(rec, tmp_path / "run2", workers=1, progress=False).run(tmp_path / "in.parquet")
        assert srv.received - first <= 3
