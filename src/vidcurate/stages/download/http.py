"""Fetch one URL to a file: polite (per-host concurrency and spacing), resumable, checked, atomic.

Bytes go to `.partial-<name>` beside the destination; an interrupted transfer resumes from
where it stopped with an HTTP Range request (a server that ignores Range starts over). Transient
failures (timeouts, dropped connections, 429, 5xx) are retried with exponential backoff, and a
`Retry-After` is honoured; 4xx answers are final. The first bytes must be a video or an image (an
HTML error page served as `.mp4` is refused), the size may not pass `max_bytes`, and a complete
file is renamed into place: a file under a final name is always whole.
"""

from __future__ import annotations

import email.utils
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from vidcurate.core.errors import RowError
from vidcurate.io.fs import publish_mode
from vidcurate.io.magic import HEAD, sniff

TRANSIENT_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
CHUNK = 1 << 16


@dataclass(frozen=True)
class FetchOptions:
    timeout_s: float = 30.0
    max_retries: int = 4
    backoff_s: float = 1.0
    backoff_max_s: float = 60.0
    max_bytes: int | None = None
    per_host: int = 4
    host_interval_s: float = 0.0
    user_agent: str = "vidcurate (+https://github.com/vidcurate)"


class _Gate:
    """At most `limit` requests to one host at once, started at least `interval` seconds apart."""

    def __init__(self, limit: int, interval: float) -> None:
        self.sem = threading.BoundedSemaphore(limit)
        self.interval = interval
        self.lock = threading.Lock()
        self.last = 0.0

    @contextmanager
    def held(self) -> Iterator[None]:
        with self.sem:
            if self.interval:
                with self.lock:
                    wait = self.last + self.interval - time.monotonic()
                    if wait > 0:
                        time.sleep(wait)
                    self.last = time.monotonic()
            yield


class _Retry(Exception):
    def __init__(self, kind: str, message: str, wait: float | None = None) -> None:
        super().__init__(message)
        self.kind, self.wait = kind, wait


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date); None when unreadable,
    so the usual backoff applies instead of the whole batch failing on a server's bad header."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time()) if when else None


class Fetcher:
    """One HTTP client and its per-host gates, shared by a stage's download threads."""

    def __init__(self, opts: FetchOptions) -> None:
        import httpx

        self.opts = opts
        self.httpx = httpx
        self.client = httpx.Client(
            timeout=httpx.Timeout(opts.timeout_s), follow_redirects=True, headers={"User-Agent": opts.user_agent}
        )
        self._gates: dict[str, _Gate] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        self.client.close()

    def gate(self, url: str) -> _Gate:
        host = urlparse(url).netloc.lower()
        with self._lock:
            if host not in self._gates:
                self._gates[host] = _Gate(self.opts.per_host, self.opts.host_interval_s)
            return self._gates[host]

    def fetch(self, url: str, folder: Path, stem: str) -> tuple[Path, int]:
        """Download `url` to `folder/<stem>.<ext>`; (path, bytes). RowError with the reason otherwise."""
        if urlparse(url).scheme not in ("http", "https"):
            raise RowError("bad_url", f"not an http(s) URL: {url}")
        part = folder / f".partial-{stem}"  # not a temp-file name: a rerun resumes it, cleanup keeps it
        o = self.opts
        last: _Retry | None = None
        for attempt in range(o.max_retries + 1):
            try:
                with self.gate(url).held():
                    total = self._transfer(url, part)
                kind = sniff(_head(part))
                ext = kind[1] if kind else (Path(urlparse(url).path).suffix.lstrip(".").lower() or "bin")
                dest = folder / f"{stem}.{ext}"
                publish_mode(part)
                part.replace(dest)
                return dest, total
            except _Retry as e:
                last = e
                if attempt == o.max_retries:
                    break
                time.sleep(e.wait if e.wait is not None else min(o.backoff_max_s, o.backoff_s * 2**attempt))
            except RowError:
                part.unlink(missing_ok=True)
                raise
        assert last is not None
        raise RowError(last.kind, f"{last} (after {o.max_retries + 1} attempts)")

    def _transfer(self, url: str, part: Path) -> int:
        httpx = self.httpx
        have = part.stat().st_size if part.exists() else 0
        headers = {"Range": f"bytes={have}-"} if have else {}
        try:
            with self.client.stream("GET", url, headers=headers) as r:
                if r.status_code == 416 and have:  # the part holds everything already
                    return have
                if r.status_code in TRANSIENT_STATUS:
                    raise _Retry(f"http_{r.status_code}", f"HTTP {r.status_code} from {url}",
                                 _retry_after(r.headers.get("Retry-After")))  # fmt: skip
                if r.status_code >= 400:
                    raise RowError(f"http_{r.status_code}", f"HTTP {r.status_code} {r.reason_phrase} from {url}")
                if r.status_code != 206:
                    have = 0  # no resume: start over
                expected = _length(r, have)
                if self.opts.max_bytes is not None and expected is not None and expected > self.opts.max_bytes:
                    raise RowError(
                        "too_large", f"{url} is {expected:,} bytes, over the limit of {self.opts.max_bytes:,}"
                    )
                got = have
                with open(part, "r+b" if have else "wb") as f:
                    f.seek(have)
                    f.truncate()
                    for chunk in r.iter_bytes(CHUNK):
                        if got == 0 and chunk:
                            _check_head(chunk, url)
                        f.write(chunk)
                        got += len(chunk)
                        if self.opts.max_bytes is not None and got > self.opts.max_bytes:
                            raise RowError("too_large", f"{url} passed the limit of {self.opts.max_bytes:,} bytes")
                if expected is not None and got < expected:
                    raise _Retry("connection", f"the connection closed after {got:,} of {expected:,} bytes")
                if got == 0:
                    raise RowError("empty", f"{url} sent no bytes")
                return got
        except httpx.TimeoutException:
            raise _Retry("timeout", f"no answer from {urlparse(url).netloc} within {self.opts.timeout_s:g} s") from None
        except (httpx.NetworkError, httpx.RemoteProtocolError) as e:
            raise _Retry("connection", f"connection to {urlparse(url).netloc} failed ({type(e).__name__})") from None


def _length(r: Any, have: int) -> int | None:
    cl = r.headers.get("Content-Length")
    if cl is None or not cl.isdigit():
        return None
    return int(cl) + (have if r.status_code == 206 else 0)


def _check_head(chunk: bytes, url: str) -> None:
    kind = sniff(chunk[:HEAD])
    if kind is not None and kind[0] == "text":
        raise RowError("not_video", f"{url} sent a text/HTML page, not a video (an error page?)")


def _head(path: Path) -> bytes:
    with open(path, "rb") as f:
        return f.read(HEAD)
