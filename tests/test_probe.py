"""probe_file on the real shared videos (ground truth from their README) and on broken inputs.

The real files carry what users actually feed the pipeline: rotation matrices, variable frame
rate, containers without a duration or a frame count, a corrupt packet. The broken inputs are built
in tmp_path from those files, so every failure kind is met by a real file, not a mock, wherever a
real file can produce it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import wave
from pathlib import Path
from typing import Any

import av
import av.error
import numpy as np
import pytest

import vidcurate.io.media as media_mod
import vidcurate.io.probe_walk as probe_walk
from conftest import shared_video
from vidcurate.core.errors import ProbeError
from vidcurate.io.probe import PROBE_KEYS, probe_file

SPEC_KEYS = {
    "media", "container", "duration_s", "duration_src", "fps", "vfr", "num_frames", "num_frames_src",
    "width", "height", "coded_width", "coded_height", "rotation", "sar", "aspect_ratio", "codec", "profile",
    "pix_fmt", "bit_rate", "has_audio", "audio_codec", "audio_error", "size_bytes", "decoded_frames",
    "decode_errors",
}  # fmt: skip


def expect_error(path: Path, kind: str, **kw: Any) -> ProbeError:
    """probe_file must raise ProbeError(kind) with a one-line message that names the file."""
    with pytest.raises(ProbeError) as info:
        probe_file(path, **kw)
    err = info.value
    assert err.kind == kind, f"expected {kind}, got {err.kind}: {err}"
    msg = str(err)
    assert path.name in msg
    assert "\n" not in msg and "Traceback" not in msg
    return err


def overwrite_packets(src: Path, dst: Path, kind: str, fill: bytes) -> int:
    """Copy src to dst with the payload of every packet of the first `kind` stream replaced by `fill`."""
    data = bytearray(src.read_bytes())
    with av.open(str(src)) as c:
        stream = c.streams.audio[0] if kind == "audio" else c.streams.video[0]
        spans = [(p.pos, p.size) for p in c.demux(stream) if p.size]
    for pos, size in spans:
        data[pos : pos + size] = fill * size
    dst.write_bytes(bytes(data))
    return len(spans)


@pytest.fixture(scope="module")
def bikes_faststart(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """07_skv_bikes.mp4 remuxed (no re-encode) with the moov index at the start."""
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")
    src = shared_video("07_skv_bikes.mp4")
    out = tmp_path_factory.mktemp("faststart") / "bikes_faststart.mp4"
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-i", str(src), "-c", "copy"]
    subprocess.run([*cmd, "-movflags", "+faststart", str(out)], check=True, timeout=60)
    assert out.read_bytes()[:64].find(b"moov") > 0  # the index really is at the start
    return out


# --------------------------------------------------------------------------------------------------
# real files


def test_bikes_header_facts_and_exact_keys() -> None:
    path = shared_video("07_skv_bikes.mp4")
    r = probe_file(path)
    assert set(r) == SPEC_KEYS and set(PROBE_KEYS) == SPEC_KEYS
    assert r["media"] == "video" and r["container"] == "mp4" and r["codec"] == "h264"
    assert (r["width"], r["height"], r["coded_width"], r["coded_height"]) == (640, 272, 640, 272)
    assert r["fps"] == pytest.approx(25.0) and r["vfr"] is False
    assert (r["num_frames"], r["num_frames_src"]) == (250, "header")
    assert r["duration_s"] == pytest.approx(10.0) and r["duration_src"] == "container"
    assert r["rotation"] == 0 and r["sar"] == 1.0 and r["aspect_ratio"] == pytest.approx(640 / 272)
    assert r["pix_fmt"] == "yuv420p" and r["profile"] == "High"
    assert isinstance(r["bit_rate"], int) and r["bit_rate"] > 0
    assert r["has_audio"] is False and r["audio_codec"] is None and r["audio_error"] is None
    assert r["size_bytes"] == path.stat().st_size
    assert r["decoded_frames"] is None and r["decode_errors"] == 0


@pytest.mark.parametrize(
    ("name", "rotation", "size", "coded"),
    [
        ("10_mpy_fire2.mp4", 180, (1280, 720), (1280, 720)),
        ("16_dec_video_90.mov", -90, (320, 568), (568, 320)),
        ("dec_video_180.mov", 180, (568, 320), (568, 320)),
    ],
)
def test_rotation_and_displayed_size(name: str, rotation: int, size: tuple[int, int], coded: tuple) -> None:
    r = probe_file(shared_video(name))
    assert r["rotation"] == rotation
    assert (r["width"], r["height"]) == size
    assert (r["coded_width"], r["coded_height"]) == coded
    assert r["aspect_ratio"] == pytest.approx(size[0] / size[1])


def test_rotation_is_read_even_without_a_decode_check() -> None:
    # PyAV 18 exposes the display matrix only on decoded frames, so "none" still decodes frame 0
    r = probe_file(shared_video("16_dec_video_90.mov"), decode_check="none")
    assert r["rotation"] == -90 and (r["width"], r["height"]) == (320, 568)


def test_fire2_is_vfr_phone_video() -> None:
    r = probe_file(shared_video("10_mpy_fire2.mp4"))
    assert r["vfr"] is True
    assert r["fps"] == pytest.approx(10.5, abs=0.05)
    assert (r["num_frames"], r["num_frames_src"]) == (25, "header")
    assert r["duration_s"] == pytest.approx(2.38, abs=0.01)
    assert r["profile"] == "Baseline" and r["has_audio"] is True and r["audio_codec"] == "aac"


@pytest.mark.parametrize(
    "name",
    [
        "07_skv_bikes.mp4",
        "08_mpy_big_buck_bunny_0_30.webm",  # ms time base: steps alternate 41/42 ticks
        "15_dec_flipping_a_pancake.mkv",
        "17_dec_corrupted.mp4",
        "dec_unordered.mov",  # timestamps out of decode order
        "skv_carphone_pristine.mp4",
    ],
)
def test_constant_rate_files_are_not_vfr(name: str) -> None:
    assert probe_file(shared_video(name))["vfr"] is False


def test_vfr_from_timestamps_alone() -> None:
    """The timestamp rule on its own, without the base-rate hint fire2 also carries."""
    path = shared_video("10_mpy_fire2.mp4")
    with av.open(str(path)) as c:
        pts = [p.pts for p in c.demux(c.streams.video[0]) if p.pts is not None]
    assert probe_walk.is_vfr(probe_walk.Walk(pts=pts, complete=True), None, None) is True
    # 240 fps in a millisecond time base steps 4, 4, 4, 5 ticks: rounding, not VFR
    ms240 = [round(i * 1000 / 240) for i in range(240)]
    assert probe_walk.is_vfr(probe_walk.Walk(pts=ms240, complete=True), None, None) is False
    # a sampled window cut mid-GOP lacks the B-frames decoded after its last packet: not a gap
    cut = [512 * i for i in (0, 3, 1, 2, 6, 4, 5, 9)]  # decode order; frames 7 and 8 come next
    assert probe_walk.is_vfr(probe_walk.Walk(pts=cut, complete=False), None, None) is False
    # one frame interval 30 % longer than the rest is VFR
    steady = [i * 1000 for i in range(50)] + [50_300 + i * 1000 for i in range(50)]
    assert probe_walk.is_vfr(probe_walk.Walk(pts=steady, complete=True), None, None) is True


def test_webm_without_container_duration() -> None:
    r = probe_file(shared_video("11_mpy_no_duration.webm"))
    assert r["duration_src"] == "decoded"
    assert r["duration_s"] == pytest.approx(74 / 14.985, abs=0.02)
    assert (r["num_frames"], r["num_frames_src"]) == (74, "counted")
    assert r["fps"] == pytest.approx(14.985, abs=0.001)
    assert r["container"] == "webm" and r["codec"] == "vp9"
    assert r["audio_codec"] == "opus" and r["audio_error"] is None


def test_vp8_webm_frame_count_by_policy() -> None:
    path = shared_video("08_mpy_big_buck_bunny_0_30.webm")
    r = probe_file(path)
    assert r["container"] == "webm" and r["codec"] == "vp8" and (r["width"], r["height"]) == (1280, 720)
    assert (r["num_frames"], r["num_frames_src"]) == (720, "counted")
    assert r["duration_s"] == pytest.approx(30.0, abs=0.01) and r["duration_src"] == "container"
    assert r["has_audio"] and r["audio_codec"] == "vorbis"
    # header has no count: never counting, or a file above the size limit, falls back to duration*fps
    for kw in ({"count_frames": "never"}, {"count_max_bytes": 1000}):
        e = probe_file(path, **kw)
        assert (e["num_frames"], e["num_frames_src"]) == (720, "estimated")
    a = probe_file(path, count_frames="always", count_max_bytes=1000)
    assert (a["num_frames"], a["num_frames_src"]) == (720, "counted")


def test_mkv_counted_frames() -> None:
    r = probe_file(shared_video("15_dec_flipping_a_pancake.mkv"))
    assert r["container"] == "matroska" and (r["width"], r["height"]) == (426, 240)
    assert (r["num_frames"], r["num_frames_src"]) == (310, "counted")


def test_mjpeg_in_avi() -> None:
    r = probe_file(shared_video("22_nwb_stub_mjpeg.avi"), decode_check="full")
    assert r["container"] == "avi" and r["codec"] == "mjpeg"
    assert (r["width"], r["height"]) == (160, 120)
    assert r["num_frames"] == 3 and r["decoded_frames"] == 3 and r["decode_errors"] == 0


def test_corrupt_packet_full_check_counts_instead_of_raising() -> None:
    path = shared_video("17_dec_corrupted.mp4")
    full = probe_file(path, decode_check="full")
    assert (full["num_frames"], full["num_frames_src"]) == (50, "header")
    assert full["decoded_frames"] == 49  # the packet at 3.0 s does not decode
    assert full["decode_errors"] == 1
    ends = probe_file(path)  # its only keyframe is at 0 s, so "ends" decodes through 3.0 s too
    assert ends["decoded_frames"] is None and ends["num_frames"] == 50 and ends["decode_errors"] == 1
    assert probe_file(path, decode_check="none")["decode_errors"] == 0


def test_ends_check_does_not_decode_the_whole_file(monkeypatch: pytest.MonkeyPatch) -> None:
    path = shared_video("18_intel_one-by-one-person-detection.mp4")  # 1394 frames, keyframe every 1 s
    calls: list[int] = []
    real = probe_walk.decode_packet

    def counting(stream: Any, packet: Any, walk: Any) -> list[Any]:
        if packet is not None:
            calls.append(1)
        return real(stream, packet, walk)

    monkeypatch.setattr(probe_walk, "decode_packet", counting)
    r = probe_file(path)
    assert r["num_frames"] == 1394 and r["duration_s"] == pytest.approx(139.4)
    assert 0 < len(calls) < 60
    calls.clear()
    assert probe_file(path, decode_check="full")["decoded_frames"] == 1394
    assert len(calls) == 1394


class _NoSeek:
    """A container whose seek fails, as with some unseekable streams."""

    def __init__(self, container: Any) -> None:
        self._c = container

    def __getattr__(self, name: str) -> Any:
        return getattr(self._c, name)

    def __enter__(self) -> _NoSeek:
        return self

    def __exit__(self, *exc: object) -> None:
        self._c.close()

    def seek(self, *args: Any, **kwargs: Any) -> None:
        raise av.error.FFmpegError(-1, "seek refused (test)")


def test_unseekable_file_still_checks_only_the_last_gop(monkeypatch: pytest.MonkeyPatch) -> None:
    path = shared_video("18_intel_one-by-one-person-detection.mp4")
    real_open, real_decode = media_mod.raw_open, probe_walk.decode_packet
    calls: list[int] = []

    def counting(stream: Any, packet: Any, walk: Any) -> list[Any]:
        calls.append(1)
        return real_decode(stream, packet, walk)

    monkeypatch.setattr(media_mod, "raw_open", lambda p: _NoSeek(real_open(p)))
    monkeypatch.setattr(probe_walk, "decode_packet", counting)
    r = probe_file(path)
    assert r["num_frames"] == 1394 and r["decode_errors"] == 0
    assert len(calls) < 60


def test_failing_audio_file_audio_really_decodes_and_video_is_fine() -> None:
    # The moviepy file is named for a moviepy reader bug; FFmpeg 8 decodes its MP3 track cleanly.
    r = probe_file(shared_video("mpy_video_with_failing_audio.mp4"))
    assert r["has_audio"] is True and r["audio_codec"] == "mp3" and r["audio_error"] is None
    assert (r["width"], r["height"], r["num_frames"]) == (640, 360, 280)


def test_broken_audio_is_recorded_never_fails_the_video(tmp_path: Path) -> None:
    src = shared_video("mpy_video_with_failing_audio.mp4")
    bad = tmp_path / "broken_audio.mp4"
    assert overwrite_packets(src, bad, "audio", b"\xff") > 100
    good = probe_file(src)
    r = probe_file(bad)
    assert r["has_audio"] is True and r["audio_codec"] == "mp3"
    assert r["audio_error"] and "audio" in r["audio_error"]
    for key in ("width", "height", "num_frames", "duration_s", "fps", "codec", "rotation", "decode_errors"):
        assert r[key] == good[key], key
    assert probe_file(bad, decode_check="none")["audio_error"] is None  # audio is only checked on request


def test_sample_aspect_ratio_of_carphone() -> None:
    for name in ("skv_carphone_pristine.mp4", "skv_carphone_distorted.mp4"):
        r = probe_file(shared_video(name))
        assert (r["width"], r["height"]) == (176, 144)
        assert r["sar"] == pytest.approx(128 / 117)
        assert r["aspect_ratio"] == pytest.approx(176 * 128 / 117 / 144)
        assert r["fps"] == pytest.approx(29.97, abs=0.01)


def test_six_channel_audio_file() -> None:
    r = probe_file(shared_video("skv_bigbuckbunny.mp4"))
    assert r["has_audio"] is True and r["audio_codec"] == "aac" and r["audio_error"] is None
    assert (r["width"], r["height"], r["num_frames"]) == (1280, 720, 132)


def test_path_with_spaces_and_non_ascii(tmp_path: Path) -> None:
    src = shared_video("07_skv_bikes.mp4")
    odd = tmp_path / "dir with space" / "vidéo d'été 日本.mp4"
    odd.parent.mkdir()
    shutil.copyfile(src, odd)
    assert probe_file(odd) == probe_file(src)
    assert probe_file(str(odd))["num_frames"] == 250


def test_png_image(tmp_path: Path) -> None:
    cv2 = pytest.importorskip("cv2")
    img = np.zeros((48, 64, 3), np.uint8)
    img[:, :32] = 255
    path = tmp_path / "still.png"
    assert cv2.imwrite(str(path), img)
    r = probe_file(path, decode_check="full")
    assert r["media"] == "image" and r["codec"] == "png"
    assert (r["width"], r["height"]) == (64, 48)
    assert (r["num_frames"], r["duration_s"], r["fps"]) == (1, None, None)
    assert r["decoded_frames"] == 1 and r["decode_errors"] == 0


# --------------------------------------------------------------------------------------------------
# broken inputs


def test_missing_file(tmp_path: Path) -> None:
    expect_error(tmp_path / "nope.mp4", "not_found")


def test_directory_named_like_a_video(tmp_path: Path) -> None:
    d = tmp_path / "x.mp4"
    d.mkdir()
    expect_error(d, "is_directory")


def test_empty_file(tmp_path: Path) -> None:
    p = tmp_path / "empty.mp4"
    p.write_bytes(b"")
    expect_error(p, "empty")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes on this platform")
def test_named_pipe_is_refused_without_blocking(tmp_path: Path) -> None:
    p = tmp_path / "pipe.mp4"
    os.mkfifo(p)  # opening it for reading would block until a writer comes
    expect_error(p, "invalid_data")


def test_text_file_named_mp4(tmp_path: Path) -> None:
    p = tmp_path / "notes.mp4"
    p.write_text("these are notes, not a video\n" * 20)
    expect_error(p, "invalid_data")


def test_no_video_stream(tmp_path: Path) -> None:
    p = tmp_path / "tone.wav"
    with wave.open(str(p), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(np.zeros(8000, np.int16).tobytes())
    err = expect_error(p, "no_video_stream")
    assert "audio only" in str(err)


def test_unreadable_file_via_access_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Tests may run as root, which reads a chmod 000 file anyway; so make os.access say "no".
    p = tmp_path / "locked.mp4"
    shutil.copyfile(shared_video("16_dec_video_90.mov"), p)
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda q, mode: False if Path(q) == p else real_access(q, mode))
    expect_error(p, "permission")


def test_unreadable_file_real_permissions() -> None:
    """A real chmod 000 file. As root (CI), the probe runs in a child without the DAC-override capability."""
    d = Path(tempfile.mkdtemp(prefix="vc-perm-"))
    d.chmod(0o755)
    p = d / "locked.mp4"
    shutil.copyfile(shared_video("16_dec_video_90.mov"), p)
    p.chmod(0)
    try:
        if os.geteuid() != 0:
            expect_error(p, "permission")
            return
        code = (
            "import sys; from vidcurate.io.probe import probe_file; from vidcurate.core.errors import ProbeError\n"
            "try:\n    probe_file(sys.argv[1])\nexcept ProbeError as e:\n    print(e.kind)"
        )
        setpriv = shutil.which("setpriv")
        assert setpriv, "util-linux's setpriv is needed to drop root's file-permission override"
        drop = "-dac_override,-dac_read_search"
        r = subprocess.run(
            [setpriv, "--bounding-set", drop, "--inh-caps", drop, sys.executable, "-c", code, str(p)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert r.stdout.strip() == "permission", r.stderr
    finally:
        p.chmod(0o644)
        shutil.rmtree(d)


def test_permission_error_on_open_is_translated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = tmp_path / "race.mp4"
    shutil.copyfile(shared_video("16_dec_video_90.mov"), p)

    def deny(path: Path) -> Any:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(media_mod, "raw_open", deny)
    expect_error(p, "permission")


def test_unexpected_exception_becomes_probe_failed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = tmp_path / "odd.mp4"
    shutil.copyfile(shared_video("16_dec_video_90.mov"), p)

    def boom(path: Path) -> Any:
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(media_mod, "raw_open", boom)
    err = expect_error(p, "probe_failed")
    assert "RuntimeError" in str(err) and "boom" in str(err)


def test_truncated_mp4_with_index_at_the_end(tmp_path: Path) -> None:
    data = shared_video("07_skv_bikes.mp4").read_bytes()
    assert data.find(b"moov") > len(data) // 2  # moov is at the end: the cut loses it
    p = tmp_path / "cut.mp4"
    p.write_bytes(data[: int(len(data) * 0.4)])
    err = expect_error(p, "truncated")
    assert "moov" in str(err)


def test_truncated_mp4_with_index_at_the_start(tmp_path: Path, bikes_faststart: Path) -> None:
    assert probe_file(bikes_faststart)["num_frames"] == 250  # the remux itself is fine
    data = bikes_faststart.read_bytes()
    p = tmp_path / "cut_faststart.mp4"
    p.write_bytes(data[: int(len(data) * 0.4)])
    err = expect_error(p, "truncated")
    assert "10.00 s" in str(err)
    expect_error(p, "truncated", decode_check="full")
    r = probe_file(p, decode_check="none")  # header only: the index still promises 250 frames
    assert r["num_frames"] == 250 and r["duration_s"] == pytest.approx(10.0)


def test_first_frame_does_not_decode(tmp_path: Path) -> None:
    p = tmp_path / "garbage_frames.avi"
    assert overwrite_packets(shared_video("22_nwb_stub_mjpeg.avi"), p, "video", b"\xff") == 3
    err = expect_error(p, "decode_failed")
    assert "first video frame" in str(err)
    expect_error(p, "decode_failed", decode_check="full")
    r = probe_file(p, decode_check="none")  # no check asked for: facts only, errors counted
    assert r["rotation"] is None and r["decode_errors"] == 3 and (r["width"], r["height"]) == (160, 120)


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="decode_check"):
        probe_file(tmp_path / "x.mp4", decode_check="some")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="count_frames"):
        probe_file(tmp_path / "x.mp4", count_frames="maybe")  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------------
# a header that lies, a tail that is gone, errors that must not be forgotten


def _ffmpeg(*args: str) -> None:
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", *args], check=True, timeout=60)


def test_h264_in_avi_takes_rate_and_count_from_the_packets(tmp_path: Path) -> None:
    """Stream-copied into AVI, H.264's header claims its tick rate (600 fps, 2400 frames for 100)."""
    mp4, avi = tmp_path / "a.mp4", tmp_path / "a.avi"
    _ffmpeg("-f", "lavfi", "-i", "testsrc=size=160x120:rate=25:duration=4", "-c:v", "libx264", "-bf", "2", str(mp4))
    _ffmpeg("-i", str(mp4), "-c", "copy", str(avi))
    with av.open(str(avi)) as c:
        s = c.streams.video[0]
        assert s.frames >= 2 * 100 and float(s.average_rate) >= 50  # the header really disagrees
    r = probe_file(avi)
    assert (r["fps"], r["num_frames"], r["num_frames_src"], r["vfr"]) == (25.0, 100, "counted", False)
    assert r["duration_s"] == pytest.approx(4.0)
    m = probe_file(mp4)  # a header that agrees with its packets is believed
    assert (m["fps"], m["num_frames"], m["num_frames_src"]) == (25.0, 100, "header")


def test_faststart_mp4_missing_its_last_tenth_is_caught(tmp_path: Path, bikes_faststart: Path) -> None:
    data = bikes_faststart.read_bytes()
    p = tmp_path / "tail_missing.mp4"
    p.write_bytes(data[: int(len(data) * 0.9)])
    err = expect_error(p, "truncated")
    assert "should run to 10.00 s" in str(err) and "the last frame that decodes is at" in str(err)
    p.write_bytes(data[: int(len(data) * 0.95)])
    expect_error(p, "truncated")
    assert probe_file(bikes_faststart)["num_frames"] == 250  # the whole file still passes


def test_every_shared_video_passes_the_tighter_end_check() -> None:
    for name in ("07_skv_bikes.mp4", "08_mpy_big_buck_bunny_0_30.webm", "10_mpy_fire2.mp4", "11_mpy_no_duration.webm",
                 "15_dec_flipping_a_pancake.mkv", "18_intel_one-by-one-person-detection.mp4", "mpy_smpte-2997.mp4",
                 "mpy_video_with_failing_audio.mp4", "skv_bigbuckbunny.mp4"):  # fmt: skip
        assert probe_file(shared_video(name))["num_frames"]


def corrupt_middle(tmp_path: Path) -> Path:
    """An 8 s video whose P-frame packet near 4 s is overwritten: the ends check cannot see it."""
    from vidcurate.testing import synth

    good = synth.counter(tmp_path / "src" / "good.mp4", num_frames=200, fps=25, size=(160, 120)).path
    with av.open(str(good)) as c:
        s = c.streams.video[0]
        pk = next(p for p in c.demux(s) if p.size and p.pts is not None and 3.8 < float(p.pts * s.time_base) < 4.0
                  and not p.is_keyframe)  # fmt: skip
        pos, size = pk.pos, pk.size
    data = bytearray(good.read_bytes())
    data[pos + 8 : pos + size] = b"\x5a" * (size - 8)
    bad = tmp_path / "in" / "corrupt_middle.mp4"
    bad.parent.mkdir(parents=True, exist_ok=True)
    bad.write_bytes(bytes(data))
    return bad


def test_decode_errors_survive_split_and_cut_and_the_default_recipe_drops_them(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    from vidcurate.core.recipe import load_recipe, parse_recipe, resolve_recipe
    from vidcurate.engines.local import LocalEngine

    bad = corrupt_middle(tmp_path)
    assert probe_file(bad)["decode_errors"] == 0  # the probe's ends check does not reach 4 s
    recipe = parse_recipe({"stages": [{"probe": {}}, {"split": {"max_clip_s": 3.0}}, {"cut": {"preset": "ultrafast"}}]})
    LocalEngine(recipe, tmp_path / "run", workers=1, progress=False).run(tmp_path / "in")
    clips = pq.read_table(tmp_path / "run" / "manifest.parquet").to_pylist()
    assert len(clips) >= 2 and all(c["decode_errors"] >= 1 for c in clips)  # split counted, cut kept it

    default = load_recipe(resolve_recipe("default"))
    filters = [s.config.model_dump(exclude_unset=True) for s in default.stages if s.name == "filter"]
    assert filters[0].get("max_decode_errors") == 0 and filters[1].get("max_decode_errors") == 0
    after_split = parse_recipe(
        {"stages": [{"probe": {}}, {"split": {}}, {"filter": {k: v for k, v in filters[1].items() if k != "where"}}]}
    )
    LocalEngine(after_split, tmp_path / "run2", workers=1, progress=False).run(tmp_path / "in")
    rejected = pq.read_table(tmp_path / "run2" / "rejected.parquet").to_pylist()
    kept = pq.read_table(tmp_path / "run2" / "manifest.parquet").num_rows
    assert (
        kept == 0 and rejected and {r["reject_reason"] for r in rejected} == {"decode_errors <= 0 (max_decode_errors)"}
    )
