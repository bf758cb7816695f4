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
)
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


def cache_key(body: dict[str, Any]) -> str:
    """Stable key of a chat request body (images by content hash)."""
    blob = json.dumps(_strip_media(body), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class ResponseCache:
    """Thread-safe get/put of response JSON by key; one connection per instance."""

    def __init__(self, path: str | Path, *, busy_timeout_s: float = 60.0) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(
                str(self.path), timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(_SCHEMA)
        except sqlite3.Error as e:
            raise ConfigError(f"cannot open the LLM response cache {self.path}: {e}") from None
        self.hits = 0
        self.misses = 0

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

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
