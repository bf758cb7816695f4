"""The base of every stage that calls an LLM: a synchronous `process(batch)` that runs the batch's
requests concurrently on a private event loop.

A subclass implements `async handle(row, tally) -> columns`. A `RowError` (or any exception) in
one row marks only that row, with the calls it made still counted in `llm_usage`; a `ConfigError`
(a refused key, an unknown model) stops the stage with one line. httpx is imported only in
`setup()`, so a light install can still load recipes that name these stages.
"""

from __future__ import annotations

import asyncio
import weakref
from abc import abstractmethod
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, ClassVar

import pyarrow as pa

from vidcurate.core import schema
from vidcurate.core.errors import ConfigError, RowError
from vidcurate.core.stage import Resources, Stage, StageConfig, _one_line, mark_error
from vidcurate.llm.options import LLMOptions
from vidcurate.llm.template import PromptTemplate
from vidcurate.llm.usage import COLUMN, Tally, Usage, append_entry, log

if TYPE_CHECKING:
    from vidcurate.llm.client import ChatClient, EventLoopThread


class _Runtime:
    """Loop thread + client + cache of one stage instance in one worker."""

    def __init__(self, options: LLMOptions, usage: Usage, threads: int) -> None:
        from vidcurate.llm.cache import ResponseCache
        from vidcurate.llm.client import ChatClient, EventLoopThread

        path = options.resolved_cache_path()
        self.cache = ResponseCache(path) if path is not None else None
        self.loop: EventLoopThread = EventLoopThread()
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="vidcurate-frames")

        async def make() -> ChatClient:
            return ChatClient(options, cache=self.cache, usage=usage)

        self.client: ChatClient = self.loop.run(make())
        self.closed = False

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            if not self.loop.in_loop():
                self.loop.run(self.client.aclose())
        finally:
            self.loop.close()
            self.pool.shutdown(wait=False)
            if self.cache is not None:
                self.cache.close()


class LLMStage(Stage):
    """Runs `handle` for every row of a batch, `concurrency` requests at a time."""

    Config: ClassVar[type[StageConfig]] = LLMOptions
    resources: ClassVar[Resources] = Resources(cpus=1.0)
    prompt_default: ClassVar[str] = ""

    def __init__(self, config: StageConfig | None = None) -> None:
        super().__init__(config)
        self.usage = Usage()
        self._rt: _Runtime | None = None
        ref = getattr(self.config, "prompt", None) or self.prompt_default
        self.template: PromptTemplate | None = PromptTemplate.load(ref) if ref else None

    @property
    def options(self) -> LLMOptions:
        return self.config  # type: ignore[return-value]

    def required_columns(self) -> tuple[str, ...]:
        extra = self.template.fields() if self.template is not None else ()
        return tuple(dict.fromkeys((*self.requires, *extra)))

    def setup(self) -> None:
        if self._rt is None:
            threads = int(getattr(self.config, "decode_threads", 2))
            try:
                self._rt = _Runtime(self.options, self.usage, threads)
            except ImportError as e:
                raise ConfigError(
                    f"stage '{self.name}' needs httpx ({e.name or e}): pip install 'vidcurate[llm]'"
                ) from None
            self._finalizer = weakref.finalize(self, self._rt.close)
            # rows holding prepared requests (e.g. encoded frames): bounds memory per batch
            self._prepared = asyncio.Semaphore(2 * self.options.concurrency)

    def close(self) -> None:
        """Release the loop thread, connections and cache (also done when the stage is collected)."""
        if self._rt is not None:
            self._rt = None
            self._finalizer()

    @property
    def client(self) -> ChatClient:
        assert self._rt is not None, "setup() first"
        return self._rt.client

    async def in_thread(self, fn: Any, *args: Any) -> Any:
        """Blocking work (decoding) off the event loop, on the stage's bounded thread pool."""
        assert self._rt is not None
        return await asyncio.get_running_loop().run_in_executor(self._rt.pool, fn, *args)

    @abstractmethod
    async def handle(self, row: dict[str, Any], tally: Tally) -> dict[str, Any]:
        """The columns this stage adds for one row; raise RowError for a row that cannot be done."""

    def empty_columns(self) -> dict[str, Any]:
        """Columns set on a failed row: none, so a value the row already had (a dataset's caption) is kept."""
        return {}

    def process(self, batch: pa.Table) -> pa.Table:
        self.setup()
        assert self._rt is not None
        rows = batch.to_pylist()
        before = (self.usage.calls, self.usage.cache_hits)
        out = self._rt.loop.run(self._all(rows))
        log.info(
            "%s (batch: %d rows, %d requests, %d cache hits)",
            self.usage.line(self.name),
            len(rows),
            self.usage.calls - before[0],
            self.usage.cache_hits - before[1],
        )
        return schema.from_rows(out, like=batch.schema)

    async def _all(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        tasks = [asyncio.ensure_future(self._one(r)) for r in rows]
        if not tasks:
            return []
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for t in done:
            if not t.cancelled() and t.exception() is not None:  # a ConfigError: stop the others and report it
                for p in pending:
                    p.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
                raise t.exception()  # type: ignore[misc]
        return [t.result() for t in tasks]

    async def _one(self, row: dict[str, Any]) -> dict[str, Any]:
        tally = Tally()
        self.usage.rows += 1
        try:
            cols = await self.handle(row, tally)
        except ConfigError:
            raise
        except RowError as e:
            self.usage.failed_rows += 1
            cols = {**self.empty_columns(), **mark_error(self.name, e.kind, e.message)}
        except Exception as e:  # a bug or an unforeseen answer: keep the row, say what happened
            self.usage.failed_rows += 1
            cols = {**self.empty_columns(), **mark_error(self.name, type(e).__name__, _one_line(e))}
        entry = tally.entry(self.name, self.options.model)
        return {**row, **cols, COLUMN: append_entry(row.get(COLUMN), entry)}

    # -- helpers for subclasses ---------------------------------------------------------------

    async def ask(self, row: dict[str, Any], tally: Tally, model: type[Any] | None = None) -> Any:
        """Prompt from the row -> the answer text, or a validated `model` when one is given."""
        return await self.send(self.messages(row), tally, model)

    async def send(self, msgs: list[dict[str, Any]], tally: Tally, model: type[Any] | None) -> Any:
        if model is None:
            return (await self.client.chat(msgs, tally=tally)).content
        mode = getattr(self.config, "response_format", "auto")
        return await self.client.chat_model(msgs, model, tally=tally, mode=mode)

    def messages(self, row: dict[str, Any], media: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
        """System + user messages from the template; media parts go before the text (Qwen-VL order)."""
        assert self.template is not None
        system, user = self.template.render(row)
        msgs: list[dict[str, Any]] = []
        if system:
            msgs.append({"role": "system", "content": system})
        if media:
            msgs.append({"role": "user", "content": [*media, {"type": "text", "text": user}]})
        else:
            msgs.append({"role": "user", "content": user})
        return msgs


class VisionStage(LLMStage):
    """An LLM stage that shows the model the row's video (config: `FrameOptions`).

    Decoding runs on a small thread pool; at most 2 x `concurrency` rows hold encoded frames at
    once, so memory stays bounded whatever the batch size.
    """

    async def media(self, row: dict[str, Any]) -> list[dict[str, Any]]:
        from vidcurate.llm import media as md

        opts: md.FrameOptions = self.config  # type: ignore[assignment]
        if opts.video_input == "video_url":
            return md.media_parts([md.video_url(row, opts)], opts, video=True)
        urls = await self.in_thread(md.frame_urls, row, opts)
        return md.media_parts(urls, opts)

    async def ask(self, row: dict[str, Any], tally: Tally, model: type[Any] | None = None) -> Any:
        """Frames + prompt -> the answer text, or a validated `model` when one is given."""
        async with self._prepared:
            return await self.send(self.messages(row, await self.media(row)), tally, model)
