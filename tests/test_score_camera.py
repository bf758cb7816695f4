"""Camera motion labels against a crop window moving over a large still image (known ground truth).

The window moving right over the image makes the content slide left: that is the camera
panning right. A window that shrinks around the centre is a zoom in.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import shared_video
from vidcurate.io.decode import sample
from vidcurate.io.ffmpeg import FrameWriter
from vidcurate.stages.score.camera import CameraScorer, label, shake
from vidcurate.testing import synth

OUT_W, OUT_H, FPS, N = 320, 240, 24, 48
SPEED = 4  # px per frame of the crop window


def still_image(w: int = 1024, h: int = 768, seed: int = 0) -> np.ndarray:
    """Multi-scale texture plus shapes: plenty of corners to track, no repeating pattern."""
    rng = np.random.default_rng(seed)
    img = np.full((h, w, 3), 128, np.float32)
    for cell, amp in ((64, 60), (16, 30), (4, 12)):
        small = rng.uniform(-1, 1, (h // cell + 2, w // cell + 2, 3)).astype(np.float32)
        img += amp * cv2.resize(small, (w + 2 * cell, h + 2 * cell), interpolation=cv2.INTER_CUBIC)[:h, :w]
    for _ in range(120):
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        color = tuple(float(v) for v in rng.integers(0, 256, 3))
        cv2.circle(img, (x, y), int(rng.integers(4, 30)), color, -1)
    return np.clip(img, 0, 255).astype(np.uint8)


def window(big: np.ndarray, cx: float, cy: float, scale: float) -> np.ndarray:
    """The OUT_W x OUT_H view centred at (cx, cy), magnified `scale` times."""
    m = np.array([[scale, 0, OUT_W / 2 - scale * cx], [0, scale, OUT_H / 2 - scale * cy]], np.float32)
    return cv2.warpAffine(big, m, (OUT_W, OUT_H), flags=cv2.INTER_AREA)


MOVES = {
    # label: per-frame change of the window's centre (dx, dy) and zoom factor
    "static": (0, 0, 1.0),
    "pan_right": (SPEED, 0, 1.0),
    "pan_left": (-SPEED, 0, 1.0),
    "tilt_down": (0, SPEED, 1.0),
    "tilt_up": (0, -SPEED, 1.0),
    "zoom_in": (0, 0, 1.01),
    "zoom_out": (0, 0, 1 / 1.01),
}


@pytest.fixture(scope="module")
def camera_clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    big = still_image()
    d = tmp_path_factory.mktemp("camera")
    rng = np.random.default_rng(1)
    jitter = rng.normal(0, 3, size=(N, 2))  # a hand-held "static" shot
    out = {}
    for name, (dx, dy, zoom) in {**MOVES, "shaky": (0, 0, 1.0)}.items():
        path = d / f"{name}.mp4"
        with FrameWriter(path, OUT_W, OUT_H, FPS) as w:
            for i in range(N):
                k = i - N // 2
                cx, cy = big.shape[1] / 2 + dx * k, big.shape[0] / 2 + dy * k
                if name == "shaky":
                    cx, cy = cx + jitter[i, 0], cy + jitter[i, 1]
                w.write(window(big, cx, cy, 1.5 * zoom**k))
        out[name] = path
    return out


def score(path: Path, duration_s: float | None = None, end_s: float | None = None) -> dict:
    scorer = CameraScorer()
    return scorer.score(sample(path, {"c": scorer.spec}, duration_s=duration_s, end_s=end_s)["c"])


@pytest.mark.parametrize("name", list(MOVES))
def test_crop_window_gives_the_camera_label(camera_clips: dict[str, Path], name: str) -> None:
    out = score(camera_clips[name])
    assert out["camera_motion"] == name
    dx, dy, zoom = MOVES[name]
    pan = np.hypot(dx, dy) * FPS / np.hypot(OUT_W, OUT_H)  # window speed in output pixels: diagonals/s
    assert out["camera_pan_speed"] == pytest.approx(pan * 1.5, abs=0.01)  # the view is magnified 1.5x
    assert out["camera_zoom_rate"] == pytest.approx(np.log(zoom) * FPS, abs=0.01)
    assert out["camera_shake"] < 0.002  # steady moves do not shake


def test_shaky_hand_held_shot_has_shake(camera_clips: dict[str, Path]) -> None:
    shaky, steady = score(camera_clips["shaky"]), score(camera_clips["pan_right"])
    assert shaky["camera_shake"] > 0.003 > steady["camera_shake"]
    assert shaky["camera_motion"] in ("static", "complex")


def test_static_camera_real_video() -> None:
    out = score(shared_video("18_intel_one-by-one-person-detection.mp4"), end_s=40.0)  # 160 frames
    assert out["camera_motion"] == "static"  # people walk through; RANSAC keeps the background
    assert out["camera_pan_speed"] < 0.002 and abs(out["camera_zoom_rate"]) < 0.005


def test_flat_black_clip_has_no_label() -> None:
    out = score(shared_video("11_mpy_no_duration.webm"), duration_s=4.938)
    assert out == dict.fromkeys(CameraScorer.columns)


def test_label_rules() -> None:
    steady = np.full(10, 0.2)
    assert label(steady, steady * 0, steady * 0, 0.01, 0.7) == "pan_right"
    assert label(steady, steady, steady * 0, 0.01, 0.7) == "complex"  # diagonal: pan and tilt
    flip = np.array([0.2, -0.2] * 5 + [0.2])
    assert label(flip, flip * 0, flip * 0, 0.01, 0.7) == "complex"  # directions disagree
    assert label(steady * 0.01, steady * 0, steady * 0, 0.01, 0.7) == "static"
    assert shake([0.01] * 10, [0.0] * 10, 4) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("end_s", [None, 1.0])
def test_a_busy_object_on_a_still_background_is_not_camera_motion(tmp_path: Path, end_s: float | None) -> None:
    """The checkered box has the strongest corners; spreading corners over a grid keeps the background."""
    v = synth.moving_box(tmp_path / "box.mp4", direction="right", speed_px=4, num_frames=48)
    out = score(v.path, end_s=end_s)
    assert out["camera_motion"] == "static" and out["camera_pan_speed"] < 0.005
