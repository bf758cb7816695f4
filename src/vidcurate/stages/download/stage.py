"""The `download` stage: each row's `url` fetched to `<run>/media/<name>.<ext>`, `path` pointing at it.

HTTP(S) files go through `http.Fetcher` (concurrency, per-host limits, Range resume, retries,
content check); YouTube and the other sites `ytdlp.wants_ytdlp` knows through yt-dlp. Rows that
share a URL share one file. For a site video with spans, only the spans are fetched when there are
few of them (each row gets its own clip file, its span moving to `source_start_s`/`source_end_s`);
from `whole_from` spans per video on, the video is fetched once and the rows keep their spans for
`cut`. A file already complete under its final name is not fetched again, and every failure kind is
retried by a rerun, so a rerun fetches only what failed. `download_bytes` feeds the yield report.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa
from pydantic import Field

from vidcurate.core import schema
from vidcurate.core.errors import ConfigError, RowError, row_error
from vidcurate.core.stage import Columns, Stage, StageConfig, StageContext
from vidcurate.stages.download import ytdlp
from vidcurate.stages.download.http import Fetcher, FetchOptions

log = logging.getLogger("vidcurate.download")
KINDS = ("http_404", "http_403", "http_410", "http_429", "http_500", "http_502", "http_503", "http_504", "timeout",
         "connection", "not_video", "too_large", "empty", "private", "unavailable", "geo_blocked",
         "age_restricted", "rate_limited", "site_error")  # fmt: skip


class DownloadConfig(StageConfig):
    url_column: str = Field("url", description="the column holding each row's URL")
    out_dir: str | None = Field(None, description="where files go outside a run (default: <run>/media)")
    concurrency: int = Field(16, ge=1, le=256, description="files in flight at once, per worker")
    per_host: int = Field(4, ge=1, le=64, description="requests in flight to one host")
    host_interval_s: float = Field(0.0, ge=0, description="seconds between two requests to one host")
    timeout_s: float = Field(30.0, gt=0, description="no bytes for this long: the attempt failed")
    max_retries: int = Field(4, ge=0, le=20, description="retries of a transient failure (429, 5xx, timeout)")
    backoff_s: float = Field(1.0, ge=0, description="first retry wait; doubles (a Retry-After wins)")
    backoff_max_s: float = Field(60.0, ge=0, description="longest retry wait")
    max_mb: float | None = Field(4096.0, gt=0, description="larger files are refused (MB)")
    max_height: int = Field(720, ge=144, description="yt-dlp: the highest resolution fetched")
    whole_from: int = Field(3, ge=1, description="yt-dlp: from this many spans per video, fetch it whole once")


class Downloader(Stage[DownloadConfig]):
    """Fetch each row's `url` (HTTP, or a site through yt-dlp) into the run and point `path` at it."""

    name: ClassVar[str] = "download"
    reads_media: ClassVar[bool] = False
    retryable_errors: ClassVar[tuple[str, ...]] = KINDS
    columns: ClassVar[Columns] = {
        **schema.core_columns(("path", "start_s", "end_s", "source_start_s", "source_end_s")),
        "download_bytes": pa.int64(),
    }
    ydl_class: Any = None  # tests put a fake YoutubeDL here

    def required_columns(self) -> tuple[str, ...]:
        return ("id", self.config.url_column)

    def setup(self, ctx: StageContext | None = None) -> None:
        super().setup(ctx)
        c = self.config
        opts = FetchOptions(timeout_s=c.timeout_s, max_retries=c.max_retries, backoff_s=c.backoff_s,
                            backoff_max_s=c.backoff_max_s, per_host=c.per_host, host_interval_s=c.host_interval_s,
                            max_bytes=int(c.max_mb * 2**20) if c.max_mb else None)  # fmt: skip
        try:
            self._fetcher = Fetcher(opts)
        except ImportError as e:
            raise ConfigError(f"stage 'download' needs httpx ({e.name or e}): pip install 'vidcurate[llm]'") from None

    def teardown(self) -> None:
        fetcher = getattr(self, "_fetcher", None)
        if fetcher is not None:
            fetcher.close()

    def folder(self) -> Path:
        if self.config.out_dir is not None:
            d = Path(self.config.out_dir).expanduser() / "media"
            d.mkdir(parents=True, exist_ok=True)
            return d
        return self.context.output_dir("media")

    def process(self, batch: pa.Table) -> pa.Table:
        rows = batch.to_pylist()
        folder = self.folder()
        jobs: dict[str, dict[str, Any]] = {}  # file stem -> what to fetch and for which rows
        plans: list[tuple[str, bool]] = []  # per row: (stem, the file is the row's span only)
        by_url: dict[str, list[int]] = {}
        for i, r in enumerate(rows):
            url = str(r.get(self.config.url_column) or "").strip()
            by_url.setdefault(url, []).append(i)
        for url, idx in by_url.items():
            spans = [(rows[i].get("start_s"), rows[i].get("end_s")) for i in idx]
            ranged = bool(url) and ytdlp.wants_ytdlp(url) and all(e is not None for _, e in spans)
            ranged = ranged and len(idx) < self.config.whole_from
            for i, span in zip(idx, spans, strict=True):
                stem = schema.stable_id("url", url, *((span,) if ranged else ()))
                plans.append((stem, ranged))
                job = jobs.setdefault(stem, {"url": url, "span": None, "rows": []})
                job["rows"].append(i)
                if ranged:
                    s, e = rows[i].get("start_s") or 0.0, rows[i]["end_s"]
                    job["span"] = (float(s), float(e))
        t0 = time.monotonic()
        with ThreadPoolExecutor(self.config.concurrency, thread_name_prefix="vidcurate-download") as pool:
            results = dict(zip(jobs, pool.map(lambda item: self._one(folder, *item), jobs.items()), strict=True))
        out: list[dict[str, Any]] = []
        total = 0
        for r, (stem, ranged) in zip(rows, plans, strict=True):
            r = {**dict.fromkeys(self.columns), **r}  # every declared column, whatever happens
            res = results[stem]
            if isinstance(res, BaseException):
                out.append({**r, **row_error(self.name, res)})
                continue
            path, size = res
            total += size
            new: dict[str, Any] = {"path": str(path), "download_bytes": size}
            if ranged:  # the file is the span itself
                new |= {"source_start_s": r.get("start_s"), "source_end_s": r.get("end_s"), "start_s": None,
                        "end_s": None}  # fmt: skip
            out.append({**r, **new})
        dt = max(time.monotonic() - t0, 1e-6)
        log.info("download: %d files, %.1f MB in %.1f s (%.1f MB/s)", len(jobs), total / 2**20, dt, total / 2**20 / dt)
        return schema.from_rows(out, like=batch.schema, types=self.output_columns())

    def _one(self, folder: Path, stem: str, job: dict[str, Any]) -> tuple[Path, int] | BaseException:
        done = [p for p in folder.glob(f"{stem}.*") if not p.name.startswith(".")]
        if done:  # complete under its final name: not fetched again
            self.context.record(done[0])
            return done[0], done[0].stat().st_size
        url = job["url"]
        try:
            if not url:
                raise RowError("no_url", f"the row has no {self.config.url_column}")
            if ytdlp.wants_ytdlp(url):
                c = self.config
                spans = [job["span"]] if job["span"] else None
                path = ytdlp.fetch(url, folder, stem, max_height=c.max_height, spans=spans, timeout_s=c.timeout_s,
                                   retries=c.max_retries, ydl_class=self.ydl_class)  # fmt: skip
                size = path.stat().st_size
            else:
                path, size = self._fetcher.fetch(url, folder, stem)
        except ConfigError:
            raise
        except RowError as e:
            return e
        self.context.record(path)
        return path, size
