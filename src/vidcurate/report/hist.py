"""Histograms of a run's numeric columns, kept and rejected, for every column in two scans.

Past `data.SAMPLE_ROWS` rows they come from a block sample (scaled back up; the card says so).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from vidcurate.report.data import Run, _qi
from vidcurate.report.thresholds import Threshold

BINS = 30
LOG_RATIO = 100.0  # max/min of positive values beyond which the axis is logarithmic
MAX_INT_BINS = 40  # integer columns with at most this many distinct values get one bar per value


@dataclass
class Hist:
    column: str
    edges: list[float]  # len(kept) + 1
    kept: list[int]
    rejected: list[int]
    missing_kept: int
    missing_rejected: int
    integer: bool
    thresholds: list[Threshold]
    off_scale: list[Threshold]  # thresholds too far from the data to draw inside the axis
    lo: float
    hi: float
    log: bool = False  # bins equal in log10(x): edges grow geometrically
    sample: float = 1.0  # share of the rows the counts were estimated from


def histogram(run: Run, column: str, cuts: list[Threshold], bins: int = BINS) -> Hist | None:
    """One column's histogram (see `histograms`, which does many in two scans)."""
    return histograms(run, [column], cuts, bins).get(column)


def histograms(run: Run, columns: list[str], cuts: list[Threshold], bins: int = BINS) -> dict[str, Hist]:
    """Kept and rejected counts per bin, for every column in two scans of the run (whatever its size).

    The axis stretches to show thresholds near the data. Positive values spread over more than
    LOG_RATIO (durations, sizes, frame counts) get a log axis, so a few long videos do not squash
    everything else (and the cut-off) into the first bar.
    """
    if not columns:
        return {}
    xs = {c: f'"{_qi(c)}"::DOUBLE' for c in columns}
    stats = []
    for x in xs.values():
        stats += [
            f"min({x}) FILTER (WHERE isfinite({x}))",
            f"max({x}) FILTER (WHERE isfinite({x}))",
            f"count(*) FILTER (WHERE _status = 'kept' AND NOT coalesce(isfinite({x}), false))",
            f"count(*) FILTER (WHERE _status = 'rejected' AND NOT coalesce(isfinite({x}), false))",
        ]
    src, share = run.sampled("allrows")
    row = run.con.execute(f"SELECT {', '.join(stats)} FROM {src}").fetchall()[0]
    plans: dict[str, tuple[Any, ...]] = {}
    for k, column in enumerate(columns):
        lo_v, hi_v, miss_k, miss_r = row[4 * k : 4 * k + 4]
        if lo_v is None:
            continue
        plans[column] = (*_axis(run, column, float(lo_v), float(hi_v), cuts, bins), int(miss_k), int(miss_r))
    if not plans:
        return {}
    parts = []
    for column, plan in plans.items():
        edges, log = plan[0], plan[1]
        n = len(edges) - 1
        w = (edges[-1] - edges[0]) / n
        x = xs[column]
        v = f"log10({x})" if log else x
        parts.append(
            f"histogram(CASE WHEN isfinite({x}) THEN least({n - 1}, greatest(0, floor(({v} - {edges[0]!r}) / {w!r})))"
            f"::INT END)"
        )
    counts = run.con.execute(f"SELECT _status, {', '.join(parts)} FROM {src} GROUP BY _status").fetchall()
    out: dict[str, Hist] = {}
    for k, (column, plan) in enumerate(plans.items()):
        edges, log, integer, near, far, lo, hi, dmin, dmax, miss_k, miss_r = plan
        n = len(edges) - 1
        kept, rej = [0] * n, [0] * n
        for status, *maps in counts:
            for b, c in (maps[k] or {}).items():
                (kept if status == "kept" else rej)[int(b)] += round(int(c) / share)
        if log:
            edges = [lo] + [10**e for e in edges[1:-1]] + [hi]  # exact ends: 10**log10(x) may miss x by an ulp
        miss_k, miss_r = round(miss_k / share), round(miss_r / share)
        out[column] = Hist(column, edges, kept, rej, miss_k, miss_r, bool(integer), near, far, dmin, dmax, log, share)
    return out


def _axis(run: Run, column: str, dmin: float, dmax: float, cuts: list[Threshold], bins: int) -> tuple[Any, ...]:
    """(bin edges on the axis scale, log, integer, near cuts, far cuts, lo, hi, dmin, dmax) of a column."""
    t = run.types.get(column)
    is_int = t is not None and pa.types.is_integer(t)
    log = dmin > 0 and dmax / dmin >= LOG_RATIO and not (is_int and dmax - dmin < MAX_INT_BINS)
    f = math.log10 if log else (lambda v: v)
    cuts = [c for c in cuts if c.column == column]
    span = f(dmax) - f(dmin)
    near = [
        c for c in cuts if (c.value > 0 or not log) and (span == 0 or f(dmin) - span <= f(c.value) <= f(dmax) + span)
    ]
    far = [c for c in cuts if c not in near]
    lo = min([dmin] + [c.value for c in near])
    hi = max([dmax] + [c.value for c in near])
    integer = is_int and not log and (hi - lo) < MAX_INT_BINS
    if integer:
        edges = [math.floor(lo) - 0.5 + i for i in range(int(math.floor(hi) - math.floor(lo)) + 2)]
    elif hi == lo:  # one value: a single bar in the middle of a narrow axis
        w = max(abs(lo) * 0.01, 0.01)
        edges = [lo - 5.5 * w + i * w for i in range(12)]
    else:
        a, b = f(lo), f(hi)
        edges = [a + i * (b - a) / bins for i in range(bins + 1)]
    return edges, log, integer, near, far, lo, hi, dmin, dmax
