"""An on-disk response cache (SQLite) so a rerun or a resumed run never pays for a call twice.

The key is a hash of the whole request body (model, messages, sampling parameters, response
format) with every inline image replaced by the hash of its bytes, so keys stay small and an
identical frame sent again hits. Each answer is committed as soon as it arrives (WAL journal),
so a process killed mid-batch keeps everything it was paid for; several worker processes may
share one file (SQLite locks it; writers wait up to `busy_timeout`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import socket
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from vidcurate.core.errors import ConfigError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    created REAL NOT NULL,
    response TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS claims (
    key TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    expires REAL NOT NULL
);
"""


def _image_ref(url: str) -> str:
    """A data URL becomes `sha256:<hash of the decoded bytes>`; other URLs stay as they are."""
    if not url.startswith("data:"):
        return url
    head, _, payload = url.partition(",")
    try:
        raw = base64.b64decode(payload, validate=False) if head.endswith(";base64") else payload.encode()
    except (binascii.Error, ValueError):
        raw = payload.encode()
    return f"{head.split(';', 1)[0]};sha256:{hashlib.sha256(raw).hexdigest()}"


def _strip_media(value: Any) -> Any:
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k == "url" and isinstance(v, str):
                out[k] = _image_ref(v)
            else:
                out[k] = _strip_media(v)
        return out
    if isinstance(value, list):
        return [_strip_media(v) for v in value]
    return value


def _dead_here(owner: str) -> bool:
    """Whether a claim's owner (`host:pid:...`) is a process of this machine that no longer runs."""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def cache_key(body: dict[str, Any]) -> str:
    """Stable key of a chat request body (images by content hash)."""
    blob = json.dumps(_strip_media(body), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class ResponseCache:
    """Thread-safe get/put of response JSON by key; one connection per instance."""

    def __init__(self, path: str | Path, *, busy_timeout_s: float = 60.0) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        deadline = time.monotonic() + busy_timeout_s
        while True:
            try:
                self._db = sqlite3.connect(
                    str(self.path), timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
                )
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
                self._db.executescript(_SCHEMA)
                break
            except sqlite3.OperationalError as e:  # another worker is creating the file at this moment
                if "locked" not in str(e) or time.monotonic() > deadline:
                    raise ConfigError(f"cannot open the LLM response cache {self.path}: {e}") from None
                time.sleep(0.05)
            except sqlite3.Error as e:
                raise ConfigError(f"cannot open the LLM response cache {self.path}: {e}") from None
        self.hits = 0
        self.misses = 0
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{id(self)}"

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT response FROM responses WHERE key = ?", (key,)).fetchone()
        if row is None:
            self.misses += 1
            return None
        try:
            value = json.loads(row[0])
        except json.JSONDecodeError:
            self.misses += 1
            return None
        self.hits += 1
        return value

    def put(self, key: str, model: str, response: dict[str, Any]) -> None:
        blob = json.dumps(response, ensure_ascii=False, separators=(",", ":"))
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO responses (key, model, created, response) VALUES (?, ?, ?, ?)",
                (key, model, time.time(), blob),
            )

    def claim(self, key: str, ttl_s: float) -> bool:
        """Take the right to send `key`'s request (False: another live process holds it).

        A claim expires after `ttl_s`; one held by a process of this machine that is gone (killed
        mid-request) is taken over at once.
        """
        now = time.time()
        with self._lock:
            self._db.execute("DELETE FROM claims WHERE key = ? AND expires < ?", (key, now))
            row = self._db.execute("SELECT owner FROM claims WHERE key = ?", (key,)).fetchone()
            if row is not None and row[0] != self.owner and _dead_here(str(row[0])):
                self._db.execute("DELETE FROM claims WHERE key = ? AND owner = ?", (key, row[0]))
            cur = self._db.execute(
                "INSERT OR IGNORE INTO claims (key, owner, expires) VALUES (?, ?, ?)", (key, self.owner, now + ttl_s)
            )
            if cur.rowcount == 1:
                return True
            row = self._db.execute("SELECT owner FROM claims WHERE key = ?", (key,)).fetchone()
        return row is not None and row[0] == self.owner

    def release(self, key: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM claims WHERE key = ? AND owner = ?", (key, self.owner))

    def wait_for(self, key: str, timeout_s: float, poll_s: float = 0.05) -> dict[str, Any] | None:
        """The answer another process is fetching, once it lands (None when it did not in time)."""
        deadline = time.monotonic() + timeout_s
        while True:
            hit = self.get(key)
            if hit is not None:
                return hit
            with self._lock:
                held = self._db.execute("SELECT 1 FROM claims WHERE key = ?", (key,)).fetchone()
            if held is None or time.monotonic() >= deadline:
                return None
            time.sleep(poll_s)

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
