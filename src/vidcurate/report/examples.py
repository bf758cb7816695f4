"""The report's examples: thumbnail strips of kept rows and of rejected rows per reason.

Strips come from the thumbnail cache (`thumbs.py`); a row whose path is unsafe (flagged as leaving its
dataset root) is never decoded, here as in the viewer.
"""

from __future__ import annotations

import base64
import functools
import os
from concurrent.futures import ThreadPoolExecutor
from html import escape
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from vidcurate.report import data as rd
from vidcurate.report import svg
from vidcurate.report.catalog import unsafe_path
from vidcurate.report.parts import empty, section, short
from vidcurate.report.thumbs import Clip, Thumb, thumbnail


def examples(
    run: rd.Run, kept: list[dict[str, Any]], groups: list[rd.Group], thumbs: dict[str, Thumb], cuts: list[rd.Threshold]
) -> str:
    scores = rd.score_columns(run)
    cut_cols = [t.column for t in cuts]
    scores.sort(key=lambda c: cut_cols.index(c) if c in cut_cols else len(cut_cols))  # what the recipe judges first
    total_kept = int(run.summary.get("rows_final", run.count("kept")))
    out = [f"<h3>Kept <small>{len(kept)} of {total_kept:,}</small></h3>"]
    out.append(cards(kept, "kept", thumbs, scores) if kept else empty("no kept rows"))
    for g in groups:
        by = escape(g.stage or "?")
        out.append(
            f"<h3>Rejected: <code>{escape(g.reason)}</code><small>by {by} · {len(g.rows)} of {g.total:,}</small></h3>"
        )
        out.append(cards(g.rows, "rejected", thumbs, scores))
    if not groups:
        out.append(f"<h3>Rejected</h3>{empty('no rejected rows')}")
    return section("examples", "Examples", "".join(out))


def cards(rows: list[dict[str, Any]], status: str, thumbs: dict[str, Thumb], scores: list[str]) -> str:
    return (
        '<div class="cards">' + "".join(card(r, status, thumbs.get(str(r.get("id"))), scores) for r in rows) + "</div>"
    )


def card(r: dict[str, Any], status: str, th: Thumb | None, scores: list[str]) -> str:
    rid = str(r.get("id"))
    if th is not None and th.jpeg:
        b64 = base64.b64encode(th.jpeg).decode()
        img = f'<img class="strip" alt="frames of {escape(rid)}" src="data:image/jpeg;base64,{b64}">'
    else:
        why = th.error if th is not None and th.error else ""
        text = "no frames" if r.get("error") or not why else short(why, 120)  # a row error is shown below
        img = f'<div class="nostrip" title="{escape(why)}">{escape(text)}</div>'
    path = str(r.get("path") or "")
    source = str(r.get("source_path") or "")  # a cut clip: name it after the video it comes from
    a, b = ("source_start_s", "source_end_s") if source else ("start_s", "end_s")
    span = ""
    if r.get(a) is not None or r.get(b) is not None:
        end = svg.fmt(r[b]) if r.get(b) is not None else "end"
        span = f' <span class="note">{svg.fmt(r.get(a) or 0.0)}–{end} s</span>'
    title = f"{path}\nclip of {source}" if source else path
    facts = []
    if r.get("duration_s") is not None:
        facts.append(f"{svg.fmt(r['duration_s'])} s")
    if r.get("width") and r.get("height"):
        facts.append(f"{r['width']}×{r['height']}")
    if r.get("fps"):
        facts.append(f"{svg.fmt(r['fps'])} fps")
    if r.get("codec"):
        facts.append(escape(str(r["codec"])))
    sc = [f"{escape(c)} <b>{svg.fmt(r[c])}</b>" for c in scores if isinstance(r.get(c), (int, float))][:3]
    name = Path(source or path).name or rid
    lines = [f'<div class="name" title="{escape(title)}">{escape(name)}{span}</div>']
    if facts:
        lines.append(f'<div class="facts">{" · ".join(facts)}</div>')
    if sc:
        lines.append(f'<div class="scores">{" · ".join(sc)}</div>')
    if r.get("caption"):
        lines.append(f'<div class="cap">{escape(short(str(r["caption"]), 160))}</div>')
    if r.get("reject_reason"):
        lines.append(f'<div class="why">{escape(str(r["reject_reason"]))}</div>')
    if r.get("error"):
        lines.append(f'<div class="err">{escape(short(str(r["error"]), 160))}</div>')
    caption = f"<figcaption>{''.join(lines)}</figcaption>"
    return f'<figure class="panel clip {status}" data-id="{escape(rid)}">{img}{caption}</figure>'


def thumbnails(run: rd.Run, rows: list[dict[str, Any]], console: Console | None) -> dict[str, Thumb]:
    """Strips for the example rows, decoded in a few threads (PyAV releases the GIL), cached in the run."""
    clips = {str(r["id"]): Clip.from_row(r) for r in rows if r.get("id") is not None and not unsafe_path(r)}
    if not clips:
        return {}
    out: dict[str, Thumb] = {}
    progress = Progress(
        TextColumn("[bold]report thumbnails"),
        BarColumn(),
        MofNCompleteColumn(),
        console=console,
        transient=True,
        disable=console is None,
    )
    work = functools.partial(thumbnail, run_dir=run.dir)
    with progress, ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        task = progress.add_task("thumbs", total=len(clips))
        for rid, th in zip(clips, pool.map(work, clips.values()), strict=True):
            out[rid] = th
            progress.advance(task)
    return out
