"""The report's dedup section: how many duplicates each dedup stage removed, groups by size, and
contact sheets of the largest groups (each member's frames, the kept one first), so a user sees
what was removed before trusting it."""

from __future__ import annotations

from html import escape
from typing import Any

from rich.console import Console

from vidcurate.report import data as rd
from vidcurate.report import parts as hp
from vidcurate.report.examples import card, thumbnails

SHEETS = 4  # example groups shown
PER_SHEET = 8  # members shown per group


def dedup_section(run: rd.Run, console: Console | None = None) -> str:
    """Empty when the run has no dedup stage."""
    stages = [s for s in run.stages if s.name.startswith("dedup.")]
    if not stages or "dup_group" not in run.columns:
        return ""
    rows = [hp.tr(["dedup stage", "rows in", "removed", "share removed"], {1, 2, 3}, head=True)]
    for s in stages:
        share = s.rejected / s.rows_in if s.rows_in else 0.0
        rows.append(hp.tr([f'<span class="mono">{escape(s.dirname)}</span>', f"{s.rows_in:,}", f"{s.rejected:,}",
                           f"{100 * share:.1f} %"], {1, 2, 3}))  # fmt: skip
    sizes = run.rows(
        "SELECT n AS size, count(*) AS groups FROM (SELECT dup_group, count(*) AS n FROM allrows "
        "WHERE dup_group IS NOT NULL GROUP BY dup_group) GROUP BY n ORDER BY n"
    )
    size_rows = [hp.tr(["group size", "groups"], {0, 1}, head=True)]
    size_rows += [hp.tr([f"{r['size']:,}", f"{r['groups']:,}"], {0, 1}) for r in sizes]
    body = [
        '<div class="grid2">',
        f'<div class="panel"><table>{"".join(rows)}</table></div>',
        f'<div class="panel"><table>{"".join(size_rows)}</table></div>' if sizes else hp.empty("no duplicates found"),
        "</div>",
    ]
    body += _sheets(run, console)
    return hp.section("dedup", "Duplicates", "".join(body))


def _sheets(run: rd.Run, console: Console | None) -> list[str]:
    top = run.rows(
        "SELECT dup_group, count(*) AS n FROM allrows WHERE dup_group IS NOT NULL "
        "GROUP BY dup_group ORDER BY n DESC, dup_group LIMIT ?",
        [SHEETS],
    )
    groups: list[tuple[str, list[dict[str, Any]]]] = []
    for g in top:
        members = run.rows(
            "SELECT * FROM allrows WHERE dup_group = ? ORDER BY coalesce(dup_keep, false) DESC, id LIMIT ?",
            [g["dup_group"], PER_SHEET],
        )
        groups.append((str(g["dup_group"]), members))
    thumbs = thumbnails(run, [r for _, m in groups for r in m], console)
    out = []
    for gid, members in groups:
        cards = "".join(
            card(r, "kept" if r.get("dup_keep") else "rejected", thumbs.get(str(r["id"])), []) for r in members
        )
        out.append(
            f'<h3 class="sheet">group kept as <span class="mono">{escape(gid)}</span> · {len(members)} shown</h3>'
            f'<div class="cards">{cards}</div>'
        )
    return out
