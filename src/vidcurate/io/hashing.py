"""Content fingerprints of media files for exact deduplication.

`content_hash`: BLAKE2b of the file's bytes, streamed in 1 MiB reads (identical files). A file
re-muxed into another container has other bytes but the same decoded pictures: `stream_hash`
hashes the luma plane of every decoded frame, in presentation order, with the frame size, so two
files agree exactly when their video decodes to the same pictures (audio and metadata ignored).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from vidcurate.io.decode import iter_frames
from vidcurate.io.media import check_file

CHUNK = 1 << 20


def content_hash(path: str | os.PathLike[str]) -> str:
    p = Path(path)
    check_file(p)
    h = hashlib.blake2b(digest_size=16)
    with open(p, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def stream_hash(path: str | os.PathLike[str]) -> str:
    """Hash of every decoded frame's luma (a full decode: as costly as `decode_check: full`)."""
    h = hashlib.blake2b(digest_size=16)
    n = 0
    for d in iter_frames(Path(path)):
        y = d.frame.to_ndarray(format="gray")
        h.update(f"{y.shape[0]}x{y.shape[1]};".encode())
        h.update(y.tobytes())
        n += 1
    h.update(f"frames={n}".encode())
    return h.hexdigest()
