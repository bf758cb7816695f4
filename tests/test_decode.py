"""Decode-once frame sampling: the right frames, upright, in the asked shape, one pass."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import shared_video
from vidcurate.core.errors import ProbeError
from vidcurate.core.frames import DecodeStats, FrameSpec
from vidcurate.io.decode import iter_frames, sample
from vidcurate.io.ffmpeg import ffmpeg_exe
from vidcurate.testing import synth


@pytest.fixture(scope="module")
def counter(tmp_path_factory: pytest.TempPathFactory) -> synth.SynthVideo:
    return synth.counter(tmp_path_factory.mktemp("dec") / "counter.mp4", num_frames=120, fps=24)


def indices(frames: np.ndarray) -> list[int]:
    return [synth.read_counter(f) for f in frames]


def test_specs_select_the_right_frames_in_one_pass(counter: synth.SynthVideo) -> None:
    st = DecodeStats()
    specs = {
        "fps": FrameSpec(fps=2),
        "num": FrameSpec(num=4),
        "small_gray": FrameSpec(fps=2, gray=True, max_side=160),
        "keys": FrameSpec(keyframes=True),
    }
    r = sample(counter.path, specs, stats=st)
    assert indices(r["fps"].data) == list(range(0, 120, 12))
    assert indices(r["num"].data) == [15, 45, 75, 105]  # centres of 4 equal parts of 5 s
    assert r["small_gray"].data.shape == (10, 120, 160)
    assert r["keys"].times_s.tolist() == [0.0, 2.0, 4.0]  # gop = 2 s
    assert (st.opens, st.packets, st.frames, st.errors) == (1, 120, 120, 0)
    assert st.converted == 10 + 10 + 4  # keyframes reuse the fps spec's conversions
    with pytest.raises(ValueError):
        r["fps"].data[0, 0, 0, 0] = 1  # read-only views


def test_span_seek(counter: synth.SynthVideo) -> None:
    r = sample(counter.path, {"a": FrameSpec(fps=4)}, start_s=2.0, end_s=3.0)
    assert indices(r["a"].data) == [48, 54, 60, 66]
    every = [d.index for d in iter_frames(counter.path, start_s=1.0, end_s=1.5)]
    assert every == list(range(12))


@pytest.mark.parametrize("degrees", [90, -90, 180])
def test_rotation_matches_ffmpeg_autorotate(counter: synth.SynthVideo, tmp_path: Path, degrees: int) -> None:
    rv = synth.rotated(tmp_path / "rot.mp4", counter, degrees)
    w, h = rv.truth["display_size"]
    got = sample(rv.path, {"a": FrameSpec(num=1)})["a"].data[0]
    raw = subprocess.run(
        [
            ffmpeg_exe(),
            "-v",
            "error",
            "-ss",
            "2.5",
            "-i",
            str(rv.path),
            "-frames:v",
            "1",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-",
        ],
        capture_output=True,
        check=True,
    ).stdout
    want = np.frombuffer(raw, np.uint8).reshape(h, w, 3)
    assert got.shape == want.shape
    assert np.abs(got.astype(int) - want.astype(int)).mean() < 2.0


def test_real_rotated_phone_video_is_portrait() -> None:
    r = sample(shared_video("16_dec_video_90.mov"), {"a": FrameSpec(), "s": FrameSpec(max_side=284)})
    assert r["a"].data.shape == (3, 568, 320, 3)
    assert r["s"].data.shape == (3, 284, 160, 3)


def test_corrupt_packet_is_skipped_and_counted() -> None:
    st = DecodeStats()
    n = sum(1 for _ in iter_frames(shared_video("17_dec_corrupted.mp4"), stats=st))
    assert n == 49 and st.errors >= 1


def test_bad_file_is_a_probe_error(tmp_path: Path) -> None:
    p = tmp_path / "x.mp4"
    p.write_text("nope")
    with pytest.raises(ProbeError) as e:
        sample(p, {"a": FrameSpec(num=2)})
    assert e.value.kind == "invalid_data"


def test_framespec_validation() -> None:
    with pytest.raises(ValueError):
        FrameSpec(fps=2, num=3)
    with pytest.raises(ValueError):
        FrameSpec(max_side=100, width=50)


def test_seek_overshoot_in_mpegts_is_corrected(counter: synth.SynthVideo, tmp_path: Path) -> None:
    """MPEG-TS with B-frames: a keyframe seek can land after the span start (or find nothing)."""
    ts = tmp_path / "c.ts"
    subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-i", str(counter.path), "-c:v", "libx264", "-bf", "3", "-g", "48",
         "-f", "mpegts", str(ts)],
        check=True,
    )  # fmt: skip
    t0 = next(iter_frames(ts)).time_s  # TS streams start at an offset (here ~1.48 s)
    for k in (34, 58, 82, 116):
        start = t0 + k / 24
        got = [
            synth.read_counter(d.frame.to_ndarray(format="rgb24"))
            for d in iter_frames(ts, start_s=start - 0.01, end_s=start + 0.15)
        ]
        assert got[:3] == [k, k + 1, k + 2]


FRAMES_ALIVE = """
import gc, sys
import av
from vidcurate.io.decode import iter_frames, sample
from vidcurate.core.frames import FrameSpec
gc.disable()  # only our own collections run: what is left alive is what they did not free
if sys.argv[2] == "frozen":
    gc.freeze()
got = sample(sys.argv[1], {"m": FrameSpec(fps=2, max_side=64, gray=True, motion_vectors=True)})["m"]
assert got.vectors is not None
print(sum(isinstance(o, av.VideoFrame) for o in gc.get_objects()))
"""


def test_a_worker_frees_the_frames_pyav_keeps_in_cycles(tmp_path: Path) -> None:
    """Reading motion vectors ties each frame to its side data in a cycle; a frozen worker collects them."""
    v = synth.moving_box(tmp_path / "box.mp4", num_frames=120, speed_px=2, size=(320, 240))

    def alive(mode: str) -> int:
        out = subprocess.run([sys.executable, "-c", FRAMES_ALIVE, str(v.path), mode], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        return int(out.stdout.split()[-1])

    assert alive("plain") >= 100  # nothing collects them: every decoded frame is still in memory
    assert alive("frozen") <= 32  # collected every 32 frames


def test_key_frames_only_of_an_open_gop_file_come_in_time_order(tmp_path: Path) -> None:
    """x264's open GOPs: with the other frames skipped FFmpeg returns key frames out of order."""
    import av

    path = tmp_path / "open-gop.mp4"
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 320, 240, "yuv420p"
        s.options = {"x264-params": "open-gop=1:keyint=50:bframes=3"}
        for i in range(250):  # a bar moving right, the colour changing every 2 s: key frames everywhere
            img = np.zeros((240, 320, 3), np.uint8)
            img[:, :, 0] = (np.arange(320)[None, :] + i) % 256
            img[40:120, (i * 3) % 320 : (i * 3) % 320 + 40] = 255
            if (i // 50) % 2:
                img[:, :, 1] = 128
            for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    every = sample(path, {"all": FrameSpec(keyframes=True)}, start_s=0.0, end_s=7.0)["all"]
    assert len(every) >= 3 and every.times_s[0] == 0.0
    assert list(every.times_s) == sorted(every.times_s)
