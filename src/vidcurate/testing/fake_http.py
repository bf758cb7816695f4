"""A local HTTP file server with faults on demand, for the download stage's tests and benchmark.

Serves files from a folder on 127.0.0.1 (Range requests honoured) and, per path, a list of faults
consumed one request at a time: `drop` (send half the bytes, then close), `429` (with Retry-After),
`500`, `404`, `html` (an HTML page with status 200), `slow` (sleep longer than a client's timeout
before answering), `norange` (ignore Range). It counts requests per path and the most requests in
flight at once, which a per-host concurrency limit must respect.
"""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class FakeHTTP:
    def __init__(self, root: Path, *, retry_after: str = "1", slow_s: float = 3.0, latency_s: float = 0.0) -> None:
        self.root = Path(root)
        self.retry_after = retry_after
        self.slow_s = slow_s
        self.latency_s = latency_s
        self.faults: dict[str, list[str]] = {}
        self.requests: Counter[str] = Counter()
        self.ranges: list[tuple[str, str]] = []  # (path, Range header) of ranged requests
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def fault(self, path: str, *kinds: str) -> None:
        self.faults.setdefault(path.lstrip("/"), []).extend(kinds)

    def __enter__(self) -> FakeHTTP:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                fake._enter()
                try:
                    fake._serve(self)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout): fine
                    self.close_connection = True
                finally:
                    fake._leave()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def _enter(self) -> None:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def _leave(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def _next_fault(self, path: str) -> str | None:
        with self._lock:
            self.requests[path] += 1
            queue = self.faults.get(path)
            return queue.pop(0) if queue else None

    def _serve(self, h: BaseHTTPRequestHandler) -> None:
        path = h.path.split("?", 1)[0].lstrip("/")
        fault = self._next_fault(path)
        if self.latency_s:
            time.sleep(self.latency_s)
        if fault == "slow":
            time.sleep(self.slow_s)
        if fault in ("429", "500", "404"):
            body = f"error {fault}".encode()
            h.send_response(int(fault))
            if fault == "429":
                h.send_header("Retry-After", self.retry_after)
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            h.wfile.write(body)
            return
        if fault == "html":
            body = b"<!DOCTYPE html><html><body>This video is not available.</body></html>"
            h.send_response(200)
            h.send_header("Content-Type", "text/html")
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            h.wfile.write(body)
            return
        file = (self.root / path).resolve()
        if not file.is_file() or self.root.resolve() not in file.parents:
            h.send_response(404)
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        data = file.read_bytes()
        start, status = 0, 200
        rng = h.headers.get("Range")
        if rng and fault != "norange":
            with self._lock:
                self.ranges.append((path, rng))
            start = int(rng.split("=", 1)[1].split("-", 1)[0])
            status = 206
        part = data[start:]
        h.send_response(status)
        h.send_header("Content-Type", "video/mp4")
        h.send_header("Content-Length", str(len(part)))
        if status == 206:
            h.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        h.send_header("Accept-Ranges", "bytes")
        h.end_headers()
        if fault == "drop":
            h.wfile.write(part[: len(part) // 2])
            h.wfile.flush()
            h.close_connection = True
            h.connection.shutdown(socket.SHUT_RDWR)  # the rest never comes
            return
        h.wfile.write(part)
