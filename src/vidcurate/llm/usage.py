"""Counting what LLM stages cost: per row (the `llm_usage` column) and per stage (a summary).

Each LLM stage appends one entry to the row's `llm_usage` list, so the counts survive resume and
are summed per stage at the end of a run (`summarize`, printed by the run summary). A worker also
keeps running totals in a `Usage` and logs them after each batch.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

log = logging.getLogger("vidcurate.llm")

COLUMN = "llm_usage"
FIELDS = ("calls", "retries", "cache_hits", "repairs", "prompt_tokens", "completion_tokens")
# one entry per LLM stage that worked on the row: what it cost (cache hits cost nothing)
ENTRY = pa.struct([("stage", pa.string()), ("model", pa.string())] + [(k, pa.int64()) for k in FIELDS])
USAGE_COLUMNS = {COLUMN: pa.list_(ENTRY)}


@dataclass
class Tally:
    """What one row cost in one stage: HTTP attempts, retries, cache hits, repair asks, tokens."""

    calls: int = 0
    retries: int = 0
    cache_hits: int = 0
    repairs: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def entry(self, stage: str, model: str) -> dict[str, Any]:
        return {"stage": stage, "model": model, **{k: getattr(self, k) for k in FIELDS}}


@dataclass
class Usage:
    """Running totals of one client (one worker): printed at the end of each batch."""

    rows: int = 0
    failed_rows: int = 0
    calls: int = 0  # HTTP requests sent, retries included
    ok: int = 0
    retries: int = 0
    retry_reasons: Counter[str] = field(default_factory=Counter)
    cache_hits: int = 0
    repairs: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def line(self, stage: str) -> str:
        reasons = ", ".join(f"{k} {v}" for k, v in self.retry_reasons.most_common()) or "none"
        return (
            f"{stage}: {self.rows} rows ({self.failed_rows} failed), {self.calls} requests, {self.ok} answered, "
            f"{self.cache_hits} cache hits, {self.retries} retries ({reasons}), {self.repairs} repairs, "
            f"tokens {self.prompt_tokens} prompt + {self.completion_tokens} completion"
        )


def append_entry(existing: Any, entry: dict[str, Any]) -> list[dict[str, Any]]:
    """The row's usage list with this stage's entry added (earlier stages' entries are kept)."""
    return [*(existing or []), entry]


def summarize(tables: Iterable[pa.Table]) -> dict[str, dict[str, int]]:
    """Totals per stage over tables that carry `llm_usage` (kept and rejected rows alike)."""
    out: dict[str, dict[str, int]] = {}
    for t in tables:
        if COLUMN not in t.column_names:
            continue
        for entries in t.column(COLUMN).to_pylist():
            for e in entries or []:
                s = out.setdefault(e["stage"], {"rows": 0, **dict.fromkeys(FIELDS, 0)})
                s["rows"] += 1
                for k in FIELDS:
                    s[k] += int(e.get(k) or 0)
    return out


def summarize_files(paths: Iterable[str | Path]) -> dict[str, dict[str, int]]:
    """`summarize` over Parquet files, reading only the usage column."""
    tables = []
    for p in paths:
        p = Path(p)
        try:
            if p.exists() and COLUMN in pq.read_schema(p).names:
                tables.append(pq.read_table(p, columns=[COLUMN]))
        except (OSError, pa.ArrowInvalid):
            continue
    return summarize(tables)


def print_usage(paths: Iterable[str | Path], console: Any) -> None:
    """A table of LLM usage per stage, when any stage of the run called an LLM."""
    totals = summarize_files(paths)
    if not totals:
        return
    from rich.table import Table

    t = Table(title="LLM usage by stage (requests sent; a cache hit costs nothing)", title_justify="left")
    for col in ("stage", "rows", *FIELDS):
        t.add_column(col.replace("_", " "), justify="left" if col == "stage" else "right")
    for stage, s in totals.items():
        t.add_row(stage, *(str(s[k]) for k in ("rows", *FIELDS)))
    console.print(t)
