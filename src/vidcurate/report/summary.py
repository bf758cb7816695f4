"""The end-of-run summary printed to the terminal: the funnel, errors by kind, where outputs are."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from vidcurate.io.runfolder import RunSummary

LLM_FIELDS = ("rows", "calls", "retries", "cache_hits", "repairs", "prompt_tokens", "completion_tokens")


def _llm_usage(s: RunSummary, console: Console) -> None:
    """Per LLM stage, what this invocation sent (resumed shards sent nothing now)."""
    stages = [r for r in s.stages if r.llm_all]
    if not stages:
        return
    t = Table(title="LLM usage by stage, this run (a cache hit costs nothing)", title_justify="left")
    for col in ("stage", *LLM_FIELDS, "resumed shards"):
        t.add_column(col.replace("_", " "), justify="left" if col == "stage" else "right", no_wrap=True)
    for r in stages:
        t.add_row(r.dirname, *(str(r.llm.get(k, 0)) for k in LLM_FIELDS), str(r.resumed_shards))
    console.print(t)


def print_summary(s: RunSummary, console: Console) -> None:
    t = Table(title=f"vidcurate run: {s.recipe}", title_justify="left")
    for col in ("stage", "in", "out", "rejected", "errors", "cpu s", "wall s", "shards", "resumed"):
        t.add_column(col, justify="left" if col == "stage" else "right", no_wrap=True)
    t.add_row("00-source", "", str(s.source_rows), "", "", "", "", "", "")
    for r in s.stages:
        t.add_row(
            r.dirname,
            str(r.rows_in),
            str(r.rows_out),
            str(r.rejected),
            str(sum(r.errors.values())),
            f"{r.seconds:.2f}",
            f"{r.wall_s:.2f}",
            str(r.shards),
            str(r.resumed_shards),
        )
    console.print(t)
    kinds: dict[str, int] = {}
    for r in s.stages:
        for k, v in r.errors.items():
            kinds[k] = kinds.get(k, 0) + v
    if kinds:
        e = Table(title="errors by kind (all stages)", title_justify="left")
        e.add_column("kind")
        e.add_column("rows", justify="right")
        for k, v in sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0])):
            e.add_row(k, str(v))
        console.print(e)
    _llm_usage(s, console)
    for ex in s.exports:
        again = " (unchanged, kept)" if ex.get("resumed") else ""
        console.print(
            f"export {ex['format']}: [bold]{ex['written']}[/] rows -> [cyan]{', '.join(ex['outputs'][:2])}[/]{again}",
            highlight=False,
            soft_wrap=True,
        )
    console.print(
        f"[bold]{s.rows_final}[/] rows in [cyan]{s.manifest}[/]\n"
        f"[bold]{s.rows_rejected}[/] rejected rows (with reasons) in [cyan]{s.rejected}[/]\n"
        f"stage folders and summary.json in [cyan]{s.out}[/]  ({s.wall_s:.1f} s)"
    )
