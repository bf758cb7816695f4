"""What an export wrote and what it skipped: counts, a few examples, and every skip in a file.

Skipped rows stream to `<out>.skipped.jsonl` (never held in memory), each with its id and reason.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from vidcurate.io.fs import temp_sibling

SHOWN_SKIPS = 10


@dataclass
class ExportResult:
    written: int = 0
    skipped: Counter[str] = field(default_factory=Counter)  # reason kind -> count
    outputs: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skipped_file: Path | None = None
    examples: list[tuple[str, str]] = field(default_factory=list)  # first skips: (id, reason)

    @property
    def n_skipped(self) -> int:
        return sum(self.skipped.values())


class SkipLog:
    """Counts written rows and records skipped ones."""

    def __init__(self, limit: int | None, skipped_path: Path) -> None:
        self.limit = limit
        self.result = ExportResult()
        self._skipped_path = skipped_path
        self._tmp: Path | None = None
        self._fh: IO[str] | None = None

    @property
    def done(self) -> bool:
        return self.limit is not None and self.result.written >= self.limit

    def wanted(self, pending: int = 0) -> bool:
        """Whether another row should be started, counting rows already in flight."""
        return self.limit is None or self.result.written + pending < self.limit

    def ok(self) -> None:
        self.result.written += 1

    def skip(self, row_id: str, reason: str) -> None:
        kind = re.sub(r"[:(].*", "", reason).strip()[:60]
        self.result.skipped[kind] += 1
        if len(self.result.examples) < SHOWN_SKIPS:
            self.result.examples.append((row_id, reason))
        if self._fh is None:
            self._tmp = temp_sibling(self._skipped_path)
            self._fh = open(self._tmp, "w", encoding="utf-8")  # noqa: SIM115 - closed in finish()
        self._fh.write(json.dumps({"id": row_id, "reason": reason}, ensure_ascii=False) + "\n")

    def finish(self) -> ExportResult:
        from vidcurate.io.fs import publish_mode

        if self._fh is not None and self._tmp is not None:
            self._fh.close()
            publish_mode(self._tmp)
            self._tmp.replace(self._skipped_path)
            self.result.skipped_file = self._skipped_path
        else:
            with contextlib.suppress(FileNotFoundError):  # a stale list from an earlier run
                self._skipped_path.unlink()
        return self.result

    def abort(self) -> None:
        if self._fh is not None and self._tmp is not None:
            self._fh.close()
            with contextlib.suppress(FileNotFoundError):
                self._tmp.unlink()
