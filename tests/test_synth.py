"""The synthetic videos must really contain what their ``truth`` claims: decode them and check."""

from __future__ import annotations

import time
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from vidcurate.core.errors import VidcurateError
from vidcurate.io.ffmpeg import FFmpegError, FrameWriter, ffmpeg_exe, run_ffmpeg
from vidcurate.testing import synth


def decode(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def decode_frames(path: Path) -> list[av.VideoFrame]:
    with av.open(str(path)) as c:
        return list(c.decode(video=0))


def box_centroid(frame: np.ndarray) -> tuple[float, float]:
    """The box is the only bright-red/yellow thing: R high, B low (the background is red-poor)."""
    mask = (frame[..., 0] > 180) & (frame[..., 2] < 100)
    ys, xs = np.nonzero(mask)
    assert len(xs) > 0.5 * 40 * 40, "box not found"
    return float(xs.mean()), float(ys.mean())


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("synth")


# ----------------------------------------------------------------------------------------------- ffmpeg


def test_ffmpeg_exe_default_and_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VIDCURATE_FFMPEG", raising=False)
    assert Path(ffmpeg_exe()).is_file()
    monkeypatch.setenv("VIDCURATE_FFMPEG", "/opt/custom/ffmpeg")
    assert ffmpeg_exe() == "/opt/custom/ffmpeg"


def test_run_ffmpeg_error_carries_stderr(work: Path) -> None:
    with pytest.raises(FFmpegError) as ei:
        run_ffmpeg(["-i", str(work / "missing.mp4"), str(work / "x.mp4")])
    assert isinstance(ei.value, VidcurateError)
    assert "missing.mp4" in str(ei.value) and ei.value.returncode not in (None, 0)


@pytest.mark.parametrize(
    ("codec", "name"),
    [("libx264", "a.mp4"), ("libvpx-vp9", "a.webm"), ("mjpeg", "a.avi"), ("mpeg4", "a.mkv")],
)
def test_frame_writer_codecs(work: Path, codec: str, name: str) -> None:
    out = work / codec / name
    with FrameWriter(out, 64, 48, 12, codec=codec, gop=6, bframes=0) as w:
        for i in range(12):
            w.write(np.full((48, 64, 3), i * 20, np.uint8))
    frames = decode(out)
    assert len(frames) == 12
    assert abs(float(frames[5].mean()) - 100) < 4
    assert sorted(p.name for p in out.parent.iterdir()) == [name]  # temp file renamed away


def test_frame_writer_failures_leave_no_file(work: Path) -> None:
    d = work / "fail"
    with pytest.raises(FFmpegError, match="nope"), FrameWriter(d / "bad.mp4", 64, 48, 12, codec="nope") as w:
        for _ in range(200):
            w.write(np.zeros((48, 64, 3), np.uint8))
    with pytest.raises(RuntimeError), FrameWriter(d / "aborted.mp4", 64, 48, 12) as w:
        w.write(np.zeros((48, 64, 3), np.uint8))
        raise RuntimeError("caller failed mid-way")
    with pytest.raises(ValueError), FrameWriter(d / "shape.mp4", 64, 48, 12) as w:
        w.write(np.zeros((48, 64), np.uint8))
    assert list(d.iterdir()) == []
    with pytest.raises(ValueError):
        FrameWriter(d / "odd.mp4", 63, 48, 12)


# ----------------------------------------------------------------------------------------------- scenes


def test_scenes_cut_exactly_at_truth(work: Path) -> None:
    v = synth.scenes(work / "scenes.mp4")
    frames = decode(v.path)
    assert len(frames) == v.num_frames == 144
    labels = [synth.nearest_palette(f.reshape(-1, 3).mean(axis=0)) for f in frames]
    changes = [i for i in range(1, len(labels)) if labels[i] != labels[i - 1]]
    assert changes == v.truth["cuts"] == [48, 96]
    pal = list(synth.PALETTE.values())
    assert [list(pal[labels[s]]) for s in v.truth["scene_starts"]] == v.truth["scene_colors"]
    assert all(f.std() > 1.0 for f in frames[::12])  # textured, not flat
    assert frames[0].shape == (240, 320, 3)


def test_scenes_custom_colors_flat(work: Path) -> None:
    colors = [synth.PALETTE["yellow"], synth.PALETTE["cyan"], synth.PALETTE["red"]]
    v = synth.scenes(work / "flat.mkv", cuts=(7, 13), num_frames=20, colors=colors, noise=False, size=(160, 96), fps=10)
    frames = decode(v.path)
    assert len(frames) == 20 and frames[0].shape == (96, 160, 3)
    labels = [synth.nearest_palette(f.reshape(-1, 3).mean(axis=0), colors) for f in frames]
    assert labels == [0] * 7 + [1] * 6 + [2] * 7
    assert v.truth["scene_color_names"] == ["yellow", "cyan", "red"]


def test_scenes_rejects_bad_cuts(work: Path) -> None:
    with pytest.raises(ValueError):
        synth.scenes(work / "bad.mp4", cuts=(0, 10), num_frames=20)


# ----------------------------------------------------------------------------------------------- motion


@pytest.mark.parametrize("direction", ["right", "left", "up", "down"])
def test_moving_box_moves_as_stated(work: Path, direction: str) -> None:
    v = synth.moving_box(work / f"box_{direction}.mp4", direction=direction, speed_px=4)
    frames = decode(v.path)
    assert len(frames) == v.num_frames
    cents = np.array([box_centroid(f) for f in frames])
    step = np.median(np.diff(cents, axis=0), axis=0)
    np.testing.assert_allclose(step, v.truth["velocity_px"], atol=0.25)
    expected = np.array(v.truth["positions"], float) + (v.truth["box"] - 1) / 2
    np.testing.assert_allclose(cents, expected, atol=1.0)


def test_moving_box_path_must_fit(work: Path) -> None:
    with pytest.raises(ValueError, match="fit"):
        synth.moving_box(work / "nofit.mp4", direction="up", speed_px=10, num_frames=48)


def test_static_has_no_motion(work: Path) -> None:
    v = synth.static(work / "static.mp4")
    frames = np.stack(decode(v.path)).astype(np.int16)
    assert len(frames) == v.num_frames and v.truth["motion"] == 0.0
    assert np.abs(np.diff(frames, axis=0)).mean() < 0.5
    assert frames[0].std() > 10  # textured, so "no motion" is meaningful


# ------------------------------------------------------------------------------------------------- text


def test_text_inside_truth_bbox(work: Path) -> None:
    v = synth.text(work / "text.mp4")
    frame = decode(v.path)[0]
    dark = frame.mean(axis=2) < 100
    x0, y0, x1, y1 = v.truth["bbox"]
    assert dark[y0:y1, x0:x1].sum() > 500  # big, inked
    outside = dark.copy()
    outside[max(y0 - 2, 0) : y1 + 2, max(x0 - 2, 0) : x1 + 2] = False
    assert outside.sum() == 0
    assert x1 - x0 > 0.7 * v.width and y1 - y0 >= 20


def test_drawtext_renders_text(work: Path) -> None:
    v = synth.drawtext(work / "drawtext.mp4", text="VIDCURATE 2026: it's [100%]")
    frames = decode(v.path)
    assert len(frames) == v.num_frames
    gray = frames[0].mean(axis=2)
    blank = np.full_like(gray, 235)
    assert np.abs(gray - blank).mean() > 2
    ys, xs = np.nonzero(gray < 100)
    assert len(xs) > 300
    assert abs(xs.mean() - v.width / 2) < v.width * 0.1 and abs(ys.mean() - v.height / 2) < v.height * 0.1


# ------------------------------------------------------------------------------------------ black/noise


def test_black(work: Path) -> None:
    v = synth.black(work / "black.mp4", num_frames=12)
    frames = decode(v.path)
    assert len(frames) == 12 and v.truth["black_frame_ratio"] == 1.0
    assert max(float(f.max()) for f in frames) <= 2

    v = synth.black(work / "black_part.mp4", num_frames=30, black_ranges=[(5, 10), (25, 40)])
    is_black = [float(f.mean()) < 3 for f in decode(v.path)]
    assert [i for i, b in enumerate(is_black) if b] == v.truth["black_frames"] == [5, 6, 7, 8, 9, *range(25, 30)]
    assert v.truth["black_frame_ratio"] == pytest.approx(10 / 30)


def test_noise(work: Path) -> None:
    v = synth.noise(work / "noise.mp4", num_frames=6)
    frames = [f.astype(np.int16) for f in decode(v.path)]
    assert len(frames) == 6
    assert all(f.std() > 50 for f in frames)
    assert np.abs(frames[1] - frames[0]).mean() > 40


# ---------------------------------------------------------------------------------------------- counter


@pytest.mark.parametrize(("codec", "name", "n"), [("libx264", "counter.mp4", 120), ("mjpeg", "counter.avi", 30)])
def test_counter_reads_every_frame(work: Path, codec: str, name: str, n: int) -> None:
    v = synth.counter(work / name, num_frames=n, codec=codec)
    frames = decode(v.path)
    assert len(frames) == v.truth["num_frames"] == n
    assert [synth.read_counter(f) for f in frames] == list(range(n))
    half = [cv2.resize(f, (f.shape[1] // 2, f.shape[0] // 2), interpolation=cv2.INTER_AREA) for f in frames]
    assert [synth.read_counter(f) for f in half] == list(range(n))


def test_read_counter_rejects_non_counter_frames() -> None:
    with pytest.raises(ValueError, match="ambiguous"):
        synth.read_counter(np.full((240, 320, 3), 128, np.uint8))


# ---------------------------------------------------------------------------------------- vfr, rotation


def test_vfr_pts_uneven(work: Path) -> None:
    v = synth.vfr(work / "vfr.mp4")
    frames = decode_frames(v.path)
    assert len(frames) == v.num_frames == 40
    pts = [float(f.time) for f in frames]
    np.testing.assert_allclose(pts, v.truth["pts_s"], atol=1e-6)
    gaps = np.diff(pts)
    np.testing.assert_allclose(gaps[:29], 1 / 30, atol=1e-6)
    np.testing.assert_allclose(gaps[30:], 1 / 10, atol=1e-6)
    assert v.truth["cut_s"] == pytest.approx(1.0)
    rgb = [f.to_ndarray(format="rgb24") for f in frames]
    assert [synth.read_counter(f) for f in rgb] == list(range(40))
    colors = v.truth["scene_colors"]
    labels = [synth.nearest_palette(f[v.height // 2 :].reshape(-1, 3).mean(axis=0), colors) for f in rgb]
    assert labels == [int(t >= v.truth["cut_s"] - 1e-9) for t in pts]


@pytest.mark.parametrize(("degrees", "reported"), [(90, 90), (-90, -90), (180, -180), (270, -90)])
def test_rotated_reports_rotation(work: Path, degrees: int, reported: int) -> None:
    src = work / "rot_src.mp4"
    base = synth.counter(src, num_frames=12) if not src.exists() else src
    v = synth.rotated(work / f"rot_{degrees}.mp4", base, degrees)
    assert v.truth["rotation"] == reported
    frames = decode_frames(v.path)
    assert len(frames) == 12
    assert frames[0].rotation == reported
    assert (frames[0].width, frames[0].height) == (320, 240)  # stream copy: pixels untouched
    assert v.truth["display_size"] == ([240, 320] if degrees % 180 else [320, 240])


# ---------------------------------------------------------------------------------- determinism, corpus


def test_same_call_same_frames(tmp_path: Path) -> None:
    for name, make in [
        ("scenes", lambda p: synth.scenes(p, cuts=(6,), num_frames=12)),
        ("box", lambda p: synth.moving_box(p, num_frames=12)),
        ("noise", lambda p: synth.noise(p, num_frames=4)),
    ]:
        a, b = make(tmp_path / f"{name}_a.mp4"), make(tmp_path / f"{name}_b.mp4")
        assert a.truth == b.truth
        fa, fb = decode(a.path), decode(b.path)
        assert len(fa) == len(fb) > 0
        assert all(np.array_equal(x, y) for x, y in zip(fa, fb, strict=True)), name


def test_demo_corpus(tmp_path: Path) -> None:
    t0 = time.perf_counter()
    videos = synth.demo_corpus(tmp_path / "demo")
    assert time.perf_counter() - t0 < 10
    assert len(videos) >= 6
    assert any(len(v.path.relative_to(tmp_path / "demo").parts) > 2 for v in videos)  # nested folder
    for v in videos:
        assert v.path.is_file() and v.num_frames / v.fps <= 3.0
        assert (v.width, v.height) == (320, 240)
        assert len(decode(v.path)) == v.num_frames
