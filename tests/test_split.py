"""Scene splitting: every detector against videos whose cuts are known, spans from timestamps."""

from __future__ import annotations

import itertools
import random
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pyarrow as pa
import pytest

from conftest import shared_video
from vidcurate.core.errors import ConfigError
from vidcurate.core.frames import FrameSpec
from vidcurate.core.recipe import parse_recipe
from vidcurate.io.decode import convert, iter_frames
from vidcurate.io.ffmpeg import FrameWriter
from vidcurate.stages.cut import CutConfig, cut_clip
from vidcurate.stages.split import SceneSplitter, SplitConfig
from vidcurate.stages.split.spans import Boundary, plan_clips
from vidcurate.stages.split.transnet import CONTEXT, STEP, WINDOW, SlidingWindows, TransNetV2Runner, resolve_device
from vidcurate.testing import synth

P = synth.PALETTE
# Neighbouring scenes differ by > 35 both in PySceneDetect's HSV score and in luma (limited-range video),
# so the default score and `luma_only` both see every cut.
SCENE_COLORS = [P["gray"], P["yellow"], P["blue"], P["orange"], P["blue"]]
CUTS = [20, 45, 73, 100]
BIKES_STARTS = [0, 30, 76, 137, 187, 242]


@pytest.fixture(scope="module")
def scenes(tmp_path_factory: pytest.TempPathFactory) -> synth.SynthVideo:
    d = tmp_path_factory.mktemp("split")
    return synth.scenes(d / "scenes.mp4", cuts=CUTS, num_frames=128, colors=SCENE_COLORS, size=(160, 120))


@pytest.fixture(scope="module")
def transnet() -> SceneSplitter:
    stage = SceneSplitter(SplitConfig(detector="transnetv2", device="cpu"))
    stage.setup()
    return stage


def split(path: Path | str, row: dict[str, Any] | None = None, **cfg: Any) -> list[dict[str, Any]]:
    out = SceneSplitter(SplitConfig(**cfg)).process_row({"id": "parent", "path": str(path), **(row or {})})
    assert isinstance(out, list)
    return out


def starts(rows: list[dict[str, Any]]) -> list[int]:
    return [r["start_frame"] for r in rows]


def assert_tiles(rows: list[dict[str, Any]], n: int) -> None:
    """Clips cover frames [0, n) without gaps or overlaps, spans agree with frame counts."""
    assert rows[0]["start_frame"] == 0 and rows[-1]["end_frame"] == n
    for a, b in itertools.pairwise(rows):
        assert a["end_frame"] == b["start_frame"] and a["end_s"] == b["start_s"]
    for r in rows:
        assert r["num_frames"] == r["end_frame"] - r["start_frame"] > 0
        assert r["duration_s"] == pytest.approx(r["end_s"] - r["start_s"]) and r["duration_s"] > 0


# ------------------------------------------------------------------------------------ synthetic cuts


@pytest.mark.parametrize("detector", ["content", "adaptive"])
def test_pyscenedetect_detectors_find_every_cut(scenes: synth.SynthVideo, detector: str) -> None:
    rows = split(scenes.path, detector=detector)
    assert len(rows) == len(CUTS) + 1
    for got, want in zip(starts(rows)[1:], CUTS, strict=True):
        assert abs(got - want) <= 1
    assert_tiles(rows, scenes.num_frames)
    assert all(r["_reject"] is None and r["parent_id"] == "parent" for r in rows)
    assert rows[0]["split_score"] is None and all(r["split_score"] > 0 for r in rows[1:])
    assert rows[1]["start_s"] == pytest.approx(rows[1]["start_frame"] / 24)


def test_transnetv2_finds_every_cut(scenes: synth.SynthVideo, transnet: SceneSplitter) -> None:
    rows = transnet.process_row({"id": "p", "path": str(scenes.path)})
    assert isinstance(rows, list)
    for got, want in zip(starts(rows)[1:], CUTS, strict=True):
        assert abs(got - want) <= 1
    assert all(0.5 < r["split_score"] <= 1 for r in rows[1:])


def test_clip_ids_are_stable_and_derive_from_parent_and_span(scenes: synth.SynthVideo) -> None:
    a, b = split(scenes.path), split(scenes.path)
    assert [r["id"] for r in a] == [r["id"] for r in b]
    assert len({r["id"] for r in a}) == len(a)
    other = SceneSplitter(SplitConfig()).process_row({"id": "other", "path": str(scenes.path)})
    assert isinstance(other, list) and not {r["id"] for r in a} & {r["id"] for r in other}


def test_stride_windows_and_long_scene_windows(scenes: synth.SynthVideo) -> None:
    rows = split(scenes.path, detector="stride", window_s=1.0)
    assert starts(rows) == [0, 24, 48, 72, 96, 120]
    assert_tiles(rows, scenes.num_frames)
    # max_clip_s: each scene longer than 0.6 s is cut into the fewest equal windows that fit
    rows = split(scenes.path, max_clip_s=0.6)
    assert all(r["duration_s"] <= 0.6 + 1e-6 for r in rows)
    assert set(CUTS) <= set(starts(rows))
    assert starts(rows)[:3] == [0, 10, 20] and starts(rows)[3] in (32, 33)  # 20 frames: 2 x 10; 25: 12/13 + 13/12
    assert_tiles(rows, scenes.num_frames)


def test_min_clip_s_rejects_with_a_reason(scenes: synth.SynthVideo) -> None:
    rows = split(scenes.path, min_clip_s=1.1)  # scenes of 20, 25, 28, 27, 28 frames at 24 fps
    reasons = [r["_reject"] for r in rows]
    assert reasons[0].startswith("split: clip 0.833 s is shorter than min_clip_s=1.1")
    assert [r is None for r in reasons] == [False, False, True, True, True]  # 0.83, 1.04 s are too short


def test_min_scene_s_drops_cuts_too_close(scenes: synth.SynthVideo) -> None:
    assert starts(split(scenes.path, min_scene_s=0.8)) == [0, 20, 45, 73, 100]
    assert starts(split(scenes.path, min_scene_s=0.9)) == [0, 45, 73, 100]  # the first scene lasts 0.83 s


# --------------------------------------------------------------------------------- trim and fades


def _write(path: Path, frames: list[np.ndarray], fps: int = 24) -> Path:
    h, w = frames[0].shape[:2]
    with FrameWriter(path, w, h, fps) as wr:
        for f in frames:
            wr.write(f)
    return path


def _flat(rgb: tuple[int, int, int], w: int = 160, h: int = 120) -> np.ndarray:
    return np.broadcast_to(np.array(rgb, np.uint8), (h, w, 3)).copy()


def _edge_colours(clip: Path) -> list[np.ndarray]:
    frames = [convert(d, FrameSpec()) for d in iter_frames(clip)]
    return [frames[0].reshape(-1, 3).mean(0), frames[-1].reshape(-1, 3).mean(0)]


def test_trim_s_keeps_transition_frames_out_of_the_clips(tmp_path: Path) -> None:
    """Scenes joined by two blended frames; trimming 2 frames leaves only pure scene frames in each clip."""
    a, b, c = P["blue"], P["yellow"], P["blue"]
    frames = [_flat(a)] * 30
    frames += [_flat(tuple(round(x + (y - x) * k / 3) for x, y in zip(a, b, strict=True))) for k in (1, 2)]
    frames += [_flat(b)] * 30
    frames += [_flat(tuple(round(x + (y - x) * k / 3) for x, y in zip(b, c, strict=True))) for k in (1, 2)]
    frames += [_flat(c)] * 30
    video = _write(tmp_path / "blend.mp4", frames)
    palette = [a, b, c]
    cfg = CutConfig(out_dir=str(tmp_path / "out"), crf=10, audio=False)

    def dist(rgb: np.ndarray, scene: int) -> float:
        return float(np.abs(rgb - np.array(palette[scene])).max())

    untrimmed = split(video)
    assert len(untrimmed) == 3
    clip = cut_clip(video, untrimmed[1]["start_s"], untrimmed[1]["end_s"], tmp_path / "u.mp4", cfg)
    assert clip["num_frames"] == untrimmed[1]["num_frames"]
    first, _ = _edge_colours(tmp_path / "u.mp4")
    assert dist(first, 1) > 25  # without a margin, a blended frame opens the clip

    rows = split(video, trim_s=2 / 24)
    assert len(rows) == 3
    assert rows[0]["end_frame"] == untrimmed[0]["end_frame"] - 2
    assert rows[1]["start_frame"] == untrimmed[1]["start_frame"] + 2
    for k, r in enumerate(rows):
        dest = tmp_path / f"t{k}.mp4"
        cut_clip(video, r["start_s"], r["end_s"], dest, cfg, start_frame=r["start_frame"], end_frame=r["end_frame"])
        for rgb in _edge_colours(dest):
            assert synth.nearest_palette(rgb, palette) in ({0, 2} if k != 1 else {1})
            assert dist(rgb, k) < 8, (k, rgb)


def test_fade_through_black(tmp_path: Path) -> None:
    """A slow fade out and in: too gradual for the content detector; `fade_threshold` cuts in the black."""
    a, b = np.array(P["yellow"], np.float32), np.array(P["cyan"], np.float32)
    alphas = [1.0] * 30 + [1 - (k + 1) / 10 for k in range(10)] + [0.0] * 6 + [(k + 1) / 10 for k in range(10)]
    frames = [_flat(tuple(np.round(a * x).astype(int))) for x in alphas[:46]]
    frames += [_flat(tuple(np.round(b * x).astype(int))) for x in alphas[46:]] + [_flat(P["cyan"])] * 30
    video = _write(tmp_path / "fade.mp4", frames)
    black = set(range(40, 46))
    for luma_only in (True, False):  # without fade handling some clip holds the black frames
        rows = split(video, luma_only=luma_only)
        assert any(black & set(range(r["start_frame"], r["end_frame"])) for r in rows)
    rows = split(video, fade_threshold=20)
    kept = [r for r in rows if r["_reject"] is None]
    assert len(kept) == 2
    assert 30 < kept[0]["end_frame"] <= 40 and 46 <= kept[1]["start_frame"] < 56
    assert kept[0]["start_frame"] == 0 and kept[1]["end_frame"] == len(frames)


def test_luma_only_is_blind_to_equally_bright_colours(tmp_path: Path) -> None:
    red, teal = (220, 60, 60), (20, 150, 140)  # luma 108 and 110
    video = _write(tmp_path / "hue.mp4", [_flat(red)] * 24 + [_flat(teal)] * 24)
    assert starts(split(video)) == [0, 24]  # hue and saturation changed: PySceneDetect's default score sees it
    assert starts(split(video, luma_only=True)) == [0]


@pytest.mark.parametrize("luma_only", [True, False])
def test_fast_score_equals_pyscenedetect(luma_only: bool) -> None:
    """Our frame score equals ContentDetector's own on the same frames (luma plane vs grey BGR)."""
    from scenedetect.common import FrameTimecode
    from scenedetect.detectors import ContentDetector

    from vidcurate.stages.split.detectors import _fast_content_classes

    rng = np.random.default_rng(1)
    weights = ContentDetector.LUMA_ONLY_WEIGHTS if luma_only else ContentDetector.DEFAULT_COMPONENT_WEIGHTS
    ours, stock = _fast_content_classes()[0](weights=weights), ContentDetector(weights=weights)
    for i in range(4):
        bgr = rng.integers(0, 256, (72, 128, 3), np.uint8)
        grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
        tc = FrameTimecode(i, fps=24.0)
        mine = ours._calculate_frame_score(tc, grey if luma_only else bgr)
        ref = stock._calculate_frame_score(tc, cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR) if luma_only else bgr)
        assert mine == pytest.approx(ref, abs=1e-9)
        assert i == 0 or mine > 20


# ------------------------------------------------------------------------------------ real videos


@pytest.mark.parametrize("detector", ["content", "adaptive"])
def test_bikes_scene_starts(detector: str) -> None:
    rows = split(shared_video("07_skv_bikes.mp4"), detector=detector)
    for got, want in zip(starts(rows), BIKES_STARTS, strict=True):
        assert abs(got - want) <= 1
    assert_tiles(rows, 250)


def test_bikes_scene_starts_transnetv2(transnet: SceneSplitter) -> None:
    rows = transnet.process_row({"id": "b", "path": str(shared_video("07_skv_bikes.mp4"))})
    assert isinstance(rows, list)
    for got, want in zip(starts(rows), BIKES_STARTS, strict=True):
        assert abs(got - want) <= 1
    assert_tiles(rows, 250)


def test_vfr_spans_come_from_timestamps(tmp_path: Path) -> None:
    v = synth.vfr(tmp_path / "vfr.mp4")  # 30 frames at 30 fps, then 10 at 10 fps; the picture changes at 1.0 s
    rows = split(v.path)
    assert starts(rows) == [0, v.truth["cut_frame"]]
    assert rows[1]["start_s"] == pytest.approx(v.truth["cut_s"], abs=1e-4)
    assert rows[0]["end_s"] == pytest.approx(v.truth["cut_s"], abs=1e-4)
    rows = split(v.path, detector="stride", window_s=0.5)  # windows by time, not by frame count
    assert starts(rows) == [0, 15, 30, 35]
    assert [r["start_s"] for r in rows] == pytest.approx([0.0, 0.5, 1.0, 1.5], abs=1e-4)


def test_corrupt_packet_does_not_abort() -> None:
    rows = split(shared_video("17_dec_corrupted.mp4"))
    assert rows and all(r["_reject"] is None for r in rows)
    assert_tiles(rows, 49)  # 50 frames in the header, one packet does not decode
    assert rows[-1]["end_s"] == pytest.approx(5.0, abs=0.11)


@pytest.mark.parametrize(("name", "frames", "end_s"), [("10_mpy_fire2.mp4", 25, 2.38), ("16_dec_video_90.mov", 3, 0.1)])
def test_rotated_phone_videos(name: str, frames: int, end_s: float) -> None:
    rows = split(shared_video(name), min_scene_s=10)
    assert len(rows) == 1
    assert (rows[0]["num_frames"], rows[0]["start_s"]) == (frames, 0.0)
    assert rows[0]["end_s"] == pytest.approx(end_s, abs=0.02)


def test_a_row_with_a_span_is_split_inside_it(scenes: synth.SynthVideo) -> None:
    rows = split(scenes.path, {"start_s": 30 / 24, "end_s": 90 / 24})
    assert starts(rows) == [30, 45, 73]  # absolute frame indices, counted from packets
    assert rows[0]["start_s"] == pytest.approx(30 / 24) and rows[-1]["end_frame"] == 90


def test_images_pass_and_bad_files_become_row_errors(tmp_path: Path) -> None:
    stage = SceneSplitter(SplitConfig())
    assert stage.process_row({"id": "i", "path": "x.png", "media": "image"}) == dict.fromkeys(SceneSplitter.columns)
    bad = tmp_path / "bad.mp4"
    bad.write_text("not a video")
    (row,) = stage.process(pa.table({"id": ["b"], "path": [str(bad)]})).to_pylist()
    assert row["error_kind"] == "split:invalid_data" and row["error"].startswith("split: bad.mp4")


# ------------------------------------------------------------------------------- spans and windows


def test_plan_clips_trim_counts_whole_frames() -> None:
    times = np.arange(101) / 25.0  # 100 frames at 25 fps
    cut = [Boundary(50, 50, 1.0)]
    for trim, k in [(0.0, 0), (0.04, 1), (0.05, 2), (0.08, 2), (0.081, 3)]:
        a, b = plan_clips(times, cut, trim_s=trim)
        assert (a.end, b.start) == (50 - k, 50 + k), trim
        assert (a.start, b.end) == (0, 100)  # the ends of the video are not cuts


def test_plan_clips_gap_boundaries_and_vfr() -> None:
    times = np.array([0.0, 0.1, 0.2, 0.5, 0.6, 0.7, 1.0, 1.5, 2.0])  # 8 frames, irregular
    clips = plan_clips(times, [Boundary(3, 5, 0.9)], min_clip_s=0.3)
    assert [(c.start, c.end, c.reject is None) for c in clips] == [(0, 3, True), (5, 8, True)]
    assert clips[1].score == 0.9
    clips = plan_clips(times, [Boundary(3, 3), Boundary(4, 4)], min_scene_s=0.45)
    assert [(c.start, c.end) for c in clips] == [(0, 3), (3, 8)]  # 0.5 -> 0.6 is too short a scene


# ------------------------------------------------------------------------------------- transnetv2


@pytest.mark.parametrize(("n", "batch"), [(1, 1), (49, 2), (50, 3), (51, 1), (137, 2)])
def test_sliding_windows_cover_every_frame_once(n: int, batch: int) -> None:
    """Each frame's prediction comes from the middle 50 of a 100-frame window, as in the original."""
    seen: list[int] = []

    def infer(windows: np.ndarray) -> np.ndarray:
        assert windows.shape[1:] == (WINDOW, 1) and len(windows) <= max(batch, 3)
        seen.append(len(windows))
        return windows[:, CONTEXT : CONTEXT + STEP, 0].astype(np.float32).reshape(-1)

    w = SlidingWindows(infer, batch)
    for i in range(n):
        w.push(np.array([i]))
    out = w.finish()
    assert out.tolist() == list(range(n))
    assert sum(seen) == -(-n // STEP)


def test_transnetv2_matches_the_package_and_leaves_torch_alone(transnet: SceneSplitter) -> None:
    import torch

    before = (torch.are_deterministic_algorithms_enabled(), torch.random.get_rng_state(), random.getstate())
    runner = TransNetV2Runner("cpu", batch_windows=2)
    after = (torch.are_deterministic_algorithms_enabled(), torch.random.get_rng_state(), random.getstate())
    assert before[0] == after[0] and torch.equal(before[1], after[1]) and before[2] == after[2]
    frames = np.random.default_rng(0).integers(0, 256, (60, 27, 48, 3), np.uint8)
    frames[30:] //= 3  # something to see
    ours = runner.predict(frames)
    with torch.inference_mode():
        ref, _ = runner.model.predict_frames(torch.from_numpy(frames), quiet=True)
    np.testing.assert_allclose(ours, ref.numpy().reshape(-1), atol=1e-5)


def test_config_errors() -> None:
    with pytest.raises(ConfigError, match="threshold"):
        parse_recipe({"stages": [{"split": {"detector": "transnetv2", "threshold": 2}}]})
    with pytest.raises(ConfigError, match="max_clip_s"):
        parse_recipe({"stages": [{"split": {"max_clip_s": 1, "min_clip_s": 2}}]})
    import torch

    if torch.cuda.is_available():
        assert resolve_device("cuda") == "cuda"
    else:
        with pytest.raises(ConfigError, match="no CUDA"):
            resolve_device("cuda")
