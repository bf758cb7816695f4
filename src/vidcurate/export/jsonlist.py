"""Stream a JSON list to disk one record per line, atomically (temp file renamed on success)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from types import TracebackType
from typing import TextIO

from vidcurate.io.fs import fsync_path, publish_mode, temp_sibling


class JsonListWriter:
    """`[\\n{...},\\n{...}\\n]\\n`: valid JSON that loaders read whole, written without holding it."""

    def __init__(self, dest: Path) -> None:
        self.dest = Path(dest)
        self.count = 0
        self._fh: TextIO | None = None
        self._tmp = ""

    def __enter__(self) -> JsonListWriter:
        self._tmp = str(temp_sibling(self.dest))
        self._fh = open(self._tmp, "w", encoding="utf-8")
        self._fh.write("[")
        return self

    def add(self, record_json: str) -> None:
        assert self._fh is not None
        self._fh.write(",\n" if self.count else "\n")
        self._fh.write(record_json)
        self.count += 1

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._fh is not None
        try:
            if exc_type is None:
                self._fh.write("\n]\n" if self.count else "]\n")
                self._fh.close()
                publish_mode(self._tmp)
                fsync_path(self._tmp)
                os.replace(self._tmp, self.dest)
        finally:
            if not self._fh.closed:
                self._fh.close()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._tmp)
