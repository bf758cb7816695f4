"""NudeNet runs on real and synthetic benign clips (low scores) and aggregates its classes correctly.

No explicit imagery can ship with the tests, so the high end is checked on the aggregation with
fake detector outputs shaped like the model's.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import shared_video
from vidcurate.core.errors import ConfigError
from vidcurate.core.recipe import parse_recipe
from vidcurate.io.decode import sample
from vidcurate.stages.score.nsfw import EXPLICIT, LABELS, NsfwConfig, NsfwScorer, nsfw_prob, preprocess
from vidcurate.testing import synth


@pytest.fixture(scope="module")
def nsfw() -> NsfwScorer:
    scorer = NsfwScorer(NsfwConfig(frames=2))
    scorer.setup()
    return scorer


def run(scorer: NsfwScorer, path: Path, duration_s: float) -> float:
    return scorer.score(sample(path, {"n": scorer.spec}, duration_s=duration_s)["n"])["nsfw_prob"]


@pytest.mark.parametrize(
    ("video", "duration_s"),
    [("15_dec_flipping_a_pancake.mkv", 10.38), ("18_intel_one-by-one-person-detection.mp4", 139.4)],
)
def test_benign_real_clips_score_low(nsfw: NsfwScorer, video: str, duration_s: float) -> None:
    p = run(nsfw, shared_video(video), duration_s)
    assert 0.0 <= p < 0.2  # people on screen, dressed: below NudeNet's own detection floor


def test_benign_synthetic_clip_scores_near_zero(nsfw: NsfwScorer, tmp_path: Path) -> None:
    v = synth.moving_box(tmp_path / "b.mp4", num_frames=24)
    assert run(nsfw, v.path, 1.0) < 0.05


def test_model_output_matches_the_label_table(nsfw: NsfwScorer) -> None:
    """The frames of a clip go through the model as one batch of the model's shape."""
    batch = np.stack([preprocess(np.zeros((120, 200, 3), np.uint8))] * 3)
    (raw,) = nsfw._session.run(None, {nsfw._session.get_inputs()[0].name: batch})
    assert raw.shape[:2] == (3, 4 + len(LABELS))
    assert 0.0 <= nsfw_prob(raw) <= 1.0


def fake_output(frames: int, scores: dict[tuple[int, str], float]) -> np.ndarray:
    """A (frames, 4 + classes, anchors) array with given (frame, class) maxima at random anchors."""
    rng = np.random.default_rng(0)
    raw = rng.uniform(0, 0.01, size=(frames, 4 + len(LABELS), 2100)).astype(np.float32)
    raw[:, :4] = rng.uniform(0, 320, size=(frames, 4, 2100))  # box coordinates are not scores
    for (f, cls), v in scores.items():
        raw[f, 4 + LABELS.index(cls), rng.integers(0, 2100)] = v
    return raw


def test_aggregation_takes_the_max_of_explicit_classes_over_frames() -> None:
    raw = fake_output(3, {(0, "FACE_FEMALE"): 0.95, (1, "FEMALE_BREAST_EXPOSED"): 0.81, (2, "BELLY_EXPOSED"): 0.9})
    assert nsfw_prob(raw) == pytest.approx(0.81)  # a face and a belly are not NSFW, an exposed breast is
    covered = fake_output(2, {(0, "FEMALE_BREAST_COVERED"): 0.99, (1, "BUTTOCKS_COVERED"): 0.97})
    assert nsfw_prob(covered) < 0.02
    assert nsfw_prob(raw, ("BELLY_EXPOSED",)) == pytest.approx(0.9)  # classes are configurable
    assert set(EXPLICIT) <= set(LABELS)
    with pytest.raises(ValueError, match="expected"):
        nsfw_prob(np.zeros((1, 10, 5)))


def test_unknown_class_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown class FEET"):
        parse_recipe({"stages": [{"score.nsfw": {"classes": ["FEET"]}}]})
