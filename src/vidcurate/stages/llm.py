"""The base of every stage that calls an LLM: a synchronous `process(batch)` that runs the batch's
requests concurrently on a private event loop.

A subclass implements `async handle(row, tally) -> columns`. A `RowError` (or any exception) in
one row marks only that row, with the calls it made still counted in `llm_usage`; a `ConfigError`
(a refused key, an unknown model) stops the stage with one line. httpx is imported only in
`setup()`, so a light install can still load recipes that name these stages.
"""

from __future__ import annotations

import asyncio
from abc import abstractmethod
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import pyarrow as pa

from vidcurate.core import schema
from vidcurate.core.errors import ConfigError, row_error
from vidcurate.core.stage import Columns, Resources, Stage, StageContext
from vidcurate.llm.media import FrameOptions
from vidcurate.llm.options import TRANSIENT, LLMOptions
from vidcurate.llm.template import PromptTemplate
from vidcurate.llm.usage import COLUMN, USAGE_COLUMNS, Tally, Usage, append_entry, log

if TYPE_CHECKING:
    from vidcurate.llm.client import ChatClient
    from vidcurate.llm.loop import EventLoopThread


class _Runtime:
    """Loop thread + client + cache of one stage instance in one worker."""

    def __init__(self, options: LLMOptions, usage: Usage, threads: int) -> None:
        from vidcurate.llm.cache import ResponseCache
        from vidcurate.llm.client import ChatClient
        from vidcurate.llm.loop import EventLoopThread

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


L = TypeVar("L", bound=LLMOptions)


class LLMStage(Stage[L]):
    """Runs `handle` for every row of a batch, `concurrency` requests at a time."""

    resources: ClassVar[Resources] = Resources(cpus=1.0)
    reads_media: ClassVar[bool] = False
    row_local: ClassVar[bool] = True  # one request per row
    retryable_errors: ClassVar[tuple[str, ...]] = TRANSIENT
    columns: ClassVar[Columns] = USAGE_COLUMNS  # every LLM stage appends what it cost to `llm_usage`

    def __init__(self, config: L | None = None) -> None:
        super().__init__(config)
        self.usage = Usage()
        self._rt: _Runtime | None = None
        self.template: PromptTemplate | None = PromptTemplate.load(self.config.prompt) if self.config.prompt else None

    @property
    def options(self) -> L:
        return self.config

    def required_columns(self) -> tuple[str, ...]:
        extra = self.template.fields() if self.template is not None else ()
        return tuple(dict.fromkeys((*self.requires, *extra)))

    def output_columns(self) -> Columns:
        return {**USAGE_COLUMNS, **type(self).columns}

    def threads(self) -> int:
        """Threads for blocking work around requests (decoding frames)."""
        return 2

    def preflight(self) -> None:
        """The endpoint answers and serves the model (one request, before any row is sent)."""
        from vidcurate.llm.preflight import check_endpoint

        check_endpoint(self.options, self.name)

    def setup(self, ctx: StageContext | None = None) -> None:
        super().setup(ctx)
        if self._rt is None:
            try:
                self._rt = _Runtime(self.options, self.usage, self.threads())
            except ImportError as e:
                raise ConfigError(
                    f"stage '{self.name}' needs httpx ({e.name or e}): pip install 'vidcurate[llm]'"
                ) from None
            # rows holding prepared requests (e.g. encoded frames): bounds memory per batch
            self._prepared = asyncio.Semaphore(2 * self.options.concurrency)

    def teardown(self) -> None:
        """Release the loop thread, connections and cache."""
        rt, self._rt = self._rt, None
        if rt is not None:
            rt.close()

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
        if self._rt is None:
            raise RuntimeError(f"{self.name}: setup() was not called (use `with stage.running(): ...`)")
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
        return schema.from_rows(out, like=batch.schema, types=self.output_columns())

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
                exc = t.exception()
                assert exc is not None
                raise exc
        return [t.result() for t in tasks]

    async def _one(self, row: dict[str, Any]) -> dict[str, Any]:
        tally = Tally()
        self.usage.rows += 1
        try:
            cols = await self.handle(row, tally)
        except Exception as e:  # a bad answer, or a bug: keep the row, say what happened
            err = row_error(self.name, e)  # a config error or an environment fault stops the stage
            self.usage.failed_rows += 1
            cols = {**self.empty_columns(), **err}
        entry = tally.entry(self.name, self.options.model)
        return {**row, **cols, COLUMN: append_entry(row.get(COLUMN), entry)}

    # -- helpers for subclasses ---------------------------------------------------------------

    async def ask(self, row: dict[str, Any], tally: Tally, model: type[Any] | None = None) -> Any:
        """Prompt from the row -> the answer text, or a validated `model` when one is given."""
        return await self.send(self.messages(row), tally, model)

    async def send(self, msgs: list[dict[str, Any]], tally: Tally, model: type[Any] | None) -> Any:
        if model is None:
            return (await self.client.chat(msgs, tally=tally)).content
        return await self.client.chat_model(msgs, model, tally=tally, mode=self.config.response_format)

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


F = TypeVar("F", bound=FrameOptions)


class VisionStage(LLMStage[F]):
    """An LLM stage that shows the model the row's video (config: `FrameOptions`).

    Decoding runs on a small thread pool; at most 2 x `concurrency` rows hold encoded frames at
    once, so memory stays bounded whatever the batch size.
    """

    reads_media: ClassVar[bool] = True

    def threads(self) -> int:
        return self.config.decode_threads

    async def media(self, row: dict[str, Any]) -> list[dict[str, Any]]:
        from vidcurate.llm import media as md

        opts = self.config
        if opts.video_input == "video_url":
            return md.media_parts([md.video_url(row, opts)], opts, video=True)
        urls = await self.in_thread(md.frame_urls, row, opts)
        return md.media_parts(urls, opts)

    async def ask(self, row: dict[str, Any], tally: Tally, model: type[Any] | None = None) -> Any:
        """Frames + prompt -> the answer text, or a validated `model` when one is given."""
        async with self._prepared:
            return await self.send(self.messages(row, await self.media(row)), tally, model)
