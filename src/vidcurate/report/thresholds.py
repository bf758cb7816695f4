"""The cut-offs a recipe applied, read back from its stages' configs for the report's histograms.

Two sources: the filter stage's flags (`dmin: 1.0` is `duration_s >= 1.0`), and the simple
comparisons inside any `where` predicate — `col op number`, `number op col`, `col BETWEEN a AND b`
— found in DuckDB's own parse tree of the predicate (`json_serialize_sql`), so string literals,
functions, casts and `NOT BETWEEN` are never mistaken for cut-offs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import duckdb

# filter flags -> (columns, operator)
FLAG_COLUMNS: dict[str, tuple[tuple[str, ...], str]] = {
    "fmin": (("num_frames",), ">="),
    "fmax": (("num_frames",), "<="),
    "dmin": (("duration_s",), ">="),
    "dmax": (("duration_s",), "<="),
    "min_width": (("width",), ">="),
    "min_height": (("height",), ">="),
    "min_side": (("width", "height"), ">="),
    "ar_min": (("aspect_ratio",), ">="),
    "ar_max": (("aspect_ratio",), "<="),
}

_OPS = {
    "COMPARE_GREATERTHANOREQUALTO": ">=",
    "COMPARE_GREATERTHAN": ">",
    "COMPARE_LESSTHANOREQUALTO": "<=",
    "COMPARE_LESSTHAN": "<",
}
_FLIP = {">=": "<=", "<=": ">=", ">": "<", "<": ">"}
_NUMERIC_KINDS = ("INTEGER", "NUMERIC", "DOUBLE", "FLOAT", "DECIMAL", "BIGINT", "HUGEINT")


@dataclass(frozen=True)
class Threshold:
    """A cut-off on one column: rows with `value op threshold` are kept."""

    column: str
    op: str  # >=, >, <=, <
    value: float
    label: str  # short, drawn on the chart: the flag ("dmin") or "where"
    stage: str  # stage folder, e.g. "02-filter"
    clause: str = ""  # what the recipe said, e.g. "dmin: 1.0" or "motion_flow_mean > 0.01"

    @property
    def keeps_above(self) -> bool:
        return self.op in (">", ">=")


class _Stage(Protocol):
    name: str
    dirname: str
    config: dict[str, Any]


def thresholds(stages: Sequence[_Stage]) -> list[Threshold]:
    """Cut-offs the recipe applied: filter flags, and `col op number` / `BETWEEN` in `where`."""
    out: list[Threshold] = []
    for s in stages:
        cfg = s.config
        if s.name == "filter":
            for flag, (cols, op) in FLAG_COLUMNS.items():
                v = cfg.get(flag)
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    out += [Threshold(c, op, float(v), flag, s.dirname, f"{flag}: {v}") for c in cols]
        where = cfg.get("where")
        if isinstance(where, str):
            out += parse_where(where, s.dirname)
    return out


def parse_where(where: str, stage: str = "") -> list[Threshold]:
    """The simple comparisons in a SQL predicate: `col >= 1`, `0.5 < col`, `col BETWEEN a AND b`."""
    con = duckdb.connect()
    try:
        raw = con.execute("SELECT json_serialize_sql(?)", [f"SELECT 1 FROM t WHERE ({where}\n)"]).fetchone()
    except duckdb.Error:
        return []
    finally:
        con.close()
    tree = json.loads(raw[0]) if raw else {}
    if tree.get("error") or not tree.get("statements"):
        return []
    return list(_cuts(tree["statements"][0]["node"].get("where_clause"), stage))


def _cuts(node: Any, stage: str) -> Iterator[Threshold]:
    if isinstance(node, list):
        for n in node:
            yield from _cuts(n, stage)
        return
    if not isinstance(node, dict):
        return
    kind = node.get("type")
    if kind == "OPERATOR_NOT":
        return  # NOT (...) turns every cut-off inside it around: none is drawn
    if kind in _OPS:
        left, right = node.get("left") or {}, node.get("right") or {}
        col, num = _column(left), _number(right)
        op = _OPS[kind]
        if col is not None and num is not None:
            yield Threshold(col, op, float(num), "where", stage, f"{col} {op} {num}")
            return
        col, num = _column(right), _number(left)
        if col is not None and num is not None:
            yield Threshold(col, _FLIP[op], float(num), "where", stage, f"{num} {op} {col}")
            return
    if kind == "COMPARE_BETWEEN":
        col, lo, hi = (
            _column(node.get("input") or {}),
            _number(node.get("lower") or {}),
            _number(node.get("upper") or {}),
        )
        if col is not None and lo is not None and hi is not None:
            clause = f"{col} BETWEEN {lo} AND {hi}"
            yield Threshold(col, ">=", float(lo), "where", stage, clause)
            yield Threshold(col, "<=", float(hi), "where", stage, clause)
            return
    for key in ("children", "left", "right"):
        if key in node:
            yield from _cuts(node[key], stage)


def _column(n: dict[str, Any]) -> str | None:
    names = n.get("column_names") if n.get("class") == "COLUMN_REF" else None
    return str(names[-1]) if names else None


def _number(n: dict[str, Any]) -> str | None:
    lit = n.get("literal") if n.get("class") == "CONSTANT" else None
    if not isinstance(lit, dict) or lit.get("kind") not in (
        "INTEGER",
        "NUMERIC",
        "DOUBLE",
        "FLOAT",
        "DECIMAL",
        "BIGINT",
    ):
        return None
    text = str(lit.get("text"))
    try:
        float(text)
    except ValueError:
        return None
    return text
