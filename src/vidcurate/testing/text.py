"""Synthetic videos with text on screen (known words and boxes), for the OCR scorer's ground truth."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from vidcurate.io.ffmpeg import codec_args, run_ffmpeg
from vidcurate.io.fs import atomic_path
from vidcurate.testing.frames import (
    PathLike,
    Size,
    SynthVideo,
    check_size,
    encode,
    filter_escape,
)

_DEJAVU_DIR = Path("/usr/share/fonts/truetype/dejavu")


def _text_layout(txt: str, w: int, h: int) -> tuple[float, int]:
    """Font scale/thickness so ``txt`` spans ~85% of the width without exceeding ~30% of the height."""
    thickness = max(2, round(h / 80))
    (tw, th), _ = cv2.getTextSize(txt, cv2.FONT_HERSHEY_SIMPLEX, 1.0, thickness)
    scale = min(0.85 * w / max(tw, 1), 0.3 * h / max(th, 1))
    return scale, thickness


def text(
    path: PathLike,
    *,
    text: str = "HELLO WORLD",
    num_frames: int = 48,
    fps: float = 24,
    size: Size = (320, 240),
    codec: str = "libx264",
    crf: int | None = None,
) -> SynthVideo:
    """Large dark ``text`` centred on a light background, identical on every frame (an OCR target).

    truth["bbox"] is ``[x0, y0, x1, y1]`` (exclusive end) of the pixels the text actually inked.
    """
    w, h = check_size(size)
    scale, thickness = _text_layout(text, w, h)
    (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    img = np.full((h, w, 3), 235, np.uint8)
    org = ((w - tw) // 2, (h + th) // 2)
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (15, 15, 15), thickness, cv2.LINE_AA)
    ys, xs = np.nonzero(img[..., 0] < 200)
    bbox = [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1]
    encode(path, (img for _ in range(num_frames)), width=w, height=h, fps=fps, codec=codec, crf=crf)
    return SynthVideo(Path(path), float(fps), num_frames, w, h, {"text": text, "bbox": bbox})


def _default_font() -> tuple[str, str]:
    """('fontfile', path) for DejaVu Sans Bold when installed, else ('font', fontconfig pattern)."""
    for name in ("DejaVuSans-Bold.ttf", "DejaVuSans.ttf"):
        if (_DEJAVU_DIR / name).is_file():
            return "fontfile", str(_DEJAVU_DIR / name)
    return "font", "Sans:style=Bold"


def drawtext(
    path: PathLike,
    *,
    text: str = "VIDCURATE 2026",
    num_frames: int = 48,
    fps: float = 24,
    size: Size = (320, 240),
    fontsize: int | None = None,
    fontfile: PathLike | None = None,
    codec: str = "libx264",
    crf: int | None = None,
) -> SynthVideo:
    """Text rendered by ffmpeg's drawtext (a real TrueType font, unlike OpenCV's Hershey strokes).

    Uses ``fontfile`` if given, else DejaVu Sans Bold from /usr/share/fonts, else fontconfig's "Sans".
    """
    w, h = check_size(size)
    if fontsize is None:  # bold DejaVu caps advance ~0.72 em; keep the line inside ~90% of the width
        fontsize = max(8, min(h // 7, int(0.9 * w / (0.72 * max(len(text), 1)))))
    font_key, font_val = ("fontfile", str(fontfile)) if fontfile is not None else _default_font()
    vf = (
        f"drawtext={font_key}={filter_escape(font_val)}:text={filter_escape(text)}:expansion=none"
        f":fontsize={fontsize}:fontcolor=0x141414:x=(w-text_w)/2:y=(h-text_h)/2"
    )
    out = Path(path)
    with atomic_path(out, keep_suffix=True) as tmp:
        src = ["-f", "lavfi", "-i", f"color=c=0xEBEBEB:s={w}x{h}:r={fps}"]
        enc = [*codec_args(codec, crf, None), "-g", str(max(1, round(2 * fps))), "-pix_fmt", "yuv420p"]
        run_ffmpeg(["-y", *src, "-vf", vf, "-frames:v", str(num_frames), "-an", *enc, str(tmp)])
    truth = {"text": text, "fontsize": fontsize, font_key: font_val}
    return SynthVideo(out, float(fps), num_frames, w, h, truth)
