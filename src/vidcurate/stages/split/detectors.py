"""Scan a video span once and find its scene boundaries.

Decoding is the cost, so every detector is fed from one threaded PyAV pass (`iter_frames`):

* ``content`` / ``adaptive``: PySceneDetect's `ContentDetector` / `AdaptiveDetector`, fed frames
  downscaled to ~256 px from the decoded planes (BGR built at that size, or just the luma plane
  with ``luma_only``) instead of going through PySceneDetect's own video reader, which converts
  every full frame to BGR first.
* ``transnetv2``: see `transnet.py`; fed 48x27 RGB frames from the same pass.
* ``stride``: fixed windows; reads packet timestamps only (no decoding) unless fades are handled.

Fades through black (``fade_threshold``) use PySceneDetect's `ThresholdDetector` on the same
frames and mark black frames so clips can be shrunk past them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import cv2
import numpy as np

from vidcurate.core.errors import RowError
from vidcurate.core.frames import DecodeStats
from vidcurate.io.decode import Decoded, iter_frames, luma
from vidcurate.io.media import nominal_fps
from vidcurate.io.packets import end_time, packet_times
from vidcurate.stages.split.ranges import scan_in_ranges
from vidcurate.stages.split.spans import Boundary, fixed_windows

if TYPE_CHECKING:
    from vidcurate.stages.split.config import SplitConfig
    from vidcurate.stages.split.transnet import TransNetV2Runner

# Default thresholds, in each detector's own units.
DEFAULT_THRESHOLD = {"content": 27.0, "adaptive": 3.0, "transnetv2": 0.5}


@dataclass
class Scan:
    """What one pass over a span found.

    `times` has n + 1 entries: the presentation time (s) of each of the n frames, then the end of
    the last one. `boundaries` are scene changes in frame indices of the span. `black` marks
    frames darker than the fade threshold (None when fades are not handled).
    """

    times: np.ndarray
    boundaries: list[Boundary]
    black: np.ndarray | None = None
    decode_errors: int = 0
    messages: list[str] = field(default_factory=list)

    @property
    def num_frames(self) -> int:
        return len(self.times) - 1


class FrameSink(Protocol):
    """A detector fed one decoded frame at a time."""

    def feed(self, d: Decoded) -> float | None:
        """Look at frame `d` (index `d.index` in the span); return its mean brightness if known."""

    def finish(self, n: int) -> list[Boundary]:
        """All boundaries, once the last of `n` frames was fed."""


def analysis_size(width: int, height: int, target_width: int) -> tuple[int, int]:
    """Downscaled size keeping the aspect (never upscales); even sizes are not needed."""
    if width <= target_width:
        return width, height
    return target_width, max(2, round(height * target_width / width))


# ------------------------------------------------------------------------------ PySceneDetect family


def _fast_content_classes() -> tuple[type, type]:
    """ContentDetector / AdaptiveDetector computing the same frame score with fewer passes.

    PySceneDetect's score is the weighted mean of the mean absolute differences of the H, S and V
    planes of consecutive frames (plus edges, off by default); it always computes all three with
    numpy int32 arrays. Here one `cv2.absdiff` + `cv2.sumElems` gives all three sums at once.
    A 2-D frame is a luma plane: with luma-only weights its score is the V difference, and for a
    grey frame V is the luma, so no BGR image or HSV conversion is built at all. Edge weights, or a
    stats manager, take PySceneDetect's own code. Equal scores: tests/test_split.py.
    """
    from scenedetect.detectors import AdaptiveDetector, ContentDetector

    class _FastScore:
        _prev_img: np.ndarray | None = None

        def _calculate_frame_score(self, timecode: Any, frame_img: np.ndarray) -> float:
            weights = self._weights  # type: ignore[attr-defined]
            if weights.delta_edges or self.stats_manager is not None:  # type: ignore[attr-defined]
                return super()._calculate_frame_score(timecode, frame_img)  # type: ignore[misc]
            # grey frame: H = S = 0 and V = luma, so only the V weight counts
            img = frame_img if frame_img.ndim == 2 else cv2.cvtColor(frame_img, cv2.COLOR_BGR2HSV)
            prev, self._prev_img = self._prev_img, img
            if prev is None:
                return 0.0
            sums = cv2.sumElems(cv2.absdiff(img, prev))  # per channel: sum of |difference|
            deltas = (0.0, 0.0, sums[0]) if img.ndim == 2 else sums[:3]
            total = sum(w * d for w, d in zip(weights[:3], deltas, strict=True))
            return total / (img.shape[0] * img.shape[1]) / sum(abs(w) for w in weights)

    class FastContentDetector(_FastScore, ContentDetector):
        pass

    class FastAdaptiveDetector(_FastScore, AdaptiveDetector):
        pass

    return FastContentDetector, FastAdaptiveDetector


def _plane(f: Any, k: int) -> np.ndarray:
    p = f.planes[k]
    return np.frombuffer(p, np.uint8).reshape(-1, p.line_size)[: p.height, : p.width]


def small_bgr(f: Any, w: int, h: int) -> np.ndarray:
    """A `w` x `h` BGR image of a frame: the planes are scaled first, then converted (cheap).

    Converting the full frame to BGR first, as PySceneDetect's readers do, costs more than the
    detection; for 4:2:0 frames we scale Y, U and V separately and convert the small result.
    """
    if f.format.name in ("yuv420p", "yuvj420p") and w % 2 == 0 and h % 2 == 0:
        y = cv2.resize(_plane(f, 0), (w, h), interpolation=cv2.INTER_LINEAR)
        u = cv2.resize(_plane(f, 1), (w // 2, h // 2), interpolation=cv2.INTER_LINEAR)
        v = cv2.resize(_plane(f, 2), (w // 2, h // 2), interpolation=cv2.INTER_LINEAR)
        i420 = np.concatenate([y.reshape(-1), u.reshape(-1), v.reshape(-1)]).reshape(h * 3 // 2, w)
        return cv2.cvtColor(i420, cv2.COLOR_YUV2BGR_I420)
    return f.to_ndarray(width=w, height=h, format="bgr24", interpolation="BILINEAR")


class SceneDetectSink:
    """Feeds PySceneDetect detectors our own small frames and collects their cuts."""

    def __init__(self, cfg: SplitConfig, fps: float) -> None:
        from scenedetect.common import FrameTimecode
        from scenedetect.detectors import ContentDetector, ThresholdDetector

        self._tc = FrameTimecode
        self.cfg = cfg
        self.fps = Fraction(fps).limit_denominator(100000) if fps > 0 else Fraction(25)
        min_len = max(0, round(cfg.min_scene_s * float(self.fps)))  # frames; spans.py re-checks in seconds
        content_cls, adaptive_cls = _fast_content_classes()
        weights = ContentDetector.LUMA_ONLY_WEIGHTS if cfg.luma_only else ContentDetector.DEFAULT_COMPONENT_WEIGHTS
        threshold = cfg.threshold if cfg.threshold is not None else DEFAULT_THRESHOLD[cfg.detector]
        if cfg.detector == "adaptive":
            self.detector = adaptive_cls(
                adaptive_threshold=threshold,
                min_scene_len=min_len,
                window_width=cfg.adaptive_window,
                min_content_val=cfg.adaptive_min_content,
                weights=weights,
            )
        else:
            self.detector = content_cls(threshold=threshold, min_scene_len=min_len, weights=weights)
        self.fader = (
            ThresholdDetector(threshold=cfg.fade_threshold, min_scene_len=min_len)
            if cfg.fade_threshold is not None
            else None
        )
        self.scores: list[float] = []
        self.cuts: list[int] = []
        self.fade_cuts: list[int] = []
        self._size: tuple[int, int] | None = None
        self._last: Any = None

    def _small(self, d: Decoded) -> np.ndarray:
        """The frame at analysis size: the luma plane (luma_only) or BGR, scaled bilinearly.

        Bilinear is how PySceneDetect downscales (its thresholds were tuned that way), and cheap.
        """
        f = d.frame
        if self._size is None:
            w, h = analysis_size(f.width, f.height, self.cfg.analysis_width)
            self._size = (w + w % 2, h + h % 2) if not self.cfg.luma_only else (w, h)
        w, h = self._size
        if not self.cfg.luma_only:
            return small_bgr(f, w, h)
        y = luma(f)
        if (w, h) == (f.width, f.height):
            return np.ascontiguousarray(y)
        return cv2.resize(y, (w, h), interpolation=cv2.INTER_LINEAR)

    def timecode(self, index: int) -> Any:
        return self._tc(index, fps=self.fps)

    def score_only(self, d: Decoded) -> float:
        """Frame `d`'s score against the frame before it, with no cut decision (`ranges.py`)."""
        return float(self.detector._calculate_frame_score(self.timecode(d.index), self._small(d)) or 0.0)

    def replay(self, scores: list[float]) -> list[Boundary]:
        """The boundaries one pass finds when its frames score `scores`: the decisions, re-run in order."""
        self.detector._calculate_frame_score = lambda tc, _img: scores[tc.frame_num]
        dummy = np.zeros((1, 1), np.uint8)
        for i in range(len(scores)):
            self._last = tc = self.timecode(i)
            self.cuts += [c.frame_num for c in self.detector.process_frame(tc, dummy)]
            self.scores.append(float(self.detector._frame_score or 0.0))
        return self.finish(len(scores))

    def feed(self, d: Decoded) -> float | None:
        img = self._small(d)
        tc = self._tc(d.index, fps=self.fps)
        self._last = tc
        self.cuts += [c.frame_num for c in self.detector.process_frame(tc, img)]
        self.scores.append(float(self.detector._frame_score or 0.0))
        level = None
        if self.fader is not None:
            self.fade_cuts += [c.frame_num for c in self.fader.process_frame(tc, img)]
            level = float(cv2.mean(img)[0]) if img.ndim == 2 else float(np.mean(cv2.mean(img)[:3]))
        return level

    def finish(self, n: int) -> list[Boundary]:
        if self._last is not None:
            self.cuts += [c.frame_num for c in self.detector.post_process(self._last)]
            if self.fader is not None:
                self.fade_cuts += [c.frame_num for c in self.fader.post_process(self._last)]
        scores = np.asarray(self.scores, np.float64)
        out = [Boundary(c, c, self._score(scores, c)) for c in sorted(set(self.cuts)) if 0 < c < n]
        out += [Boundary(c, c, None) for c in sorted(set(self.fade_cuts)) if 0 < c < n]
        return out

    def _score(self, scores: np.ndarray, c: int) -> float:
        """Content: the frame score at the cut. Adaptive: that score over its neighbours' mean."""
        if self.cfg.detector != "adaptive":
            return float(scores[c])
        w = self.cfg.adaptive_window
        around = np.concatenate([scores[max(0, c - w) : c], scores[c + 1 : c + 1 + w]])
        mean = float(around.mean()) if len(around) else 0.0
        return 255.0 if mean < 1e-5 else min(float(scores[c]) / mean, 255.0)


class LevelSink:
    """Only the brightness per frame, for fixed windows that still trim fades through black."""

    def __init__(self, cfg: SplitConfig) -> None:
        self.cfg = cfg

    def feed(self, d: Decoded) -> float | None:
        return float(luma(d.frame).mean())

    def finish(self, n: int) -> list[Boundary]:
        return []


# ------------------------------------------------------------------------------------------- the pass


def _frame_end(d: Decoded) -> float | None:
    """When frame `d` stops showing, from its own duration; None when the file does not say."""
    f = d.frame
    if f.duration and f.time_base:
        return d.time_s + float(f.duration * f.time_base)
    return None


def scan_decoded(
    path: str | Path,
    sink: FrameSink,
    *,
    start_s: float | None,
    end_s: float | None,
    fade_threshold: float | None,
) -> Scan:
    """Decode the span once, feeding every frame to `sink`."""
    stats = DecodeStats()
    times: list[float] = []
    levels: list[float] = []
    last_end: float | None = None
    for d in iter_frames(path, start_s=start_s, end_s=end_s, stats=stats):
        times.append(d.time_s)
        level = sink.feed(d)
        if fade_threshold is not None:
            levels.append(float("nan") if level is None else level)
        last_end = _frame_end(d)
    n = len(times)
    if n == 0:
        detail = f" ({stats.errors} decoder errors: {stats.messages[0]})" if stats.messages else ""
        raise RowError("no_frames", f"{Path(path).name}: no frame decodes in the span{detail}")
    end = end_time(times, last_end, end_s)
    black = np.asarray(levels, np.float64) < fade_threshold if fade_threshold is not None else None
    return Scan(np.asarray([*times, end], np.float64), sink.finish(n), black, stats.errors, stats.messages)


def scan(
    path: str | Path,
    cfg: SplitConfig,
    *,
    start_s: float | None = None,
    end_s: float | None = None,
    transnet: TransNetV2Runner | None = None,
    duration_s: float | None = None,
) -> Scan:
    """Run the configured detector over [start_s, end_s) of `path` (the whole file by default).

    A long span (`duration_s` from the probe) is scanned in time ranges side by side (`ranges.py`).
    """
    if cfg.detector == "stride":
        times = packet_times(path, start_s=start_s, end_s=end_s) if cfg.fade_threshold is None else None
        found = (
            Scan(times, [])
            if times is not None
            else scan_decoded(path, LevelSink(cfg), start_s=start_s, end_s=end_s, fade_threshold=cfg.fade_threshold)
        )
        windows = fixed_windows(found.times, found.num_frames, cfg.window_s)
        found.boundaries = [Boundary(w.start, w.start) for w in windows[1:]]
        return found
    if cfg.detector == "transnetv2":
        if transnet is None:
            raise RuntimeError("the transnetv2 detector needs its model: call setup() first")
        sink: FrameSink = transnet.sink(cfg)
    else:
        fps = nominal_fps(path)
        parts = range_count(cfg, start_s, end_s, duration_s)
        if parts > 1 and duration_s is not None:
            ranged = scan_in_ranges(
                path, lambda: SceneDetectSink(cfg, fps), start_s=start_s or 0.0, end_s=end_s, duration_s=duration_s,
                parts=parts,
            )  # fmt: skip
            if ranged is not None:
                return Scan(ranged[0], ranged[1], None, ranged[2], ranged[3])
        sink = SceneDetectSink(cfg, fps)
    return scan_decoded(path, sink, start_s=start_s, end_s=end_s, fade_threshold=cfg.fade_threshold)


def default_ranges() -> int:
    """Ranges per long video: this worker's share of the cores, and at least 2 (decoders idle while
    the detector runs). `VIDCURATE_WORKERS` is set by the engine in its pool processes."""
    workers = max(1, int(os.environ.get("VIDCURATE_WORKERS", "1") or 1))
    cores = os.cpu_count() or 1
    return min(cores, max(2, cores // workers))


def range_count(cfg: SplitConfig, start_s: float | None, end_s: float | None, duration_s: float | None) -> int:
    """How many time ranges to scan side by side (1: one pass). Content/adaptive without fades only."""
    if cfg.detector not in ("content", "adaptive") or cfg.fade_threshold is not None or duration_s is None:
        return 1
    length = (end_s - (start_s or 0.0)) if end_s is not None else duration_s - (start_s or 0.0)
    if length < cfg.ranges_min_s:
        return 1
    want = cfg.ranges or default_ranges()
    return max(1, min(want, int(length // (cfg.ranges_min_s / 2))))
