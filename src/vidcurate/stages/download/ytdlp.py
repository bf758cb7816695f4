"""YouTube and the other sites yt-dlp knows: best format up to a resolution, whole or only spans.

yt-dlp is an optional extra (`pip install 'vidcurate[download]'`). Spans are fetched with its
`download_ranges` (keyframes forced at the cuts), so only the seconds asked for cross the network.
Its errors are sorted into the reasons a yield report needs: private, removed or unavailable,
geo-blocked, age-restricted, rate-limited, other. No site is reachable from the test machine: the
tests stop at the `YoutubeDL` boundary (a fake class records the options it was given).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from vidcurate.core.errors import ConfigError, RowError

SITES = ("youtube.com", "youtu.be", "vimeo.com", "dailymotion.com", "bilibili.com", "tiktok.com")
REASONS = (
    ("private video", "private"),
    ("sign in to confirm your age", "age_restricted"),
    ("not available in your country", "geo_blocked"),
    ("blocked it in your country", "geo_blocked"),
    ("video unavailable", "unavailable"),
    ("has been removed", "unavailable"),
    ("does not exist", "unavailable"),
    ("http error 429", "rate_limited"),
    ("timed out", "timeout"),
)


def wants_ytdlp(url: str) -> bool:
    host = url.split("://", 1)[-1].split("/", 1)[0].lower()
    return any(host == s or host.endswith("." + s) for s in SITES)


def format_for(max_height: int) -> str:
    h = max_height
    return f"bv*[height<={h}][ext=mp4]+ba[ext=m4a]/b[height<={h}][ext=mp4]/bv*[height<={h}]+ba/b[height<={h}]/b"


def reason(message: str) -> str:
    low = message.lower()
    return next((kind for needle, kind in REASONS if needle in low), "site_error")


def fetch(
    url: str,
    folder: Path,
    stem: str,
    *,
    max_height: int = 720,
    spans: list[tuple[float, float]] | None = None,
    timeout_s: float = 30.0,
    retries: int = 4,
    ydl_class: Any = None,
) -> Path:
    """Download with yt-dlp to `folder/<stem>.<ext>` (only `spans` of it when given)."""
    try:
        import yt_dlp
    except ImportError:
        if ydl_class is None:
            raise ConfigError(f"{url} needs yt-dlp: pip install 'vidcurate[download]'") from None
        yt_dlp = None
    tmp_stem = f".vctmp-{stem}"
    opts: dict[str, Any] = {
        "format": format_for(max_height),
        "outtmpl": str(folder / f"{tmp_stem}.%(ext)s"),
        "merge_output_format": "mp4",
        "quiet": True,
        "noprogress": True,
        "noplaylist": True,
        "retries": retries,
        "socket_timeout": timeout_s,
        "continuedl": True,
    }
    if spans:
        ranges = [{"start_time": float(a), "end_time": float(b)} for a, b in spans]
        opts["download_ranges"] = lambda info, ydl: ranges
        opts["force_keyframes_at_cuts"] = True
    cls = ydl_class or yt_dlp.YoutubeDL
    try:
        with cls(opts) as ydl:
            ydl.download([url])
    except Exception as e:  # yt-dlp raises its own DownloadError with the site's words
        msg = str(e).replace("ERROR: ", "").strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise RowError(reason(msg), f"{url}: {msg}") from None
    made = sorted(p for p in folder.glob(f"{tmp_stem}.*") if not p.name.endswith((".part", ".ytdl")))
    if not made:
        raise RowError("site_error", f"{url}: yt-dlp finished but wrote no file")
    dest = folder / f"{stem}{made[-1].suffix}"
    os.replace(made[-1], dest)
    for leftover in folder.glob(f"{tmp_stem}.*"):
        leftover.unlink(missing_ok=True)
    return dest
