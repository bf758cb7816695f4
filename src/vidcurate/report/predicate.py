"""The viewer's filter box: a SQL predicate that can only select rows of the run, never invent them.

The text a user types is placed in `SELECT id FROM rows WHERE (<text>)` and parsed by DuckDB itself
(`json_serialize_sql`), not by regexes. The parse must be exactly that one SELECT: no set operation
(a `UNION` that closes the `WHERE` and adds rows with a path of the attacker's choosing), no `WITH`,
no grouping or ordering smuggled after the predicate, and every subquery may read only the run's own
tables. The viewer then evaluates the predicate to a set of ids and reads the rows themselves from
its own tables, so even a predicate that slipped past this check could not make it serve a file.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

import duckdb

MAX_LENGTH = 4000
_SET_NODES = ("SET_OPERATION_NODE", "RECURSIVE_CTE_NODE", "CTE_NODE")


class FilterError(ValueError):
    """The filter text is not a valid predicate over the rows; its message is shown to the user."""


def checked(text: str | None, *, table: str, allowed: Iterable[str]) -> str:
    """`text` as a parenthesised predicate over `table`, or a FilterError saying why it is refused.

    `allowed` are the tables a subquery may read (the run's own rows).
    """
    text = (text or "").strip()
    if not text:
        return "TRUE"
    if len(text) > MAX_LENGTH:
        raise FilterError("filter is too long")
    pred = f"({text}\n)"  # the newline ends a trailing `--` comment before our closing parenthesis
    tree = _parse(f"SELECT id FROM {table} WHERE {pred}")
    statements = tree.get("statements") or []
    if len(statements) != 1:
        raise FilterError("the filter must be a single predicate, e.g. duration_s > 2 AND fps >= 24")
    top = statements[0].get("node") or {}
    _check_top(top, table)
    tables = {t.lower() for t in allowed}
    for node in _walk(top):
        if node.get("type") in _SET_NODES:
            raise FilterError("the filter must be one predicate: UNION, INTERSECT, EXCEPT and WITH are not allowed")
        if (node.get("cte_map") or {}).get("map"):
            raise FilterError("the filter must be a single predicate: WITH is not allowed")
        src = node.get("from_table")
        if src is not None and not _own_table(src, tables):
            what = "table functions are disabled" if src.get("type") == "TABLE_FUNCTION" else "not allowed"
            raise FilterError(f"{what}: a subquery in the filter may only read {', '.join(sorted(tables))}")
    return pred


def _parse(sql: str) -> dict[str, Any]:
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as e:
        raise FilterError(str(e).splitlines()[0]) from None
    if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
        raise FilterError("the filter must be a single predicate, e.g. duration_s > 2 AND fps >= 24")
    con = duckdb.connect()
    try:
        raw = con.execute("SELECT json_serialize_sql(?)", [sql]).fetchone()
    except duckdb.Error as e:
        raise FilterError(str(e).splitlines()[0]) from None
    finally:
        con.close()
    tree: dict[str, Any] = json.loads(raw[0]) if raw else {}
    if tree.get("error"):
        kind = tree.get("error_type") or "parser"
        raise FilterError(f"{kind} error: {tree.get('error_message') or 'the filter is not valid SQL'}")
    return tree


def _check_top(top: dict[str, Any], table: str) -> None:
    """The outer statement must still be the SELECT we wrote, with nothing appended to it."""
    select = top.get("select_list") or []
    same = (
        top.get("type") == "SELECT_NODE"
        and not top.get("modifiers")
        and not top.get("group_expressions")
        and not top.get("group_sets")
        and top.get("having") is None
        and top.get("qualify") is None
        and top.get("sample") is None
        and len(select) == 1
        and select[0].get("column_names") == ["id"]
        and _own_table(top.get("from_table") or {}, {table})
    )
    if not same:
        raise FilterError("the filter must be a single predicate, e.g. duration_s > 2 AND fps >= 24")


def _own_table(src: dict[str, Any], tables: set[str]) -> bool:
    return (
        src.get("type") == "BASE_TABLE"
        and not src.get("schema_name")
        and not src.get("catalog_name")
        and str(src.get("table_name", "")).lower() in tables
    )


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for v in node.values():
            yield from _walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from _walk(v)
