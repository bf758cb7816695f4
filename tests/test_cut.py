"""Cutting clips: exactly the frames of the span, upright once, VFR kept, sources never touched."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import av
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import shared_video
from vidcurate.core import schema
from vidcurate.core.errors import ConfigError, RowError
from vidcurate.core.frames import FrameSpec
from vidcurate.core.recipe import parse_recipe
from vidcurate.engines.local import LocalEngine
from vidcurate.io.decode import convert, iter_frames
from vidcurate.io.ffmpeg import run_ffmpeg
from vidcurate.io.probe import probe_file
from vidcurate.stages.cut import ClipCutter, CutConfig, cut_clip
from vidcurate.stages.split import SceneSplitter, SplitConfig
from vidcurate.testing import synth

FPS = 24


@pytest.fixture(scope="module")
def counter(tmp_path_factory: pytest.TempPathFactory) -> synth.SynthVideo:
    """120 frames that carry their own index; keyframes every 12 frames, B-frames on (x264 default)."""
    return synth.counter(
        tmp_path_factory.mktemp("cut") / "counter.mp4", num_frames=120, fps=FPS, size=(160, 120), gop=12
    )


def indices(path: Path, undo_rotation: int = 0) -> list[int]:
    """Frame indices drawn in a clip, read from upright frames turned back by `undo_rotation` degrees."""
    k = -round(undo_rotation / 90)
    return [synth.read_counter(np.rot90(convert(d, FrameSpec()), k)) for d in iter_frames(path)]


def keyframes(path: Path) -> list[int]:
    with av.open(str(path)) as c:
        vs = c.streams.video[0]
        pts = sorted((p.pts, p.is_keyframe) for p in c.demux(vs) if p.size)
    return [i for i, (_, key) in enumerate(pts) if key]


def cut(src: Path, s: int, e: int, dest: Path, **cfg: Any) -> dict[str, Any]:
    c = CutConfig(out_dir=str(dest.parent), **cfg)
    return cut_clip(src, s / FPS, e / FPS, dest, c, start_frame=s, end_frame=e)


@pytest.mark.parametrize(("s", "e"), [(0, 10), (5, 37), (30, 31), (47, 96), (100, 120)])
def test_reencode_holds_exactly_the_frames(counter: synth.SynthVideo, tmp_path: Path, s: int, e: int) -> None:
    facts = cut(counter.path, s, e, tmp_path / "c.mp4")
    assert indices(tmp_path / "c.mp4") == list(range(s, e))
    assert facts["num_frames"] == e - s and facts["duration_s"] == pytest.approx((e - s) / FPS, abs=0.002)
    assert (facts["source_start_frame"], facts["source_end_frame"], facts["cut_mode"]) == (s, e, "reencode")
    assert (facts["codec"], facts["pix_fmt"], facts["rotation"]) == ("h264", "yuv420p", 0)


def test_reencode_from_times_alone(counter: synth.SynthVideo, tmp_path: Path) -> None:
    """Without frame indices the span is still exact: timestamps decide, not frame counts."""
    cut_clip(counter.path, 30 / FPS, 42 / FPS, tmp_path / "t.mp4", CutConfig(out_dir=str(tmp_path)))
    assert indices(tmp_path / "t.mp4") == list(range(30, 42))
    cut_clip(counter.path, None, None, tmp_path / "all.mp4", CutConfig(out_dir=str(tmp_path)))
    assert indices(tmp_path / "all.mp4") == list(range(120))


@pytest.mark.parametrize(("s", "e"), [(5, 37), (12, 24), (30, 31), (100, 120)])
def test_copy_snaps_to_keyframes(counter: synth.SynthVideo, tmp_path: Path, s: int, e: int) -> None:
    facts = cut(counter.path, s, e, tmp_path / "c.mp4", mode="copy")
    got = indices(tmp_path / "c.mp4")
    a, b = facts["source_start_frame"], facts["source_end_frame"]
    assert got == list(range(a, b)) and facts["num_frames"] == b - a
    keys = keyframes(counter.path)
    assert a <= s and b >= e and a in keys and (b in keys or b == 120)  # whole GOPs around the span
    assert a == max(k for k in keys if k <= s)
    assert facts["source_start_s"] == pytest.approx(a / FPS) and facts["source_end_s"] == pytest.approx(b / FPS)
    inward = cut(counter.path, s, e, tmp_path / "i.mp4", mode="copy", snap="inward") if e - s >= 24 else None
    if inward is not None:
        a, b = inward["source_start_frame"], inward["source_end_frame"]
        assert s <= a < b <= e and indices(tmp_path / "i.mp4") == list(range(a, b))


@pytest.mark.parametrize("degrees", [90, -90, 180])
@pytest.mark.parametrize("mode", ["reencode", "copy"])
def test_rotation_is_applied_exactly_once(counter: synth.SynthVideo, tmp_path: Path, degrees: int, mode: str) -> None:
    rot = synth.rotated(tmp_path / "rot.mp4", counter, degrees)
    facts = cut(rot.path, 24, 48, tmp_path / "c.mp4", mode=mode)
    assert [facts["width"], facts["height"]] == rot.truth["display_size"]  # shown upright, as the source is
    # Reencode bakes the rotation into the pixels and stores none; copy keeps the source's display matrix.
    assert facts["rotation"] == (0 if mode == "reencode" else probe_file(rot.path)["rotation"])
    # Upright frames of the clip, turned back by the source's rotation, are the original counter frames.
    span = range(facts["source_start_frame"], facts["source_end_frame"])
    assert indices(tmp_path / "c.mp4", undo_rotation=degrees) == list(span)
    assert mode == "copy" or span == range(24, 48)


def _upright_small(path: Path, index: int = 0) -> np.ndarray:
    for d in iter_frames(path):
        if d.index == index:
            return convert(d, FrameSpec(width=64)).astype(np.float32)
    raise AssertionError(f"{path} has no frame {index}")


@pytest.mark.parametrize("name", ["10_mpy_fire2.mp4", "16_dec_video_90.mov"])
def test_real_rotated_videos(name: str, tmp_path: Path) -> None:
    src = shared_video(name)
    info = probe_file(src)
    (row,) = SceneSplitter(SplitConfig(min_scene_s=10)).process_row({"id": "r", "path": str(src)})  # type: ignore[misc]
    facts = cut_clip(
        src,
        row["start_s"],
        row["end_s"],
        tmp_path / "c.mp4",
        CutConfig(out_dir=str(tmp_path), audio=False),
        start_frame=row["start_frame"],
        end_frame=row["end_frame"],
    )
    assert (facts["width"], facts["height"], facts["rotation"]) == (info["width"], info["height"], 0)
    assert facts["num_frames"] == row["num_frames"] == info["num_frames"]
    a, b = _upright_small(src, 1), _upright_small(tmp_path / "c.mp4", 1)
    assert a.shape == b.shape
    same = float(np.abs(a - b).mean())
    assert same < 6 and same < 0.5 * float(np.abs(a - b[::-1, ::-1]).mean())  # not upside down


def test_a_stream_that_does_not_start_at_zero(counter: synth.SynthVideo, tmp_path: Path) -> None:
    """MPEG-TS starts at 1.4 s: spans are PyAV times, ffmpeg's -ss counts from the file start."""
    ts = tmp_path / "counter.ts"
    run_ffmpeg(["-y", "-i", str(counter.path), "-c", "copy", str(ts)])
    rows = SceneSplitter(SplitConfig(detector="stride", window_s=1.0)).process_row({"id": "t", "path": str(ts)})
    assert isinstance(rows, list) and rows[1]["start_s"] == pytest.approx(1.4 + 1.0, abs=0.1)
    r = rows[2]  # frames [48, 72)
    for mode in ("reencode", "copy"):
        f = cut_clip(
            ts, r["start_s"], r["end_s"], tmp_path / "c.mp4", CutConfig(out_dir=str(tmp_path), mode=mode),
            start_frame=r["start_frame"], end_frame=r["end_frame"],
        )  # fmt: skip
        got = indices(tmp_path / "c.mp4")
        assert got == list(range(f["source_start_frame"], f["source_end_frame"]))
        assert mode == "copy" or got == list(range(48, 72))
        assert f["source_start_frame"] <= 48 and f["source_end_frame"] >= 72


def test_vfr_clip_cut_at_a_known_time(tmp_path: Path) -> None:
    v = synth.vfr(tmp_path / "vfr.mp4")  # 30 frames at 30 fps, then 10 at 10 fps; new scene at 1.0 s
    rows = SceneSplitter(SplitConfig()).process_row({"id": "v", "path": str(v.path)})
    assert isinstance(rows, list) and len(rows) == 2
    cfg = CutConfig(out_dir=str(tmp_path))
    for k, (row, want) in enumerate(zip(rows, [range(0, 30), range(30, 40)], strict=True)):
        dest = tmp_path / f"v{k}.mp4"
        facts = cut_clip(
            v.path, row["start_s"], row["end_s"], dest, cfg, start_frame=row["start_frame"], end_frame=row["end_frame"]
        )
        assert indices(dest) == list(want)
        times = [d.time_s for d in iter_frames(dest)]
        steps = np.diff(times)
        assert steps == pytest.approx([1 / 30 if k == 0 else 1 / 10] * len(steps), abs=2e-3)  # timing kept
        assert facts["source_start_s"] == pytest.approx(v.truth["pts_s"][want[0]], abs=1e-4)


def test_corrupt_source_still_cuts(tmp_path: Path) -> None:
    src = shared_video("17_dec_corrupted.mp4")
    rows = SceneSplitter(SplitConfig(detector="stride", window_s=2.0, fade_threshold=0)).process_row(
        {"id": "c", "path": str(src)}
    )
    assert isinstance(rows, list) and [r["start_s"] for r in rows] == pytest.approx([0.0, 2.0, 4.0])
    cfg = CutConfig(out_dir=str(tmp_path), short_side=180)
    total = 0
    for k, r in enumerate(rows):
        f = cut_clip(src, r["start_s"], r["end_s"], tmp_path / f"{k}.mp4", cfg, start_frame=r["start_frame"])
        assert f["height"] == 180 and f["width"] == 320
        assert f["num_frames"] == r["num_frames"]
        total += f["num_frames"]
    assert total == 49


def test_options_fps_resize_audio(counter: synth.SynthVideo, tmp_path: Path) -> None:
    f = cut(counter.path, 0, 48, tmp_path / "a.mp4", fps=12, short_side=60)
    assert (f["fps"], f["num_frames"], f["width"], f["height"]) == (12.0, 24, 80, 60)
    assert indices(tmp_path / "a.mp4") == list(range(0, 48, 2))
    bunny = shared_video("skv_bigbuckbunny.mp4")
    with_audio = cut_clip(bunny, 1.0, 2.0, tmp_path / "b.mp4", CutConfig(out_dir=str(tmp_path), short_side=144))
    assert with_audio["has_audio"] and with_audio["audio_codec"] == "aac" and with_audio["height"] == 144
    without = cut_clip(bunny, 1.0, 2.0, tmp_path / "c.mp4", CutConfig(out_dir=str(tmp_path), audio=False))
    assert not without["has_audio"] and without["num_frames"] == with_audio["num_frames"] == 25
    broken = shared_video("mpy_video_with_failing_audio.mp4")  # its audio does not decode
    f = cut_clip(broken, 2.0, 3.0, tmp_path / "d.mp4", CutConfig(out_dir=str(tmp_path), short_side=144))
    assert f["num_frames"] == 25


def test_sources_are_never_overwritten(counter: synth.SynthVideo, tmp_path: Path) -> None:
    digest = hashlib.sha1(counter.path.read_bytes()).hexdigest()
    with pytest.raises(RowError, match="refusing to overwrite"):
        cut_clip(counter.path, 0.0, 1.0, counter.path, CutConfig(out_dir=str(tmp_path)))
    stage = ClipCutter(CutConfig(out_dir=str(counter.path.parent)))
    with pytest.raises(ConfigError, match="among the source videos"):
        stage.process_row({"id": "x", "path": str(counter.path), "start_s": 0.0, "end_s": 1.0})
    with pytest.raises(RowError, match=r"no usable clip|no video frame"):
        cut_clip(counter.path, 50.0, 51.0, tmp_path / "late.mp4", CutConfig(out_dir=str(tmp_path)))
    assert hashlib.sha1(counter.path.read_bytes()).hexdigest() == digest
    assert not list(tmp_path.glob("*part*")) and not (tmp_path / "late.mp4").exists()  # no temp file left behind


def test_stage_cuts_rows_in_parallel_and_fails_rows_alone(counter: synth.SynthVideo, tmp_path: Path) -> None:
    rows = [
        {
            "id": f"k{i}",
            "path": str(counter.path),
            "start_s": s / FPS,
            "end_s": e / FPS,
            "start_frame": s,
            "end_frame": e,
        }
        for i, (s, e) in enumerate([(0, 24), (24, 60), (60, 120)])
    ]
    rows.append({"id": "gone", "path": str(tmp_path / "elsewhere" / "missing.mp4"), "start_s": 0.0, "end_s": 1.0})
    with ClipCutter(CutConfig(out_dir=str(tmp_path / "o"), jobs=3, threads=1)).running() as cutter:
        out = cutter.process(schema.from_rows(rows))
    got = {r["id"]: r for r in out.to_pylist()}
    for r in rows[:3]:
        g = got[r["id"]]
        assert g["path"] == str((tmp_path / "o" / "clips" / f"{r['id']}.mp4").resolve())
        assert indices(Path(g["path"])) == list(range(r["start_frame"], r["end_frame"]))
        assert g["source_path"] == str(counter.path) and g["start_s"] is None and g["error"] is None
        assert g["num_frames"] == r["end_frame"] - r["start_frame"]
    assert got["gone"]["error_kind"] == "cut:not_found" and got["gone"]["path"].endswith("missing.mp4")


def test_probe_split_cut_through_the_engine(tmp_path: Path) -> None:
    videos = tmp_path / "videos"
    colors = [synth.PALETTE["gray"], synth.PALETTE["yellow"], synth.PALETTE["blue"]]
    scenes = synth.scenes(videos / "scenes.mp4", cuts=(30, 60), num_frames=90, size=(160, 120), colors=colors)
    synth.vfr(videos / "sub" / "vfr.mp4")
    (videos / "broken.mp4").write_bytes(b"\0" * 100)
    recipe = parse_recipe(
        {
            "stages": [
                {"probe": {}},
                {"filter": {"drop_errors": True}},
                {"split": {"detector": "content", "min_clip_s": 0.95}},
                {"cut": {"short_side": 96, "jobs": 2}},  # clips go to the run folder
                {"filter": {"drop_errors": True}},
            ]
        }
    )
    summary = LocalEngine(recipe, tmp_path / "run", workers=1, progress=False).run(videos)
    rows = pq.read_table(summary.manifest).to_pylist()
    by_source = sorted((Path(r["source_path"]).name, r["source_start_frame"], r["num_frames"]) for r in rows)
    assert by_source == [("scenes.mp4", 0, 30), ("scenes.mp4", 30, 30), ("scenes.mp4", 60, 30), ("vfr.mp4", 0, 30)]
    rejected = pq.read_table(summary.rejected).to_pylist()
    reasons = sorted(r["reject_reason"] for r in rejected)
    assert reasons[0] == "error: probe:invalid_data"  # broken.mp4, filtered out before the split
    assert reasons[1] == "split: clip 0.933 s is shorter than min_clip_s=0.95"  # the 10 fps tail of vfr.mp4
    for r in rows:
        assert Path(r["path"]).parent == tmp_path / "run" / "clips" and Path(r["path"]).stem == r["id"]
        assert r["id"] == schema.stable_id(r["parent_id"], "clip", r["source_start_frame"], r["source_end_frame"])
        assert probe_file(r["path"])["num_frames"] == r["num_frames"] and r["height"] == 96
    first = sorted(rows, key=lambda r: (r["source_path"], r["source_start_frame"]))[0]
    assert first["source_path"] == str(scenes.path) and colours(Path(first["path"]), colors) == {0}


def colours(path: Path, palette: list[tuple[int, int, int]]) -> set[int]:
    """Which of `palette` each frame of a clip is closest to."""
    return {synth.nearest_palette(convert(d, FrameSpec()).reshape(-1, 3).mean(0), palette) for d in iter_frames(path)}


def test_config_validation() -> None:
    with pytest.raises(ConfigError, match="give out_dir"):
        ClipCutter(CutConfig()).setup()  # outside an engine there is no run folder to default to
    with pytest.raises(ConfigError, match="preset"):
        parse_recipe({"stages": [{"cut": {"out_dir": "x", "preset": "quick"}}]})
    assert pa.types.is_float64(schema.arrow_type("split_score"))
