"""The report's yield section: per dataset, how many rows were fetched, how many bytes, and why the
others were not (404, private, geo-blocked, timeout, bad content...)."""

from __future__ import annotations

from html import escape

from vidcurate.report import data as rd
from vidcurate.report import parts as hp


def yield_rows(run: rd.Run) -> list[dict[str, object]]:
    """(source, asked, fetched, bytes, reasons) per dataset, from the rows the download stage saw."""
    if "download_bytes" not in run.columns:
        return []
    src = "coalesce(source, '')" if "source" in run.columns else "''"
    kind = "error_kind" if "error_kind" in run.columns else "NULL::VARCHAR"
    return run.rows(
        f"SELECT {src} AS source, count(*) AS asked, count(download_bytes) AS fetched, "
        "coalesce(sum(download_bytes), 0) AS bytes, "
        f"list({kind}) FILTER (WHERE {kind} LIKE 'download:%') AS kinds "
        f"FROM allrows GROUP BY {src} ORDER BY 1"
    )


def downloads_section(run: rd.Run) -> str:
    rows = yield_rows(run)
    if not rows:
        return ""
    head = hp.tr(["dataset", "rows", "fetched", "yield", "bytes", "not fetched, by reason"], {1, 2, 3, 4}, head=True)
    body = [head]
    for r in rows:
        asked, fetched = int(r["asked"]), int(r["fetched"])  # type: ignore[call-overload]
        kinds: dict[str, int] = {}
        for k in r["kinds"] or []:  # type: ignore[attr-defined]
            kinds[k.split(":", 1)[1]] = kinds.get(k.split(":", 1)[1], 0) + 1
        chips = hp.chips(sorted(kinds.items(), key=lambda x: -x[1]), "e")
        body.append(hp.tr([escape(str(r["source"]) or "-"), f"{asked:,}", f"{fetched:,}",
                           f"{100 * fetched / max(asked, 1):.1f} %", f"{int(r['bytes']) / 2**20:,.1f} MB",  # type: ignore[call-overload]
                           f'<div class="chips">{chips}</div>'], {1, 2, 3, 4}))  # fmt: skip
    return hp.section("downloads", "Downloads", f'<div class="panel"><table>{"".join(body)}</table></div>')
