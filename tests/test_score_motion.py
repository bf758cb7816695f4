"""Motion scores order clips by how much they move, on the flow, vector and difference paths."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import shared_video
from vidcurate.core.frames import CodecMotion, FrameSpec
from vidcurate.io.decode import sample
from vidcurate.stages.score.motion import MotionConfig, MotionScorer, vector_speed
from vidcurate.testing import synth


def run(scorer: MotionScorer, path: Path, duration_s: float | None = None) -> dict:
    return scorer.score(sample(path, {"m": scorer.spec}, duration_s=duration_s)["m"])


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("motion")
    return {
        "box": synth.moving_box(d / "box.mp4", direction="right", speed_px=4, num_frames=48).path,
        "static": synth.static(d / "static.mp4", num_frames=48).path,
        "box_vp9": synth.moving_box(d / "box.webm", speed_px=4, num_frames=48, codec="libvpx-vp9").path,
        "static_vp9": synth.static(d / "static.webm", num_frames=48, codec="libvpx-vp9").path,
        "box_hevc": synth.moving_box(d / "box_hevc.mp4", speed_px=4, num_frames=24, codec="libx265").path,
    }


@pytest.mark.parametrize("method", ["dis", "farneback"])
def test_moving_box_beats_static_on_flow_and_vectors(clips: dict[str, Path], method: str) -> None:
    scorer = MotionScorer(MotionConfig(method=method))
    box, still = run(scorer, clips["box"]), run(scorer, clips["static"])
    # flow: the box covers 2 % of the frame; a still frame gives (almost) nothing
    assert still["motion_flow_mean"] < 1e-4 and box["motion_flow_mean"] > 20 * max(still["motion_flow_mean"], 1e-5)
    assert box["motion_flow_p90"] >= still["motion_flow_p90"]
    # codec vectors: 40x40 box moving 4 px/frame at 24 fps on a 400 px diagonal -> ~0.005 diagonals/s
    assert still["motion_mv_mean"] < 1e-4
    assert 0.002 < box["motion_mv_mean"] < 0.02
    assert box["motion_diff_mean"] > 10 * still["motion_diff_mean"]


def test_speed_unit_is_diagonals_per_second(tmp_path: Path) -> None:
    """A 120 px box (19 % of the frame) moving 1 px/frame at 24 fps: 24 px/s over a 400 px diagonal."""
    v = synth.moving_box(tmp_path / "big.mp4", speed_px=1, box=120, num_frames=48, size=(320, 240))
    out = run(MotionScorer(MotionConfig(fps=12)), v.path)
    in_box = 1 * 24 / np.hypot(320, 240)
    share = 120 * 120 / (320 * 240)  # the rest of the frame is still
    assert out["motion_flow_p90"] == pytest.approx(in_box, rel=0.15)  # the top 10 % of pixels are in the box
    assert out["motion_flow_mean"] == pytest.approx(in_box * share, rel=0.5)  # edges of the box smear a little
    assert out["motion_mv_mean"] == pytest.approx(in_box * share, rel=0.3)
    assert run(MotionScorer(MotionConfig(vectors=False)), v.path)["motion_mv_mean"] is None  # not asked for


def test_codec_without_vectors_falls_back_to_differences(clips: dict[str, Path]) -> None:
    scorer = MotionScorer()
    box, still = run(scorer, clips["box_vp9"]), run(scorer, clips["static_vp9"])
    assert box["motion_mv_mean"] is None and still["motion_mv_mean"] is None
    assert box["motion_diff_mean"] > 5 * still["motion_diff_mean"]
    assert box["motion_flow_mean"] > 10 * max(still["motion_flow_mean"], 1e-5)
    hevc = run(scorer, clips["box_hevc"])  # FFmpeg's HEVC decoder exports no vectors either
    assert hevc["motion_mv_mean"] is None and hevc["motion_flow_mean"] > 10 * max(still["motion_flow_mean"], 1e-5)


def test_vectors_are_deterministic_with_slice_threads(clips: dict[str, Path]) -> None:
    spec = {"m": FrameSpec(num=1, gray=True, max_side=64, motion_vectors=True)}
    a = sample(clips["box"], spec)["m"].vectors
    b = sample(clips["box"], spec)["m"].vectors
    assert a is not None and b is not None
    assert len(a.times_s) == 48 and (a.width, a.height) == (320, 240)
    assert np.array_equal(a.past, b.past) and np.array_equal(a.future, b.future)
    # FFmpeg's convention src = dst + v: content moving right has vectors pointing left to the past
    assert a.past[:, 2].sum() < 0 < a.future[:, 2].sum()


def test_vector_speed_divides_by_the_reference_distance() -> None:
    """I B B P: the P picture's vectors span 3 frames, a B picture's 1 or 2."""
    types = np.array([1, 3, 3, 2], np.int8)
    past = np.array([[0, 0, 0, 0], [100, 100 * 1, 0, 0], [100, 100 * 2, 0, 0], [100, 100 * 3, 0, 0]], float)
    future = np.zeros((4, 4))
    v = CodecMotion(np.arange(4) / 25.0, types, past, future, 300, 400)  # diagonal 500 px
    assert vector_speed(v) == pytest.approx(1 * 25 / 500)  # 1 px per frame everywhere
    still = CodecMotion(np.arange(4) / 25.0, types, past * [1, 0, 0, 0], future, 300, 400)
    assert vector_speed(still) == 0.0
    intra = CodecMotion(np.arange(4) / 25.0, np.ones(4, np.int8), np.zeros((4, 4)), future, 300, 400)
    assert vector_speed(intra) is None


def test_flat_dark_screen_has_no_flow() -> None:
    """A near-black screen capture: DIS invents flow on flat areas unless they are masked out."""
    out = run(MotionScorer(), shared_video("11_mpy_no_duration.webm"), duration_s=4.938)
    assert out["motion_flow_mean"] < 1e-3 and out["motion_mv_mean"] is None
    assert out["motion_diff_mean"] < 0.01


def test_static_camera_real_video_has_low_motion() -> None:
    intel = run(MotionScorer(), shared_video("18_intel_one-by-one-person-detection.mp4"), duration_s=139.4)
    bikes = run(MotionScorer(), shared_video("07_skv_bikes.mp4"), duration_s=10.0)
    assert intel["motion_flow_mean"] < 0.005 and intel["motion_mv_mean"] < 0.005
    assert bikes["motion_flow_mean"] > 5 * intel["motion_flow_mean"]
    assert bikes["motion_mv_mean"] > 5 * intel["motion_mv_mean"]


def test_low_contrast_drift_still_counts(tmp_path: Path) -> None:
    """A faint texture (~9 grey levels) drifting 1 px/frame over the whole frame: flat-area masking keeps it."""
    v = synth.scenes(tmp_path / "drift.mp4", cuts=(40,), num_frames=48)
    frames = sample(v.path, {"m": MotionScorer().spec}, end_s=1.6)["m"]  # before the cut
    out = MotionScorer().score(frames)
    assert out["motion_flow_mean"] == pytest.approx(24 / np.hypot(320, 240), rel=0.35)
