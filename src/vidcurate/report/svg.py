"""Inline SVG charts for the report: a histogram of kept vs rejected rows with the cut-offs drawn.

Plain strings, no plotting library: the page must open anywhere, offline, with nothing to load.
Colours come from the page's stylesheet (classes `k`, `r`, `cut`, `shade`), so SVG stays small.
"""

from __future__ import annotations

import math
from html import escape

from vidcurate.report.hist import Hist

W, H = 400, 200
ML, MR, MT, MB = 44, 14, 30, 30  # margins: room for the y labels, threshold labels and x ticks


def fmt(v: float) -> str:
    """Compact number for axes and labels: 1.5k, 2.3M, 0.012, 320."""
    if not math.isfinite(v):
        return "NaN" if v != v else ("∞" if v > 0 else "-∞")
    a = abs(v)
    if a >= 1e9:
        return f"{v / 1e9:.3g}G"
    if a >= 1e6:
        return f"{v / 1e6:.3g}M"
    if a >= 1e4:
        return f"{v / 1e3:.3g}k"
    if float(v).is_integer():
        return str(int(v))
    return f"{v:.3g}"


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About `n` round tick values between lo and hi (steps of 1, 2, 2.5 or 5 times a power of ten)."""
    span = hi - lo
    if span <= 0 or not math.isfinite(span):
        return [lo]
    raw = span / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if raw <= m * mag)
    start = math.ceil(lo / step - 1e-9) * step
    out = []
    k = 0
    while start + k * step <= hi + span * 1e-9:
        out.append(round(start + k * step, 12))
        k += 1
    return out


def log_ticks(lo: float, hi: float) -> list[float]:
    """Powers of ten inside [lo, hi]; with 1, 2 and 5 times them when fewer than three decades show."""
    k0, k1 = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    decades = [10.0**k for k in range(k0, k1 + 1) if lo <= 10.0**k <= hi]
    if len(decades) >= 3:
        return decades
    return [m * 10.0**k for k in range(k0, k1 + 1) for m in (1, 2, 5) if lo <= m * 10.0**k <= hi]


def histogram(h: Hist) -> str:
    """One histogram as an <svg>: kept and rejected bars overlaid, thresholds dashed, cut side shaded."""
    x0, x1 = h.edges[0], h.edges[-1]
    pw, ph = W - ML - MR, H - MT - MB
    ymax = max([*h.kept, *h.rejected, 1])

    tr = math.log10 if h.log else (lambda v: v)

    def sx(v: float) -> float:
        return ML + (tr(v) - tr(x0)) / (tr(x1) - tr(x0)) * pw

    def sy(c: float) -> float:
        return MT + ph - c / ymax * ph

    parts = [
        f'<svg class="hist" viewBox="0 0 {W} {H}" role="img" data-column="{escape(h.column)}" '
        f'aria-label="histogram of {escape(h.column)}">'
    ]
    for t in nice_ticks(0, ymax, 4):
        y = sy(t)
        parts.append(f'<line class="grid" x1="{ML}" x2="{W - MR}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text class="ytick" x="{ML - 6}" y="{y + 3:.1f}">{fmt(t)}</text>')
    for cut in h.thresholds:
        x = sx(cut.value)
        a, b = (ML, x) if cut.keeps_above else (x, W - MR)
        if b > a:
            parts.append(f'<rect class="shade" x="{a:.1f}" y="{MT}" width="{b - a:.1f}" height="{ph}"/>')
    for i, (k, r) in enumerate(zip(h.kept, h.rejected, strict=True)):
        a, b = sx(h.edges[i]), sx(h.edges[i + 1])
        bw = max(1.0, b - a - (1.0 if b - a > 3 else 0.0))
        lo, hi = (h.edges[i] + 0.5, h.edges[i + 1] - 0.5) if h.integer else (h.edges[i], h.edges[i + 1])
        rng = fmt(lo) if h.integer else f"{fmt(lo)} – {fmt(hi)}"
        tip = f"<title>{escape(h.column)} {rng}: {k} kept, {r} rejected</title>"
        for cls, c in sorted((("k", k), ("r", r)), key=lambda kc: -kc[1]):  # the smaller bar stays visible on top
            if c:
                y = sy(c)
                box = f'x="{a:.1f}" y="{y:.1f}" width="{bw:.1f}" height="{MT + ph - y:.1f}"'
                parts.append(f'<rect class="{cls}" {box}>{tip}</rect>')
    parts.append(f'<line class="axis" x1="{ML}" x2="{W - MR}" y1="{MT + ph}" y2="{MT + ph}"/>')
    if h.log:
        ticks = log_ticks(x0, x1)
    elif h.integer:
        ticks = [(e0 + e1) / 2 for e0, e1 in zip(h.edges, h.edges[1:], strict=False)]
        if len(ticks) > 8:
            ticks = [t for t in nice_ticks(x0, x1, 5) if float(t).is_integer()]
    else:
        ticks = nice_ticks(x0, x1, 5)
    for t in ticks:
        x = sx(t)
        parts.append(f'<line class="axis" x1="{x:.1f}" x2="{x:.1f}" y1="{MT + ph}" y2="{MT + ph + 4}"/>')
        parts.append(f'<text class="xtick" x="{x:.1f}" y="{H - MB + 16}">{fmt(t)}</text>')
    for j, cut in enumerate(h.thresholds):
        x = sx(cut.value)
        anchor = "end" if x > ML + pw * 0.6 else "start"
        dx = -4 if anchor == "end" else 4
        sym = {">=": "≥", "<=": "≤", ">": ">", "<": "<"}[cut.op]
        label = f"{sym} {fmt(cut.value)} · {cut.label}"
        parts.append(f'<line class="cut" x1="{x:.1f}" x2="{x:.1f}" y1="{MT - 4}" y2="{MT + ph}"/>')
        parts.append(
            f'<text class="cutlabel" x="{x + dx:.1f}" y="{MT - 8 - 11 * (j % 2)}" text-anchor="{anchor}">'
            f"{escape(label)}<title>{escape(cut.stage)}: {escape(cut.clause or cut.label)} (keeps {escape(cut.column)} "
            f"{escape(cut.op)} {fmt(cut.value)})"
            "</title></text>"
        )
    parts.append("</svg>")
    return "".join(parts)
