"""The LLM client against a local fake OpenAI-compatible server: retries, limits, cache, JSON output."""

from __future__ import annotations

import asyncio
import email.utils
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from vidcurate.core.errors import ConfigError
from vidcurate.llm.cache import ResponseCache, cache_key
from vidcurate.llm.client import ChatClient, LLMError, retry_after_s
from vidcurate.llm.media import jpeg_data_url
from vidcurate.llm.options import LLMOptions, cache_file
from vidcurate.llm.structured import extract_json
from vidcurate.llm.usage import Tally, Usage
from vidcurate.stages.curate.motion import MotionVerdict
from vidcurate.testing.fake_server import FakeServer, default_answer

TIMEOUT = 0.5  # request deadline in these tests: short, with room for a busy 2-core machine


@pytest.fixture(scope="module")
def server() -> Iterator[FakeServer]:
    with FakeServer(slow_s=3.0, retry_after="0") as s:
        yield s


@pytest.fixture
def srv(server: FakeServer) -> FakeServer:
    server.reset()
    server.latency_s = 0.0
    server.reject_response_format = False
    server.responder = default_answer
    return server


def opts(url: str, **kw: Any) -> LLMOptions:
    base: dict[str, Any] = dict(
        model="m", base_url=url, timeout_s=TIMEOUT, backoff_s=0.01, backoff_max_s=0.05, cache=False
    )
    return LLMOptions(**{**base, **kw})


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


def run(o: LLMOptions, fn: Any, *, cache: ResponseCache | None = None, usage: Usage | None = None) -> Any:
    """Run `fn(client)` on a fresh loop with a fresh client."""

    async def go() -> Any:
        c = ChatClient(o, cache=cache, usage=usage)
        try:
            return await fn(c)
        finally:
            await c.aclose()

    return asyncio.run(go())


REASON = {
    "429": "rate_limited",
    "500": "server_error",
    "503": "server_error",
    "slow": "timeout",
    "badjson": "bad_response",
    "truncated": "connection",
    "reset": "connection",
}


@pytest.mark.parametrize("fault", list(REASON))
def test_transient_fault_is_retried_and_counted(srv: FakeServer, fault: str) -> None:
    usage, tally = Usage(), Tally()
    res = run(opts(srv.url), lambda c: c.chat(user(f"Caption: a dog runs [[fault:{fault}]]"), tally=tally), usage=usage)
    assert res.content.startswith("a dog runs") and not res.cached
    assert srv.faults[fault] == 1 and srv.received == 2 and srv.ok == 1
    assert (tally.calls, tally.retries) == (2, 1)
    assert usage.retry_reasons == {REASON[fault]: 1} and usage.calls == 2 and usage.ok == 1
    assert tally.prompt_tokens > 0 and tally.completion_tokens == len(res.content.split())


def test_retry_after_is_honoured(srv: FakeServer) -> None:
    srv.retry_after = "1"
    try:
        t0 = time.perf_counter()
        res = run(opts(srv.url, backoff_s=0.01, backoff_max_s=5), lambda c: c.chat(user("x [[fault:429]]")))
        waited = time.perf_counter() - t0
    finally:
        srv.retry_after = "0"
    assert res.content and srv.statuses[429] == 1 and srv.ok == 1
    assert 1.0 <= waited < 2.5, waited  # waited what the server asked, not the 10 ms backoff


def test_retry_after_forms() -> None:
    assert retry_after_s(httpx.Headers({"retry-after": "3"})) == 3.0
    assert retry_after_s(httpx.Headers({"retry-after-ms": "250", "retry-after": "3"})) == 0.25
    date = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 28 <= (retry_after_s(httpx.Headers({"retry-after": date})) or 0) <= 31
    assert retry_after_s(httpx.Headers({"retry-after": "soon"})) is None
    assert retry_after_s(httpx.Headers({})) is None


def test_backoff_is_exponential_with_jitter_and_capped() -> None:
    async def delays() -> list[list[float]]:
        c = ChatClient(LLMOptions(model="m", backoff_s=1.0, backoff_max_s=8.0))
        try:
            return [[c._delay(a, None) for _ in range(200)] for a in (1, 2, 3, 4, 6)] + [[c._delay(1, 5.0)]]
        finally:
            await c.aclose()

    d = asyncio.run(delays())
    for samples, (lo, hi) in zip(d[:5], [(0.5, 1), (1, 2), (2, 4), (4, 8), (4, 8)], strict=True):
        assert lo <= min(samples) and max(samples) <= hi
        assert len(set(samples)) > 100  # jittered, so many clients do not retry in lockstep
    assert d[5][0] >= 5.0  # never sooner than Retry-After


def test_permanent_failure_gives_up_after_max_retries(srv: FakeServer) -> None:
    with pytest.raises(LLMError, match="gave up after 4 attempts") as e:
        run(opts(srv.url, max_retries=3), lambda c: c.chat(user("x [[fault:500*50]]")))
    assert e.value.kind == "server_error" and srv.received == 4 and srv.ok == 0


def test_timeouts_exhausted_say_so(srv: FakeServer) -> None:
    with pytest.raises(LLMError, match=r"no answer within 0.5 s") as e:
        run(opts(srv.url, max_retries=1), lambda c: c.chat(user("x [[fault:slow*5]]")))
    assert e.value.kind == "timeout" and srv.received == 2
    # the server saw the client go away and stopped working on it
    assert srv.wait_until(lambda s: s.abandoned == 2 and s.in_flight == 0, 3)


def test_client_error_fails_at_once(srv: FakeServer) -> None:
    with pytest.raises(LLMError, match=r"HTTP 400.*injected 400") as e:
        run(opts(srv.url), lambda c: c.chat(user("x [[fault:400]]")))
    assert e.value.kind == "http_400" and srv.received == 1


def test_unreachable_server_is_a_row_error_after_retries() -> None:
    with pytest.raises(LLMError, match="connection failed") as e:
        run(opts("http://127.0.0.1:9", max_retries=1), lambda c: c.chat(user("x")))
    assert e.value.kind == "connection"


def test_wrong_key_stops_with_one_line_and_the_key_never_leaks(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "sk-test-5ecret-never-print"
    monkeypatch.setenv("MY_LLM_KEY", secret)
    with FakeServer(api_key="right-key") as s:
        o = opts(s.url, api_key_env="MY_LLM_KEY")
        with pytest.raises(ConfigError) as e:
            run(o, lambda c: c.chat(user("hi")))
        assert "$MY_LLM_KEY" in str(e.value) and secret not in str(e.value)
        assert s.records[0].authorization == f"Bearer {secret}"
        monkeypatch.setenv("MY_LLM_KEY", "right-key")
        assert run(o, lambda c: c.chat(user("Caption: ok"))).content == "ok Rewritten."
    assert secret not in caplog.text
    with_key = LLMOptions(model="m", api_key=secret)  # type: ignore[arg-type]
    assert secret not in repr(with_key) and secret not in json.dumps(with_key.model_dump(mode="json"))
    assert with_key.key() == secret


def test_unknown_model_or_route_is_a_config_error() -> None:
    with FakeServer(model="served") as s:
        with pytest.raises(ConfigError, match=r"404 for model 'm'.*does not exist"):
            run(opts(s.url), lambda c: c.chat(user("x")))
        with pytest.raises(ConfigError, match="check base_url and model"):
            run(opts(s.url.removesuffix("/v1") + "/nope", model="served"), lambda c: c.chat(user("x")))
        assert s.received == 1  # the wrong route never reached the chat handler


def test_concurrency_limit_is_never_exceeded(srv: FakeServer) -> None:
    srv.latency_s = 0.1

    async def many(c: ChatClient) -> list[Any]:
        jobs = [c.chat(user(f"q{i}" + (" [[fault:500]]" if i % 5 == 0 else ""))) for i in range(24)]
        return await asyncio.gather(*jobs)

    t0 = time.perf_counter()
    out = run(opts(srv.url, concurrency=4, timeout_s=2), many)
    elapsed = time.perf_counter() - t0
    assert len(out) == 24 and srv.ok == 24 and srv.statuses[500] == 5
    assert srv.max_in_flight == 4  # reached, never exceeded
    assert elapsed >= 29 * 0.1 / 4 * 0.9  # 29 requests of 0.1 s, 4 at a time


def test_cache_hits_across_clients_and_keys(srv: FakeServer, tmp_path: Path) -> None:
    cache_path = tmp_path / "c" / "llm.sqlite"
    cache_path.parent.mkdir()
    msgs = user("Caption: a cat sits")

    def ask(o: LLMOptions, m: list[dict[str, Any]] = msgs) -> Any:
        cache = ResponseCache(cache_path)
        try:
            return run(o, lambda c: c.chat(m), cache=cache)
        finally:
            cache.close()

    first = ask(opts(srv.url))
    again = ask(opts(srv.url))  # a new client and connection, as after a restart
    assert not first.cached and again.cached and again.content == first.content
    assert srv.received == 1 and again.prompt_tokens == 0  # nothing paid for the hit
    ask(opts(srv.url, temperature=0.7))
    ask(opts(srv.url, model="other"))
    assert srv.received == 3  # sampling params and model are part of the key
    assert ask(opts(srv.url, base_url=srv.url.replace("127.0.0.1", "localhost"))).cached  # the URL is not


def test_images_are_keyed_by_content() -> None:
    img = np.zeros((16, 16, 3), np.uint8)
    other = img.copy()
    other[3, 3] = 255

    def body(a: np.ndarray) -> dict[str, Any]:
        url = jpeg_data_url(a, 90)
        part = {"type": "image_url", "image_url": {"url": url}}
        return {"model": "m", "messages": [{"role": "user", "content": [part, {"type": "text", "text": "d"}]}]}

    assert cache_key(body(img)) == cache_key(body(img.copy()))
    assert cache_key(body(img)) != cache_key(body(other))


def test_identical_requests_in_flight_are_sent_once(srv: FakeServer) -> None:
    srv.latency_s = 0.1
    tallies = [Tally() for _ in range(5)]

    async def same(c: ChatClient) -> list[Any]:
        return await asyncio.gather(*(c.chat(user("Caption: same"), tally=t) for t in tallies))

    out = run(opts(srv.url, timeout_s=2), same)
    assert {r.content for r in out} == {"same Rewritten."} and srv.received == 1
    assert sorted(t.calls for t in tallies) == [0, 0, 0, 0, 1] and sum(t.cache_hits for t in tallies) == 4


def test_cache_is_safe_under_concurrent_writers(tmp_path: Path) -> None:
    path = tmp_path / "llm.sqlite"
    shared = ResponseCache(path)
    second = ResponseCache(path)  # another worker process's connection to the same file
    errors: list[BaseException] = []

    def writer(cache: ResponseCache, t: int) -> None:
        try:
            for i in range(50):
                cache.put(f"{t}-{i}", "m", {"choices": [{"message": {"content": f"{t}/{i}"}}]})
                assert cache.get(f"{t}-{i}") is not None
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(shared if t % 2 else second, t)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors and len(shared) == 400
    assert shared.get("7-49") == {"choices": [{"message": {"content": "7/49"}}]}
    with sqlite3.connect(path) as db:  # committed: another process sees every row
        assert db.execute("SELECT COUNT(*) FROM responses").fetchone()[0] == 400
    shared.close()
    second.close()


def test_cache_location(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("VIDCURATE_CACHE", raising=False)
    assert LLMOptions(model="m").resolved_cache_path() == tmp_path / ".vidcurate-cache" / "llm.sqlite"
    monkeypatch.setenv("VIDCURATE_CACHE", str(tmp_path / "shared"))
    assert LLMOptions(model="m").resolved_cache_path() == tmp_path / "shared" / "llm.sqlite"
    assert cache_file(tmp_path / "x.db") == tmp_path / "x.db"
    assert LLMOptions(model="m", cache=False).resolved_cache_path() is None


# -- structured output ---------------------------------------------------------------------------


def test_structured_answer_is_validated(srv: FakeServer) -> None:
    v = run(opts(srv.url), lambda c: c.chat_model(user("Caption: a dog runs"), MotionVerdict))
    assert isinstance(v, MotionVerdict) and v.is_dynamic is True
    body = srv.records[0].body
    assert body["response_format"] == {"type": "json_object"}
    assert '"is_dynamic"' in body["messages"][-1]["content"]  # the schema is in the instructions


def test_json_schema_mode_sends_the_schema(srv: FakeServer) -> None:
    v = run(opts(srv.url), lambda c: c.chat_model(user("Caption: a lake"), MotionVerdict, mode="json_schema"))
    rf = srv.records[0].body["response_format"]
    assert v.is_dynamic is False and rf["type"] == "json_schema"
    assert rf["json_schema"]["name"] == "MotionVerdict"
    assert rf["json_schema"]["schema"]["required"] == ["is_dynamic", "reason"]


def test_invalid_answer_gets_one_repair_request(srv: FakeServer) -> None:
    tally = Tally()
    v = run(
        opts(srv.url),
        lambda c: c.chat_model(user("Caption: a dog runs [[fault:badcontent]]"), MotionVerdict, tally=tally),
    )
    assert v.is_dynamic is True and srv.received == 2 and tally.repairs == 1
    repair = srv.records[1].body["messages"]
    assert repair[-2] == {"role": "assistant", "content": "I think it is dynamic, yes."}
    assert "not valid" in repair[-1]["content"] and "no JSON object" in repair[-1]["content"]


def test_invalid_after_repair_is_a_row_error(srv: FakeServer) -> None:
    with pytest.raises(LLMError, match="not a valid MotionVerdict even after one repair") as e:
        run(opts(srv.url), lambda c: c.chat_model(user("Caption: x [[fault:badcontent*2]]"), MotionVerdict))
    assert e.value.kind == "invalid_output" and srv.received == 2


def test_schema_mismatch_is_repaired(srv: FakeServer) -> None:
    answers = iter(['{"is_dynamic": "sometimes"}', '{"is_dynamic": false, "reason": "a still lake"}'])
    srv.responder = lambda req: next(answers)
    v = run(opts(srv.url), lambda c: c.chat_model(user("Caption: a lake"), MotionVerdict))
    assert v == MotionVerdict(is_dynamic=False, reason="a still lake")
    assert "is_dynamic" in srv.records[1].body["messages"][-1]["content"]  # the repair names the problem


def test_response_format_falls_back_when_refused(srv: FakeServer) -> None:
    srv.reject_response_format = True

    async def two(c: ChatClient) -> list[MotionVerdict]:
        return [await c.chat_model(user(f"Caption: a dog runs {i}"), MotionVerdict) for i in range(2)]

    out = run(opts(srv.url), two)
    assert [v.is_dynamic for v in out] == [True, True]
    assert ["response_format" in r.body for r in srv.records] == [True, False, False]  # remembered
    srv.reset()
    with pytest.raises(LLMError, match="response_format is not supported"):
        run(opts(srv.url), lambda c: c.chat_model(user("Caption: x"), MotionVerdict, mode="json_object"))


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ('{"a": 1}', {"a": 1}),
        ('```json\n{"a": 2}\n```', {"a": 2}),
        ('<think>maybe {"a": 0}?</think>\n{"a": 3}', {"a": 3}),
        ('Sure, here it is: {"a": 4} Hope this helps.', {"a": 4}),
    ],
)
def test_extract_json(text: str, want: dict[str, int]) -> None:
    assert extract_json(text) == want


@pytest.mark.parametrize("text", ["no json here", '{"a": 1', "<think>{}</think>"])
def test_extract_json_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        extract_json(text)
