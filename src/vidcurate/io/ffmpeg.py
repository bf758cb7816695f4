"""The bundled ffmpeg binary: run it, and pipe raw RGB frames into it to encode a file.

We use the static ffmpeg shipped in the ``imageio-ffmpeg`` wheel rather than a system ffmpeg so that every
machine encodes with the same build (same codecs, same filters, same bugs). ``VIDCURATE_FFMPEG`` points
at another binary when one is needed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
import uuid
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import IO

import numpy as np

from vidcurate.core.errors import EnvironmentFault, VidcurateError
from vidcurate.io import proc
from vidcurate.io.fs import TMP_MARK, fsync_path, publish_mode

__all__ = ["FFmpegError", "FrameWriter", "ffmpeg_exe", "run_ffmpeg"]

_BASE_ARGS = ("-hide_banner", "-nostdin", "-loglevel", "error")
_STDERR_TAIL_LINES = 12


class FFmpegError(VidcurateError):
    """ffmpeg exited non-zero (or timed out). The message carries the last lines of its stderr."""

    kind = "ffmpeg"  # the row error kind

    def __init__(
        self, message: str, *, returncode: int | None = None, stderr: str = "", cmd: Sequence[str] = ()
    ) -> None:
        super().__init__(message)
        self.returncode = returncode
        self.stderr = stderr
        self.cmd = list(cmd)


def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary: ``$VIDCURATE_FFMPEG`` if set, else the one bundled in imageio-ffmpeg."""
    override = os.environ.get("VIDCURATE_FFMPEG")
    if override:
        return override
    import imageio_ffmpeg  # imported lazily: it looks the binary up on first use

    return imageio_ffmpeg.get_ffmpeg_exe()


def _tail(stderr: bytes | str, n: int = _STDERR_TAIL_LINES) -> str:
    text = stderr.decode("utf-8", "replace") if isinstance(stderr, bytes) else stderr
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return "\n".join(lines[-n:])


class FFmpegFault(FFmpegError, EnvironmentFault):
    """ffmpeg was killed by a signal (out of memory, a file-size limit) or ran out of disk:
    the machine's fault, not the video's, so the run stops instead of failing the row."""


_FAULT_WORDS = ("No space left on device", "File too large", "Disk quota exceeded", "Cannot allocate memory")


def _error(what: str, returncode: int | None, stderr: bytes | str, cmd: Sequence[str]) -> FFmpegError:
    tail = _tail(stderr)
    if returncode is not None and returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return FFmpegFault(f"ffmpeg was killed by {name}" + (f": {tail}" if tail else ""), returncode=returncode,
                           stderr=tail, cmd=cmd)  # fmt: skip
    msg = f"{what} (exit {returncode})" if returncode is not None else what
    if tail:
        msg += f":\n{tail}"
    cls = FFmpegFault if any(w in tail for w in _FAULT_WORDS) else FFmpegError
    return cls(msg, returncode=returncode, stderr=tail, cmd=cmd)


def run_ffmpeg(args: Sequence[str], *, input_bytes: bytes | None = None, timeout: float | None = None) -> None:
    """Run ``ffmpeg -hide_banner -nostdin -loglevel error *args`` (no shell); raise FFmpegError on failure.

    ``-nostdin`` only turns off ffmpeg's interactive keys; an ``-i -`` input still reads ``input_bytes``.
    """
    cmd = [ffmpeg_exe(), *_BASE_ARGS, *map(str, args)]
    try:
        done = proc.run(cmd, input=input_bytes, timeout=timeout)
    except subprocess.TimeoutExpired as exc:  # the child has been killed already
        raise _error(f"ffmpeg timed out after {timeout}s", None, exc.stderr or b"", cmd) from None
    if done.returncode != 0:
        raise _error("ffmpeg failed", done.returncode, done.stderr, cmd)


def _fps_arg(fps: float | Fraction | str) -> str:
    """ffmpeg rate string; Fractions stay exact (``30000/1001``) instead of a rounded float."""
    if isinstance(fps, Fraction):
        return f"{fps.numerator}/{fps.denominator}"
    if isinstance(fps, float) and fps.is_integer():
        return str(int(fps))
    return str(fps)


def _gop_default(fps: float | Fraction | str) -> int:
    return max(1, round(2 * float(Fraction(str(fps)))))


def codec_args(codec: str, crf: int | None, preset: str | None) -> list[str]:
    """Per-codec quality flags. ``crf`` means CRF for x264/VP9 and qscale (``-q:v``) for mjpeg/mpeg4."""
    if codec in ("libx264", "libx265"):
        out = ["-c:v", codec, "-crf", str(23 if crf is None else crf)]
        if preset:
            out += ["-preset", preset]
        return out
    if codec == "libvpx-vp9":
        # -b:v 0 makes -crf a constant-quality target; realtime/cpu-used 8 keeps small synthetic clips fast.
        q = str(32 if crf is None else crf)
        speed = ["-deadline", preset or "realtime", "-cpu-used", "8", "-row-mt", "1"]
        return ["-c:v", codec, "-crf", q, "-b:v", "0", *speed]
    if codec in ("mjpeg", "mpeg4"):
        return ["-c:v", codec, "-q:v", str(3 if crf is None else crf)]
    out = ["-c:v", codec]
    if crf is not None:
        out += ["-crf", str(crf)]
    if preset:
        out += ["-preset", preset]
    return out


class FrameWriter:
    """Encode ``(H, W, 3)`` uint8 RGB frames to a video file by piping them to ffmpeg's stdin.

    The file appears at ``path`` only once ffmpeg has exited cleanly (it is written under a temporary
    name in the same folder and renamed), so a crash never leaves a truncated video that looks valid.

    >>> with FrameWriter("out.mp4", 320, 240, 24) as w:   # doctest: +SKIP
    ...     w.write(frame)
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        width: int,
        height: int,
        fps: float | Fraction | str,
        *,
        codec: str = "libx264",
        crf: int | None = None,
        gop: int | None = None,
        pix_fmt: str = "yuv420p",
        bframes: int | None = None,
        preset: str | None = None,
        extra_args: Sequence[str] = (),
        timeout: float | None = 120.0,
    ) -> None:
        if width <= 0 or height <= 0:
            raise ValueError(f"frame size must be positive, got {width}x{height}")
        if pix_fmt.startswith(("yuv420", "yuvj420", "nv12")) and (width % 2 or height % 2):
            raise ValueError(f"{pix_fmt} needs an even frame size, got {width}x{height}")
        self.path = Path(path)
        self.width, self.height = int(width), int(height)
        self.fps = fps
        self.codec = codec
        self.crf = crf
        self.gop = _gop_default(fps) if gop is None else int(gop)
        self.pix_fmt = pix_fmt
        self.bframes = bframes
        self.preset = preset
        self.extra_args = [str(a) for a in extra_args]
        self.timeout = timeout
        self.frames_written = 0
        self._tmp = self.path.with_name(f".{self.path.name}{TMP_MARK}{uuid.uuid4().hex[:8]}{self.path.suffix}")
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._cmd: list[str] = []

    def command(self) -> list[str]:
        """The full ffmpeg argv (writing to the temporary name)."""
        raw_in = ["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{self.width}x{self.height}"]
        out = [ffmpeg_exe(), *_BASE_ARGS, "-y", *raw_in, "-r", _fps_arg(self.fps), "-i", "-", "-an"]
        out += codec_args(self.codec, self.crf, self.preset)
        out += ["-g", str(self.gop), "-pix_fmt", self.pix_fmt]
        if self.bframes is not None:
            out += ["-bf", str(self.bframes)]
        return [*out, *self.extra_args, str(self._tmp)]

    def open(self) -> FrameWriter:
        if self._proc is not None:
            raise RuntimeError("FrameWriter is already open")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._cmd = self.command()
        # stderr goes to a file, not a pipe: a pipe nobody drains could fill up and deadlock our writes.
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - owned by this writer, closed in _cleanup
        self._proc = proc.popen(self._cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self._stderr)
        return self

    def __enter__(self) -> FrameWriter:
        return self.open()

    def _stderr_text(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        return self._stderr.read().decode("utf-8", "replace")

    def write(self, frame: np.ndarray) -> None:
        """Append one ``(H, W, 3)`` uint8 RGB frame."""
        if self._proc is None or self._proc.stdin is None:
            raise RuntimeError("FrameWriter is not open (use it as a context manager)")
        if frame.shape != (self.height, self.width, 3) or frame.dtype != np.uint8:
            raise ValueError(
                f"expected a ({self.height}, {self.width}, 3) uint8 frame, got {frame.shape} {frame.dtype}"
            )
        try:
            self._proc.stdin.write(np.ascontiguousarray(frame).data)
        except BrokenPipeError:
            rc = self._proc.wait()
            err = _error("ffmpeg stopped reading frames", rc, self._stderr_text(), self._cmd)
            self._cleanup()
            raise err from None
        self.frames_written += 1

    def close(self) -> None:
        """Finish encoding; raise FFmpegError (and leave no file) if ffmpeg failed."""
        if self._proc is None:
            return
        child = self._proc
        try:
            if child.stdin is not None:
                with contextlib.suppress(BrokenPipeError):
                    child.stdin.close()
            try:
                rc = child.wait(timeout=self.timeout)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
                raise _error(f"ffmpeg timed out after {self.timeout}s", None, self._stderr_text(), self._cmd) from None
            if rc != 0:
                raise _error("ffmpeg failed", rc, self._stderr_text(), self._cmd)
            if self.frames_written == 0:
                raise FFmpegError(f"no frames were written to {self.path}", cmd=self._cmd)
            publish_mode(self._tmp)
            fsync_path(self._tmp)
            os.replace(self._tmp, self.path)
        finally:
            self._cleanup()

    def abort(self) -> None:
        """Stop ffmpeg and discard the partial output."""
        if self._proc is not None:
            if self._proc.stdin is not None:
                with contextlib.suppress(BrokenPipeError):
                    self._proc.stdin.close()
            self._proc.kill()
            self._proc.wait()
        self._cleanup()

    def _cleanup(self) -> None:
        self._proc = None
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
        self._tmp.unlink(missing_ok=True)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
