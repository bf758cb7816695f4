"""Small HTML pieces the report is built from (every text escaped)."""

from __future__ import annotations

from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from html import escape


def section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{anchor}"><h2>{title}</h2>{body}</section>'


def empty(text: str) -> str:
    return f'<div class="panel empty">{escape(text)}</div>'


def legend(items: list[tuple[str, str]]) -> str:
    """Legend entries as (css for the swatch, label); a css starting with '.' is a class name."""
    spans = []
    for css, label in items:
        swatch = f'<i class="{css[1:]}"></i>' if css.startswith(".") else f'<i style="background:{css}"></i>'
        spans.append(f"<span>{swatch}{escape(label)}</span>")
    return '<div class="legend">' + "".join(spans) + "</div>"


def bar(segments: Sequence[tuple[str, float, str]], top: float, style: str = "") -> str:
    """A horizontal stacked bar: (css class, value, tooltip) segments scaled to `top`."""
    spans = "".join(
        f'<span class="{c}" style="width:{100 * v / top:.2f}%" title="{escape(t)}"></span>' for c, v, t in segments if v
    )
    return f'<div class="bar"{style}>{spans}</div>'


def chips(items: list[tuple[str, int]], cls: str) -> str:
    return "".join(f'<span class="chip {cls}">{escape(k)} <b>{n:,}</b></span>' for k, n in items)


def tr(cells: list[str], numeric: AbstractSet[int] = frozenset(), head: bool = False) -> str:
    tag = "th" if head else "td"
    return (
        "<tr>"
        + "".join(
            f'<{tag} class="n">{c}</{tag}>' if i in numeric else f"<{tag}>{c}</{tag}>" for i, c in enumerate(cells)
        )
        + "</tr>"
    )


def short(s: str, n: int) -> str:
    return s if len(s) <= n else s[: n - 1] + "…"
