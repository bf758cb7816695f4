"""A long video scanned in time ranges side by side gives exactly the cuts of one pass."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conftest import shared_video
from vidcurate.io.probe import probe_file
from vidcurate.stages.split import SceneSplitter, SplitConfig, detectors, ranges
from vidcurate.testing import synth

P = synth.PALETTE
CUTS = [20, 45, 73, 100]


@pytest.fixture(scope="module")
def scenes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("ranges")
    colors = [P["gray"], P["yellow"], P["blue"], P["orange"], P["blue"]]
    return synth.scenes(d / "scenes.mp4", cuts=CUTS, num_frames=128, colors=colors, size=(160, 120)).path


def split(path: Path | str, row: dict[str, Any] | None = None, **cfg: Any) -> list[dict[str, Any]]:
    full = {"id": "parent", "path": str(path), "duration_s": probe_file(path, decode_check="none")["duration_s"]}
    out = SceneSplitter(SplitConfig(**cfg)).process_row({**full, **(row or {})})
    assert isinstance(out, list)
    return out


@pytest.fixture
def range_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[float, float | None]]:
    calls: list[tuple[float, float | None]] = []
    real = ranges.score_range

    def counting(path: Any, make_sink: Any, start: float, end: float | None, first: bool) -> ranges.RangeScores:
        calls.append((start, end))
        return real(path, make_sink, start, end, first)

    monkeypatch.setattr(ranges, "score_range", counting)
    return calls


@pytest.fixture
def one_pass(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = detectors.scan_decoded
    monkeypatch.setattr(detectors, "scan_decoded", lambda *a, **k: calls.append(1) or real(*a, **k))
    return calls


VIDEOS = [
    "synthetic",
    "07_skv_bikes.mp4",  # six cuts
    "08_mpy_big_buck_bunny_0_30.webm",  # VP9, cuts and fades
    "17_dec_corrupted.mp4",  # a packet the decoder rejects
    "10_mpy_fire2.mp4",  # rotated phone video with a variable frame rate
    "11_mpy_no_duration.webm",  # no duration in the header
]


@pytest.mark.parametrize("detector", ["content", "adaptive"])
@pytest.mark.parametrize("video", VIDEOS)
def test_ranges_give_the_cuts_of_one_pass(
    scenes: Path, video: str, detector: str, range_calls: list[tuple[float, float | None]], one_pass: list[int]
) -> None:
    path = scenes if video == "synthetic" else shared_video(video)
    one = split(path, detector=detector, ranges_min_s=1e9)
    assert not range_calls and one_pass == [1]
    one_pass.clear()
    three = split(path, detector=detector, ranges=3, ranges_min_s=0.5)
    assert len(range_calls) == 3 and range_calls[-1][1] is None  # the last range reads to the file's end
    assert not one_pass  # the ranges were merged, not thrown away for a pass over the whole span
    assert three == one  # frames, times, scores, decode errors: every field of every clip
    if video == "synthetic":
        assert [r["start_frame"] for r in one] == [0, *CUTS]


def test_a_span_is_scanned_in_ranges_inside_it(scenes: Path, range_calls: list[tuple[float, float | None]]) -> None:
    row = {"start_s": 0.5, "end_s": 3.5}
    one = split(scenes, row, ranges_min_s=1e9)
    three = split(scenes, row, ranges=3, ranges_min_s=0.5)
    assert three == one and [c[0] for c in range_calls] == pytest.approx([0.5, 1.5, 2.5])
    assert range_calls[-1][1] == 3.5


@pytest.mark.parametrize("detector", ["content", "adaptive"])
def test_a_cut_on_a_seam_is_scored_against_the_frame_before(
    scenes: Path, detector: str, range_calls: list[tuple[float, float | None]], one_pass: list[int]
) -> None:
    """The second range starts exactly on the cut at frame 45: its score needs frame 44 from the overlap."""
    fps = probe_file(scenes, decode_check="none")["fps"]
    row = {"start_s": 0.0, "end_s": 2 * CUTS[1] / fps}
    one = split(scenes, row, detector=detector, ranges_min_s=1e9)
    one_pass.clear()
    two = split(scenes, row, detector=detector, ranges=2, ranges_min_s=0.5)
    assert range_calls[1][0] == pytest.approx(CUTS[1] / fps) and not one_pass
    assert two == one and [r["start_frame"] for r in two] == [0, CUTS[0], CUTS[1], CUTS[2]]


def test_a_seam_that_disagrees_falls_back_to_one_pass(
    scenes: Path, monkeypatch: pytest.MonkeyPatch, one_pass: list[int]
) -> None:
    real = ranges.score_range

    def shifted(*a: Any, **k: Any) -> ranges.RangeScores:
        out = real(*a, **k)
        if out.before is not None:
            out.before += 0.5  # as if the range had decoded another frame before its first
        return out

    monkeypatch.setattr(ranges, "score_range", shifted)
    out = split(scenes, ranges=3, ranges_min_s=0.5)
    assert one_pass == [1] and [r["start_frame"] for r in out] == [0, *CUTS]


def test_which_spans_are_scanned_in_ranges() -> None:
    cfg = SplitConfig(ranges_min_s=300)
    assert detectors.range_count(cfg, None, None, 200.0) == 1  # short
    assert detectors.range_count(cfg, None, None, None) == 1  # length unknown
    assert detectors.range_count(SplitConfig(ranges=4, ranges_min_s=300), None, None, 1200.0) == 4
    assert detectors.range_count(SplitConfig(ranges=8, ranges_min_s=300), None, None, 600.0) == 4  # >= 150 s each
    assert detectors.range_count(SplitConfig(ranges=4, ranges_min_s=300), 1000.0, 1200.0, 3600.0) == 1  # span
    fades = SplitConfig(ranges=4, ranges_min_s=300, fade_threshold=12)
    assert detectors.range_count(fades, None, None, 1200.0) == 1  # black levels are not replayed
    assert detectors.range_count(SplitConfig(detector="stride", ranges=4, ranges_min_s=300), None, None, 1200.0) == 1


def test_a_span_from_a_start_to_the_end_of_the_file(
    scenes: Path, range_calls: list[tuple[float, float | None]], one_pass: list[int]
) -> None:
    one = split(scenes, {"start_s": 3.0}, ranges_min_s=1e9)
    one_pass.clear()
    three = split(scenes, {"start_s": 3.0}, ranges=3, ranges_min_s=0.5)
    assert three == one and not one_pass  # the ranges cover [3 s, end of file), none of them empty
    end = probe_file(scenes, decode_check="none")["duration_s"]  # the probe's duration is where the file ends
    assert [c[0] for c in range_calls] == pytest.approx([3.0, 3.0 + (end - 3) / 3, 3.0 + 2 * (end - 3) / 3])
    assert range_calls[-1][1] is None
