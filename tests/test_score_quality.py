"""Image quality: BRISQUE ranks known-good above known-bad, and the simple measures match ground truth."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import shared_video
from vidcurate.core.errors import ConfigError
from vidcurate.core.frames import FrameSpec
from vidcurate.io.decode import sample
from vidcurate.io.ffmpeg import FrameWriter
from vidcurate.stages.score import brisque_svm
from vidcurate.stages.score.quality import QualityConfig, QualityScorer, bars, colorfulness
from vidcurate.testing import synth


@pytest.fixture(scope="module")
def quality() -> QualityScorer:
    scorer = QualityScorer()
    scorer.setup()
    return scorer


def run(scorer: QualityScorer, path: Path, duration_s: float) -> dict:
    return scorer.score(sample(path, {"q": scorer.spec}, duration_s=duration_s)["q"])


def test_pristine_beats_distorted_on_brisque(quality: QualityScorer) -> None:
    good = run(quality, shared_video("skv_carphone_pristine.mp4"), 4.0)
    bad = run(quality, shared_video("skv_carphone_distorted.mp4"), 4.0)
    assert good["quality_brisque"] + 15 < bad["quality_brisque"]  # lower is better; ~20 vs ~46
    assert good["blur_laplacian_var"] > 2 * bad["blur_laplacian_var"]  # compression smoothed the detail


def test_brisque_gets_worse_with_blur_and_noise(quality: QualityScorer) -> None:
    frame = sample(shared_video("07_skv_bikes.mp4"), {"a": quality.spec}, duration_s=10.0)["a"].data[3]
    model = brisque_svm.Brisque()
    clean = model.score(frame)
    blurred = model.score(cv2.GaussianBlur(frame, (0, 0), 2.5))
    noise = np.random.default_rng(0).normal(0, 20, frame.shape)
    noisy = model.score(np.clip(frame + noise, 0, 255).astype(np.uint8))
    assert clean + 10 < blurred and clean + 10 < noisy


def test_brisque_matches_the_reference_on_a_known_image() -> None:
    """The `brisque` package's own code gives 16.54 on this frame (computed once with its fit fixed)."""
    frame = sample(shared_video("skv_carphone_pristine.mp4"), {"a": FrameSpec(num=1)})["a"].data[0]  # 2 s in
    assert brisque_svm.Brisque().score(frame) == pytest.approx(16.54, abs=0.3)
    assert brisque_svm.features(frame).shape == (36,)


def test_near_black_screen_is_black(quality: QualityScorer) -> None:
    out = run(quality, shared_video("11_mpy_no_duration.webm"), 4.938)
    assert out["black_frame_ratio"] >= 0.9
    assert out["brightness_mean"] < 10 and out["letterbox_ratio"] == 0.0
    assert out["quality_brisque"] is None  # nothing to judge on a black picture


def test_black_frame_ratio_follows_ground_truth(quality: QualityScorer, tmp_path: Path) -> None:
    v = synth.black(tmp_path / "b.mp4", num_frames=48, black_ranges=[(0, 24)])
    out = run(quality, v.path, v.duration_s)
    assert out["black_frame_ratio"] == pytest.approx(v.truth["black_frame_ratio"], abs=0.13)  # 8 frames sampled


def test_letterbox_of_a_real_film(quality: QualityScorer) -> None:
    out = run(quality, shared_video("09_mpy_chaplin.mp4"), 9.64)
    assert 0.15 < out["letterbox_ratio"] < 0.35
    assert out["colorfulness"] < 2  # black and white film


def test_pillarbox_of_4_3_bars_in_16_9(quality: QualityScorer) -> None:
    out = run(quality, shared_video("mpy_smpte-2997.mp4"), 10.05)
    assert out["letterbox_ratio"] == pytest.approx(0.25, abs=0.02)  # 1440 of 1920 columns are picture


def test_bars_on_synthetic_letterbox(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    path = tmp_path / "lb.mp4"
    with FrameWriter(path, 320, 240, 24) as w:
        for _ in range(24):
            img = np.zeros((240, 320, 3), np.uint8)
            img[30:210] = rng.integers(40, 255, (180, 320, 3), dtype=np.uint8)
            w.write(img)
    out = run(QualityScorer(QualityConfig(brisque=False)), path, 1.0)
    assert out["letterbox_ratio"] == pytest.approx(60 / 240, abs=0.03)
    assert out["quality_brisque"] is None  # switched off


def test_simple_measures() -> None:
    grey = np.full((50, 60, 3), 128, np.uint8)
    assert colorfulness(grey) == 0.0
    vivid = np.zeros((50, 60, 3), np.uint8)
    vivid[:, :30] = (255, 0, 0)
    vivid[:, 30:] = (0, 0, 255)
    assert colorfulness(vivid) > 100
    peak = np.zeros((100, 100), np.uint8)
    peak[20:80, 1:100] = 200  # a 1-column dark edge is an artefact, 20-row bands are bars
    assert bars(peak, 25) == (20, 80, 0, 100)


def test_missing_brisque_model_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(brisque_svm.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ConfigError, match="pip install brisque"):
        QualityScorer().check()
    QualityScorer(QualityConfig(brisque=False)).check()  # the rest needs no model


# --- ranking: an original above each of its degraded copies ---------------------------------------

DEGRADE = {
    "upscaled": ["-vf", "scale=iw/4:ih/4,scale=iw*4:ih*4:flags=bicubic", "-crf", "12"],  # a 4x upscale
    "compressed": ["-crf", "45"],
    "noisy": ["-vf", "noise=alls=30:allf=t", "-crf", "12"],
    "blurred": ["-vf", "gblur=sigma=2.5", "-crf", "12"],
}
NATURAL = ("09_mpy_chaplin.mp4", "15_dec_flipping_a_pancake.mkv", "18_intel_one-by-one-person-detection.mp4",
           "skv_carphone_pristine.mp4")  # fmt: skip


def test_originals_rank_above_every_degraded_copy(tmp_path: Path) -> None:
    """On downscaled frames a 4x-upscaled or heavily compressed copy looked better than its original."""
    import subprocess

    import imageio_ffmpeg

    ff = imageio_ffmpeg.get_ffmpeg_exe()
    q = QualityScorer(QualityConfig(frames=3, brisque_frames=2))
    q.setup()

    def brisque(p: Path) -> float:
        return float(q.score(sample(p, {"q": q.spec})["q"])["quality_brisque"])

    wrong = []
    for name in NATURAL:
        src = shared_video(name)
        orig = tmp_path / f"{src.stem}_orig.mp4"  # the same 2 s, near-lossless: only the degradation differs
        subprocess.run([ff, "-v", "error", "-y", "-i", str(src), "-t", "2", "-an", "-c:v", "libx264", "-crf", "12",
                        str(orig)], check=True, timeout=120)  # fmt: skip
        base = brisque(orig)
        for kind, args in DEGRADE.items():
            out = tmp_path / f"{src.stem}_{kind}.mp4"
            subprocess.run([ff, "-v", "error", "-y", "-i", str(orig), "-an", "-c:v", "libx264", *args, str(out)],
                           check=True, timeout=120)  # fmt: skip
            got = brisque(out)
            if not got > base:
                wrong.append(f"{name} {kind}: {got:.1f} <= original {base:.1f}")
    assert not wrong, wrong
    pristine = brisque(shared_video("skv_carphone_pristine.mp4"))
    assert pristine + 10 < brisque(shared_video("skv_carphone_distorted.mp4"))
