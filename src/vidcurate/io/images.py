"""Still images: which files are images, reading them with a bound on pixels, encoding JPEG.

One list of image extensions for the whole package (GIF is not in it: an animated GIF is read as
a video, and `probe` says `media: image` when it holds one frame). Reading never costs more
memory than the bound: the header is read first (Pillow opens lazily), a JPEG is decoded at a
reduced scale by the decoder itself (`draft`), and an image beyond `max_pixels` that cannot be
reduced while decoding (a 20000x20000 PNG) is refused instead of decoded.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import cv2
import numpy as np

from vidcurate.core.errors import RowError

IMAGE_EXTS = frozenset([".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"])
JPEG_QUALITY = 90
MAX_PIXELS = 64_000_000  # decoded pixels an image may cost (8K x 8K)


def is_image_path(path: str | os.PathLike[str]) -> bool:
    return Path(path).suffix.lower() in IMAGE_EXTS


def encode_jpeg(rgb: np.ndarray, quality: int = JPEG_QUALITY) -> bytes:
    """An RGB uint8 image as JPEG bytes."""
    ok, buf = cv2.imencode(
        ".jpg", cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
    )
    if not ok:
        raise RowError("encode", "could not encode an image as JPEG")
    return bytes(buf.tobytes())


def read_image(
    path: str | os.PathLike[str], *, max_side: int | None = None, max_pixels: int = MAX_PIXELS
) -> np.ndarray:
    """An image file as RGB uint8, its longer side at most `max_side`; RowError when unreadable or too big."""
    from PIL import Image, UnidentifiedImageError

    p = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(p) as im:
                w, h = im.size
                if max_side is not None and im.format == "JPEG" and max(w, h) > max_side:
                    im.draft("RGB", (max(1, w * max_side // max(w, h)), max(1, h * max_side // max(w, h))))
                    w, h = im.size  # the decoder now yields this (1/2, 1/4 or 1/8 scale)
                if w * h > max_pixels:
                    raise RowError(
                        "too_large",
                        f"{p.name}: {w}x{h} image is over {max_pixels // 1_000_000} megapixels; not decoded",
                    )
                rgb = np.asarray(im.convert("RGB"))
    except RowError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as e:
        raise RowError("invalid_data", f"{p.name}: not a readable image ({e})") from None
    if max_side is not None and max(rgb.shape[:2]) > max_side:
        s = max_side / max(rgb.shape[:2])
        size = (max(2, round(rgb.shape[1] * s)), max(2, round(rgb.shape[0] * s)))
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(rgb)
