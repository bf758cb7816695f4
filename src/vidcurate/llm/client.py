"""An async client for OpenAI-compatible chat completions (vLLM, SGLang, Ollama, hosted APIs).

Calls are slow, cost money and fail transiently, so this is where the care goes:

- at most `concurrency` requests in flight (a semaphore held only while a request is on the wire);
- retries with exponential backoff and jitter on 429 (honouring Retry-After / retry-after-ms),
  408, 5xx, timeouts, dropped connections and unreadable bodies; a total deadline per request;
- 400 and other client errors fail the row at once; 401/403/404 stop the stage with one line
  (a wrong key, model or URL would fail every row the same way);
- answers go to the on-disk cache before anyone reads them; identical requests in flight at the
  same time are sent once;
- structured output: ask for JSON (`response_format` where the server takes it, plus instructions),
  validate with a pydantic model, one repair request, then a row error.

The key goes in the Authorization header only; it is never part of a message, key or log line.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import random
import ssl
import time
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from vidcurate.core.errors import ConfigError, RowError
from vidcurate.llm.cache import ResponseCache, cache_key
from vidcurate.llm.options import LLMOptions
from vidcurate.llm.structured import (
    json_instructions,
    json_schema,
    mentions_format,
    message_text,
    parse_model,
    with_instructions,
)
from vidcurate.llm.usage import Tally, Usage

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

RETRY_STATUS = {408, 409, 425, 429}
REDACTED = "[redacted]"


class LLMError(RowError):
    """A request that failed for this row (after retries, or at once for a client error)."""


class _Retryable(Exception):
    def __init__(self, kind: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.retry_after = retry_after


class _FormatRejected(Exception):
    """The server refused `response_format`; the caller retries without it."""


@dataclass(frozen=True)
class ChatResult:
    content: str
    finish_reason: str | None
    cached: bool
    prompt_tokens: int = 0
    completion_tokens: int = 0


def retry_after_s(headers: httpx.Headers) -> float | None:
    """Seconds the server asks us to wait: `retry-after-ms`, or `Retry-After` as seconds or a date."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    ra = headers.get("retry-after")
    if not ra:
        return None
    try:
        return max(0.0, float(ra))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(ra)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _error_text(resp: httpx.Response) -> str:
    """The server's error message, short and on one line."""
    try:
        data = resp.json()
        err = data.get("error", data) if isinstance(data, dict) else data
        msg = err.get("message", err) if isinstance(err, dict) else err
        text = msg if isinstance(msg, str) else json.dumps(msg)
    except (ValueError, AttributeError):
        text = resp.text
    text = " ".join(text.split())
    return text[:300] + ("..." if len(text) > 300 else "")


class ChatClient:
    """One endpoint, one model. Create and use it on one event loop (see `EventLoopThread`)."""

    def __init__(self, options: LLMOptions, *, cache: ResponseCache | None = None, usage: Usage | None = None) -> None:
        self.options = options
        self.url = options.endpoint() + "/chat/completions"
        self.cache = cache
        self.usage = usage if usage is not None else Usage()
        self._sem = asyncio.Semaphore(options.concurrency)
        self._inflight: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._format_rejected = False
        self._headers = {"Content-Type": "application/json"}
        key = options.key()
        self._secrets = [s for s in (key, f"Bearer {key}" if key else None) if s]
        if key:
            self._headers["Authorization"] = f"Bearer {key}"
        # One single-connection client per request slot, reused (keep-alive), instead of one
        # shared pool: httpx's pool scans every connection on every event, which at 32+
        # connections costs more CPU than the requests themselves. One TLS context for all.
        self._tls: ssl.SSLContext | bool = httpx.create_ssl_context() if self.url.startswith("https:") else False
        self._idle: list[httpx.AsyncClient] = []
        self._all: list[httpx.AsyncClient] = []

    def _slot_client(self) -> httpx.AsyncClient:
        if self._idle:
            return self._idle.pop()
        t = self.options.timeout_s
        http = httpx.AsyncClient(
            headers=self._headers,
            verify=self._tls,
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
            timeout=httpx.Timeout(t, connect=t),
        )
        self._all.append(http)
        return http

    def redact(self, text: str) -> str:
        """`text` without this client's key (a proxy may echo the Authorization header back)."""
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, REDACTED)
        return text

    async def aclose(self) -> None:
        for http in self._all:
            await http.aclose()
        self._all.clear()
        self._idle.clear()

    # -- plain chat ---------------------------------------------------------------------------

    async def chat(
        self,
        messages: list[dict[str, Any]],
        *,
        tally: Tally | None = None,
        response_format: dict[str, Any] | None = None,
        optional_format: bool = False,
    ) -> ChatResult:
        """One chat completion (cached). `optional_format`: drop `response_format` if the server refuses it."""
        tally = tally if tally is not None else Tally()
        body: dict[str, Any] = {"model": self.options.model, "messages": messages, **self.options.sampling()}
        if response_format is not None and not (optional_format and self._format_rejected):
            body["response_format"] = response_format
        try:
            data, cached = await self._complete(body, tally, optional_format)
        except _FormatRejected:
            self._format_rejected = True
            body.pop("response_format", None)
            data, cached = await self._complete(body, tally, False)
        content, finish = message_text(data)
        usage = data.get("usage") or {}
        pt = int(usage.get("prompt_tokens") or 0) if not cached else 0
        ct = int(usage.get("completion_tokens") or 0) if not cached else 0
        tally.prompt_tokens += pt
        tally.completion_tokens += ct
        return ChatResult(content, finish, cached, pt, ct)

    async def _complete(self, body: dict[str, Any], tally: Tally, optional_format: bool) -> tuple[dict[str, Any], bool]:
        key = cache_key(body)
        if self.cache is not None:
            hit = self.cache.get(key)
            if hit is not None:
                tally.cache_hits += 1
                self.usage.cache_hits += 1
                return hit, True
        pending = self._inflight.get(key)
        if pending is not None:  # the same request is on the wire for another row: wait for it
            data = await asyncio.shield(pending)
            tally.cache_hits += 1
            self.usage.cache_hits += 1
            return data, True
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._inflight[key] = fut
        try:
            data, cached = await self._claimed(key, body, tally, optional_format)
            fut.set_result(data)
            return data, cached
        except asyncio.CancelledError:
            fut.cancel()
            raise
        except BaseException as e:
            fut.set_exception(e)
            fut.exception()  # mark retrieved: nobody may be waiting
            raise
        finally:
            self._inflight.pop(key, None)

    async def _claimed(
        self, key: str, body: dict[str, Any], tally: Tally, optional_format: bool
    ) -> tuple[dict[str, Any], bool]:
        """Send the request unless another worker process is already sending it (then take its answer).

        The claim lives in the shared cache file; a claim whose owner died expires after the
        longest a request may take, and the request is then sent here.
        """
        cache = self.cache
        o = self.options
        ttl = o.timeout_s * (o.max_retries + 1) + o.backoff_max_s * o.max_retries
        while cache is not None and not await asyncio.to_thread(cache.claim, key, ttl):
            hit = await asyncio.to_thread(cache.wait_for, key, min(ttl, 5.0))
            if hit is not None:
                tally.cache_hits += 1
                self.usage.cache_hits += 1
                return hit, True
        try:
            data = await self._post(body, tally, optional_format, key)
            if cache is not None:
                cache.put(key, o.model, data)
            return data, False
        finally:
            if cache is not None:
                cache.release(key)

    async def _post(self, body: dict[str, Any], tally: Tally, optional_format: bool, key: str = "") -> dict[str, Any]:
        o = self.options
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self._attempt(body, tally, optional_format, key)
            except _Retryable as e:
                if attempt > o.max_retries:
                    msg = self.redact(f"gave up after {attempt} attempts at {self.url}: {e.message}")
                    raise LLMError(e.kind, msg) from None
                tally.retries += 1
                self.usage.retries += 1
                self.usage.retry_reasons[e.kind] += 1
                await asyncio.sleep(self._delay(attempt, e.retry_after))

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        """Exponential backoff with jitter (half fixed, half random); never shorter than Retry-After."""
        o = self.options
        d = min(o.backoff_max_s, o.backoff_s * 2 ** (attempt - 1))
        d = d / 2 + random.uniform(0, d / 2)
        if retry_after is not None:
            d = max(d, min(retry_after, o.backoff_max_s))
        return d

    async def _attempt(self, body: dict[str, Any], tally: Tally, optional_format: bool, key: str) -> dict[str, Any]:
        o = self.options
        async with self._sem:
            if key and self.cache is not None:  # answered elsewhere while this request waited for a slot
                hit = await asyncio.to_thread(self.cache.get, key)
                if hit is not None:
                    return hit
            tally.calls += 1
            self.usage.calls += 1
            http = self._slot_client()
            try:
                resp = await asyncio.wait_for(http.post(self.url, json=body), o.timeout_s)
            except (asyncio.TimeoutError, httpx.TimeoutException):
                raise _Retryable("timeout", f"no answer within {o.timeout_s:g} s") from None
            except httpx.TransportError as e:
                why = self.redact(str(e) or "dropped")
                raise _Retryable("connection", f"connection failed ({type(e).__name__}: {why})") from None
            finally:
                self._idle.append(http)
        status = resp.status_code
        if status == 200:
            size = len(resp.content)
            if size > o.max_answer_kb * 1024:
                raise LLMError("too_large", f"the answer is {size // 1024} kB, over max_answer_kb {o.max_answer_kb}")
            try:
                data = resp.json()
                message_text(data)
            except ValueError as e:
                raise _Retryable("bad_response", f"unreadable response ({e})") from None
            self.usage.ok += 1
            u = data.get("usage") or {}
            self.usage.prompt_tokens += int(u.get("prompt_tokens") or 0)
            self.usage.completion_tokens += int(u.get("completion_tokens") or 0)
            return data
        text = self.redact(_error_text(resp))
        if status == 429:
            raise _Retryable("rate_limited", f"rate limited (429): {text}", retry_after_s(resp.headers))
        if status >= 500 or status in RETRY_STATUS:
            raise _Retryable("server_error", f"HTTP {status}: {text}", retry_after_s(resp.headers))
        if status in (401, 403):
            raise ConfigError(
                f"{self.url} refused the request ({status}: {text}); check the API key in ${o.api_key_env}"
            )
        if status == 404:
            raise ConfigError(f"{self.url} answered 404 for model '{o.model}' ({text}); check base_url and model")
        if status == 400 and optional_format and "response_format" in body and mentions_format(text):
            raise _FormatRejected()
        raise LLMError(f"http_{status}", f"the server refused this request (HTTP {status}): {text}")

    # -- structured output --------------------------------------------------------------------

    async def chat_model(
        self,
        messages: list[dict[str, Any]],
        model: type[M],
        *,
        tally: Tally | None = None,
        mode: str = "auto",
    ) -> M:
        """Ask for JSON matching `model`; one repair request on an invalid answer, then a row error."""
        tally = tally if tally is not None else Tally()
        msgs = with_instructions(messages, json_instructions(model))
        rf: dict[str, Any] | None = None
        if mode in ("auto", "json_object"):
            rf = {"type": "json_object"}
        elif mode == "json_schema":
            rf = {
                "type": "json_schema",
                "json_schema": {"name": model.__name__, "schema": json_schema(model), "strict": True},
            }
        first = await self.chat(msgs, tally=tally, response_format=rf, optional_format=mode == "auto")
        try:
            return parse_model(first.content, model)
        except ValueError as e:
            problem = str(e)
        tally.repairs += 1
        self.usage.repairs += 1
        repair = [
            *msgs,
            {"role": "assistant", "content": first.content},
            {
                "role": "user",
                "content": f"That answer is not valid: {problem}. Reply with only the corrected JSON object.",
            },
        ]
        second = await self.chat(repair, tally=tally, response_format=rf, optional_format=mode == "auto")
        try:
            return parse_model(second.content, model)
        except ValueError as e:
            why = self.redact(str(e))
            raise LLMError(
                "invalid_output", f"the answer is not a valid {model.__name__} even after one repair request: {why}"
            ) from None
