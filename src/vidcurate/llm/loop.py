"""A private event loop in a daemon thread, for synchronous callers of async clients."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class EventLoopThread:
    """A private event loop in a daemon thread, so a synchronous `process()` can run async work.

    Works where `asyncio.run` would not (inside Jupyter or another running loop), and keeps one
    HTTP connection pool alive across batches.
    """

    def __init__(self, name: str = "vidcurate-llm") -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def in_loop(self) -> bool:
        return threading.current_thread() is self._thread

    def close(self) -> None:
        if self.loop.is_closed():
            return
        if self.in_loop():  # collected from inside the loop: stop it, do not wait on ourselves
            self.loop.stop()
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self.loop.close()
