"""OCR reads back text drawn into the video, and finds none where there is none."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import shared_video
from vidcurate.io.decode import sample
from vidcurate.stages.score.ocr import OcrConfig, OcrScorer, box_area_ratio
from vidcurate.testing import synth


@pytest.fixture(scope="module")
def ocr() -> OcrScorer:
    scorer = OcrScorer(OcrConfig(frames=2))
    scorer.setup()  # models load once for the module
    return scorer


def run(scorer: OcrScorer, path: Path, duration_s: float | None = None) -> dict:
    return scorer.score(sample(path, {"o": scorer.spec}, duration_s=duration_s)["o"])


def test_ffmpeg_drawtext_is_read_back(ocr: OcrScorer, tmp_path: Path) -> None:
    v = synth.drawtext(tmp_path / "t.mp4", text="VIDCURATE 2026", num_frames=24)
    out = run(ocr, v.path, duration_s=1.0)
    assert out["ocr_text"] is not None
    assert out["ocr_text"].split() == ["VIDCURATE", "2026"]
    assert out["ocr_num_boxes"] >= 1
    assert 0.02 < out["ocr_area_ratio"] < 0.5


def test_opencv_text_is_read_back_and_boxed(ocr: OcrScorer, tmp_path: Path) -> None:
    v = synth.text(tmp_path / "h.mp4", text="HELLO WORLD", num_frames=24)
    out = run(ocr, v.path, duration_s=1.0)
    assert "HELLO" in out["ocr_text"] and "WORLD" in out["ocr_text"]
    x0, y0, x1, y1 = v.truth["bbox"]
    inked = (x1 - x0) * (y1 - y0) / (v.width * v.height)
    assert inked * 0.6 < out["ocr_area_ratio"] < inked * 2.5  # boxes hug the inked text with a margin


def test_no_text_in_a_textured_scene(ocr: OcrScorer, tmp_path: Path) -> None:
    v = synth.static(tmp_path / "s.mp4", num_frames=24)
    assert run(ocr, v.path, duration_s=1.0) == {"ocr_area_ratio": 0.0, "ocr_num_boxes": 0, "ocr_text": None}


def test_burned_in_timecode_is_found() -> None:
    scorer = OcrScorer(OcrConfig(frames=2, recognize=False))  # detection only: another config, same models
    scorer.setup()
    out = run(scorer, shared_video("mpy_smpte-2997.mp4"), duration_s=10.05)
    assert out["ocr_num_boxes"] >= 1 and out["ocr_area_ratio"] > 0.01 and out["ocr_text"] is None


def test_timecode_digits_are_read(ocr: OcrScorer) -> None:
    out = run(ocr, shared_video("mpy_smpte-2997.mp4"), duration_s=10.05)
    # the burned-in SMPTE timecode hh:mm:ss;ff of the two sampled frames (2.5 s and 7.5 s in)
    assert "00:00:02;" in out["ocr_text"] and "00:00:07;" in out["ocr_text"]


def test_box_area_is_the_union() -> None:
    square = np.array([[0, 0], [50, 0], [50, 50], [0, 50]], np.float32)
    assert box_area_ratio([square], 100, 100) == pytest.approx(0.25, abs=0.02)
    assert box_area_ratio([square, square], 100, 100) == pytest.approx(0.25, abs=0.02)  # overlap counted once
    assert box_area_ratio([], 100, 100) == 0.0
