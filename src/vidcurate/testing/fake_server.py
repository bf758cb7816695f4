"""A small OpenAI-compatible chat server for tests, benchmarks and offline dry runs of recipes.

It answers deterministically, injects faults on request, and counts what it sees:

- faults are asked for inside the prompt text as `[[fault:429*2,500]]`: the first two attempts of
  that conversation get 429 (with Retry-After), the third a 500, later ones a normal answer.
  Kinds: 429, 500, 503, 400, slow (answers after `slow_s`), badjson (a 200 whose body is not JSON),
  truncated (the body stops short of its Content-Length), reset (TCP reset, no answer),
  badcontent (valid HTTP, content not JSON), empty (empty content), hang (never answers),
  echo (a 400 whose message repeats the request's Authorization header, as a careless proxy
  does), huge (a 2 MB answer).
  Attempts are counted per conversation root (the messages up to the first user message), so a
  repair request continues the count of the request it repairs.
- counters: requests received, answered (`ok`), status codes, faults injected, requests in
  flight and the most ever in flight, and a record per request with the images' sizes and the
  frame indices read from `synth.counter` frames.
- `block()` holds every new request (they are never answered) until `unblock()`; a client that
  goes away while its request waits is noticed, the way vLLM aborts a disconnected request.

Run standalone: `python -m vidcurate.testing.fake_server --port 8000 --latency 0.2`.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vidcurate.testing.fake_llm import (
    FAULT,
    Request,
    counter_of,
    decode_image,
    default_answer,
    image_change,
    parse_faults,
)


def _http(status: int, body: bytes, headers: dict[str, str] | None = None) -> bytes:
    reason = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 429: "Too Many Requests"}
    lines = [f"HTTP/1.1 {status} {reason.get(status, 'Error')}", "Content-Type: application/json"]
    lines += [f"Content-Length: {len(body)}", *(f"{k}: {v}" for k, v in (headers or {}).items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _error(status: int, message: str) -> bytes:
    return json.dumps({"error": {"message": message, "type": "fake", "code": status}}).encode()


@dataclass
class FakeServer:
    """The server, run on its own event loop in a thread. Use as a context manager."""

    latency_s: float = 0.0
    slow_s: float = 5.0
    retry_after: str = "1"
    reject_response_format: bool = False
    api_key: str | None = None  # when set, other keys get 401
    model: str | None = None  # when set, other model names get 404 (as vLLM answers)
    responder: Callable[[Request], str] = default_answer
    host: str = "127.0.0.1"
    port: int = 0
    keep_records: int = 10_000
    admit: int | None = None  # answer only this many more requests, then hold the rest (see block())
    received: int = 0
    ok: int = 0  # proper answers delivered (200 with a readable completion)
    in_flight: int = 0
    max_in_flight: int = 0
    abandoned: int = 0  # requests whose client went away before the answer
    statuses: Counter[int] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    records: list[Request] = field(default_factory=list)
    answers: Counter[str] = field(default_factory=Counter)  # proper answers per conversation root
    _attempts: Counter[str] = field(default_factory=Counter)

    # -- lifecycle ------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def __enter__(self) -> FakeServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fake-llm", daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)

    async def _start(self) -> None:
        self._gate = asyncio.Event()
        self._gate.set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._server = await asyncio.start_server(self._serve, self.host, self.port, limit=1 << 22)
        self.port = self._server.sockets[0].getsockname()[1]

    def stop(self) -> None:
        if getattr(self, "_loop", None) is None or self._loop.is_closed():
            return
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    async def _stop(self) -> None:
        self._server.close()
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def block(self) -> None:
        """Hold every request from now on (never answered) until `unblock()`."""
        self._loop.call_soon_threadsafe(self._gate.clear)

    def unblock(self) -> None:
        self.admit = None
        self._loop.call_soon_threadsafe(self._gate.set)

    def reset(self) -> None:
        """Zero the counters and records (fault attempt counts too)."""
        self.received = self.ok = self.max_in_flight = self.abandoned = 0
        self.statuses.clear()
        self.faults.clear()
        self.records.clear()
        self.answers.clear()
        self._attempts.clear()

    def wait_until(self, pred: Callable[[FakeServer], bool], timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if pred(self):
                return True
            time.sleep(0.01)
        return pred(self)

    # -- HTTP -----------------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = [*lines[0].split(" ", 2), "", ""][:3]
                headers = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:] if x)}
                try:
                    body = await reader.readexactly(int(headers.get("content-length", "0") or 0))
                except (asyncio.IncompleteReadError, ConnectionError, ValueError):
                    return
                keep = await self._handle(method, path, headers, body, reader, writer)
                if not keep or headers.get("connection", "").lower() == "close":
                    return
        except asyncio.CancelledError:
            pass
        finally:
            self._tasks.discard(task)
            if not writer.is_closing():
                writer.transport.abort()

    async def _wait(self, reader: asyncio.StreamReader, what: Any) -> bool:
        """Await `what` unless the client disconnects first (then False)."""
        gone = asyncio.ensure_future(reader.read(1))
        job = asyncio.ensure_future(what)
        done, _ = await asyncio.wait({gone, job}, return_when=asyncio.FIRST_COMPLETED)
        if job in done:
            gone.cancel()
            await asyncio.gather(gone, return_exceptions=True)  # let the read let go of the stream
            return True
        job.cancel()
        await asyncio.gather(job, return_exceptions=True)
        return False

    async def _handle(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        raw: bytes,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> bool:
        if method == "GET" and path.rstrip("/").endswith("/models"):
            served = [{"id": self.model, "object": "model"}] if self.model else []  # none named: any is served
            writer.write(_http(200, json.dumps({"object": "list", "data": served}).encode()))
            await writer.drain()
            return True
        if method != "POST" or path.split("?")[0].rstrip("/") not in ("/v1/chat/completions", "/chat/completions"):
            writer.write(_http(404, _error(404, f"no route {method} {path}")))
            await writer.drain()
            return True
        self.received += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self._chat(headers, raw, reader, writer)
        finally:
            self.in_flight -= 1

    async def _chat(
        self, headers: dict[str, str], raw: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        try:
            body = json.loads(raw)
            req = self._parse(body, headers.get("authorization"))
        except (ValueError, KeyError, TypeError) as e:
            return await self._send(writer, 400, _error(400, f"bad request body: {e}"))
        if len(self.records) < self.keep_records:
            self.records.append(req)
        if self.admit is not None:
            if self.admit <= 0:
                self._gate.clear()
            else:
                self.admit -= 1
        if not self._gate.is_set():
            await self._wait(reader, self._gate.wait())
            self.abandoned += 1  # a held request is never answered: its client was killed or gave up
            return False
        if self.api_key is not None and req.authorization != f"Bearer {self.api_key}":
            return await self._send(writer, 401, _error(401, "invalid api key"))
        if self.model is not None and body.get("model") != self.model:
            return await self._send(writer, 404, _error(404, f"The model `{body.get('model')}` does not exist."))
        if self.reject_response_format and "response_format" in body:
            return await self._send(writer, 400, _error(400, "response_format is not supported by this server"))
        if self.latency_s and not await self._wait(reader, asyncio.sleep(self.latency_s)):
            self.abandoned += 1
            return False
        fault = req.fault
        if fault:
            self.faults[fault] += 1
        if fault in ("429", "500", "503", "400"):
            extra = {"Retry-After": self.retry_after} if fault == "429" else None
            return await self._send(writer, int(fault), _error(int(fault), f"injected {fault}"), extra)
        if fault == "echo":
            return await self._send(writer, 400, _error(400, f"bad request from {headers.get('authorization')}"))
        if fault == "reset":
            sock = writer.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
            return False
        if fault == "hang":
            await self._wait(reader, asyncio.Event().wait())
            self.abandoned += 1
            return False
        if fault == "slow" and not await self._wait(reader, asyncio.sleep(self.slow_s)):
            self.abandoned += 1
            return False
        if fault == "badjson":
            return await self._send(writer, 200, b'{"id": "chatcmpl-bad", "choices": [{"message": ')
        content = {"badcontent": "I think it is dynamic, yes.", "empty": "", "huge": "x" * 2_000_000}.get(fault or "")
        if content is None:
            content = self.responder(req)
        answer = self._completion(req, content)
        if fault == "truncated":
            writer.write(_http(200, answer)[: -len(answer) // 2])
            await writer.drain()
            writer.transport.abort()
            return False
        return await self._send(writer, 200, answer, answer_of=req.root)

    async def _send(
        self, writer: asyncio.StreamWriter, status: int, body: bytes, extra: Any = None, *, answer_of: str = ""
    ) -> bool:
        """Write a response; counters first, so a client never sees an answer the counts lack."""
        self.statuses[status] += 1
        if answer_of:
            self.ok += 1
            self.answers[answer_of] += 1
        writer.write(_http(status, body, extra))
        try:
            await writer.drain()
        except ConnectionError:
            return False
        return True

    def _parse(self, body: dict[str, Any], authorization: str | None) -> Request:
        texts: list[str] = []
        decoded: list[np.ndarray | None] = []
        videos: list[str] = []
        messages = body["messages"]
        root_end = len(messages)
        for i, m in enumerate(messages):
            if m.get("role") == "user":
                root_end = i + 1
                break
        for m in messages[:root_end]:
            content = m.get("content")
            parts: list[dict[str, Any]] = (
                [{"type": "text", "text": content}] if isinstance(content, str) else content or []
            )
            for p in parts:
                if p.get("type") == "text":
                    texts.append(p["text"])
                elif p.get("type") == "image_url":
                    decoded.append(decode_image(p["image_url"]["url"]))
                elif p.get("type") == "video_url":
                    videos.append(p["video_url"]["url"])
        root = hashlib.sha1(json.dumps([body.get("model"), messages[:root_end]], sort_keys=True).encode()).hexdigest()
        attempt = self._attempts[root]
        self._attempts[root] += 1
        plan: list[str] = []
        for spec in FAULT.findall("\n".join(texts)):
            plan += parse_faults(spec)
        fault = plan[attempt] if attempt < len(plan) else None
        sizes = [(0, 0) if d is None else (int(d.shape[1]), int(d.shape[0])) for d in decoded]
        counters = [counter_of(d) for d in decoded]
        return Request(body, authorization, texts, sizes, counters, videos, image_change(decoded), root, fault, attempt)

    def _completion(self, req: Request, content: str) -> bytes:
        prompt_tokens = sum(len(t.split()) for t in req.texts) + 85 * len(req.images)
        completion_tokens = len(content.split())
        return json.dumps(
            {
                "id": f"chatcmpl-{self.received}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": req.body.get("model", "fake"),
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
                ],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                },
            }
        ).encode()


def main() -> None:
    ap = argparse.ArgumentParser(description="A fake OpenAI-compatible chat server (deterministic answers).")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    args = ap.parse_args()
    srv = FakeServer(latency_s=args.latency, host=args.host, port=args.port)
    srv.start()
    print(f"READY {srv.url}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        srv.stop()


if __name__ == "__main__":
    main()
