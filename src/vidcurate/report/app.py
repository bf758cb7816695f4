"""`vidcurate view RUN_DIR`: a local, read-only web viewer of a run's kept and rejected rows.

The filter box takes a SQL predicate evaluated by DuckDB over the run's rows. DuckDB's own parse
checks it is one predicate whose subqueries read only the run's tables (`report/predicate.py`); it is
evaluated to a set of ids, and the rows shown are read from the run's two Parquet files by those ids.
DuckDB sees those files only as registered Arrow datasets, with file access switched off and its
configuration locked. Media are served by row id (`/media/<id>`), never by a path the client sends,
and the row is always looked up in the run's own tables: only files the manifest references can be
fetched, with HTTP range requests (Starlette's FileResponse answers `Range` with 206) so the browser
can seek. Thumbnails come from the same cache as the report (`RUN_DIR/thumbs`).
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import mimetypes
import threading
from collections import OrderedDict
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.dataset as pads
from fastapi import FastAPI, HTTPException, Query
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request

from vidcurate.core.errors import ConfigError
from vidcurate.io.runfolder import RunFolder
from vidcurate.report.predicate import FilterError, checked
from vidcurate.report.thumbs import Clip, thumbnail

MAX_LIMIT = 500
RECENT_ROWS = 2000  # rows looked up by id, kept for the /thumb and /media requests that follow
OWN_TABLES = ("rows", "_kept", "_rej")
LOOPBACK = ("127.0.0.1", "localhost", "::1")
STATIC = {"viewer.js": "text/javascript", "viewer.css": "text/css"}
NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT",
           "FLOAT", "DOUBLE", "REAL")  # fmt: skip
CSP = (
    "default-src 'self'; img-src 'self' data:; media-src 'self'; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
mimetypes.add_type("video/x-matroska", ".mkv")
mimetypes.add_type("video/webm", ".webm")


class Catalog:
    """The run's rows (kept and rejected, with `_status`) in a locked-down DuckDB connection."""

    def __init__(self, run_dir: str | Path) -> None:
        self.folder = RunFolder(run_dir)
        self.dir = self.folder.path
        manifest, rejected = self.folder.manifest, self.folder.rejected
        if not manifest.is_file() and not rejected.is_file():
            raise ConfigError(f"{self.dir} holds no {manifest.name}: is it a finished vidcurate run folder?")
        self.summary = self.folder.read_summary()
        self._lock = threading.Lock()
        self._recent: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.con = duckdb.connect()
        self.con.execute("SET threads TO 2")
        self.con.register("_kept", _dataset(manifest))
        self.con.register("_rej", _dataset(rejected))
        self.con.execute(
            "CREATE TEMP VIEW rows AS SELECT 'kept' AS _status, * FROM _kept "
            "UNION ALL BY NAME SELECT 'rejected' AS _status, * FROM _rej"
        )
        # From here on SQL can read the two registered datasets and nothing else.
        self.con.execute("SET enable_external_access = false")
        self.con.execute("SET lock_configuration = true")
        self.columns: dict[str, str] = {
            str(name): str(typ) for name, typ, *_ in self.con.execute("DESCRIBE SELECT * FROM rows").fetchall()
        }
        self.counts = dict(self.con.execute("SELECT _status, count(*) FROM rows GROUP BY ALL").fetchall())

    def predicate(self, where: str | None) -> str:
        """The filter as SQL, checked by DuckDB's own parse to be one predicate over the run's rows."""
        return checked(where, table="rows", allowed=OWN_TABLES)

    def query(
        self, *, where: str | None, status: str, sort: str | None, desc: bool, offset: int, limit: int
    ) -> tuple[int, list[dict[str, Any]]]:
        """One page of rows matching the filter.

        The predicate only ever yields ids; the rows themselves are read from the run's own tables,
        so a filter cannot add a row (or a path) that the run does not hold.
        """
        pred = self.predicate(where)
        scope = f"_status = '{status}'" if status in ("kept", "rejected") else "TRUE"
        order = ""
        if sort:
            if sort not in self.columns:
                raise FilterError(f"unknown sort column {sort!r}")
            order = f' ORDER BY "{_qi(sort)}" {"DESC" if desc else "ASC"} NULLS LAST, id'
        ids = f"SELECT id FROM rows WHERE {pred}"
        try:
            with self._lock:
                total = int(
                    self.con.execute(f"SELECT count(*) FROM rows WHERE {scope} AND id IN ({ids})").fetchall()[0][0]
                )
                rel = self.con.sql(
                    f"SELECT * FROM rows WHERE {scope} AND id IN ({ids}){order} LIMIT {int(limit)} OFFSET {int(offset)}"
                )
                table = _arrow(rel)
        except duckdb.Error as e:
            raise FilterError(_first_line(e)) from None
        return total, [_clean(r) for r in table.to_pylist()]

    def row(self, row_id: str) -> dict[str, Any] | None:
        """A row of the run by id, always read from the run's own tables (what media and thumbnails serve)."""
        with self._lock:
            hit = self._recent.get(row_id)
            if hit is not None:
                self._recent.move_to_end(row_id)
                return hit
            table = _arrow(self.con.sql("SELECT * FROM rows WHERE id = $id LIMIT 1", params={"id": row_id}))
            rows = table.to_pylist()
            if not rows:
                return None
            row: dict[str, Any] = _clean(rows[0])
            self._recent[row_id] = row
            while len(self._recent) > RECENT_ROWS:
                self._recent.popitem(last=False)
            return row

    def close(self) -> None:
        self.con.close()

    def media_path(self, row: dict[str, Any]) -> Path | None:
        """The file a row references, when it exists (relative paths: against the cwd, then the input's folder)."""
        raw = row.get("path")
        if not isinstance(raw, str) or not raw or "\x00" in raw:
            return None
        p = Path(raw)
        candidates = [p] if p.is_absolute() else [Path.cwd() / p]
        src = self.summary.get("input")
        if not p.is_absolute() and isinstance(src, str):
            base = Path(src)
            candidates.append((base if base.is_dir() else base.parent) / p)
        return next((c for c in candidates if c.is_file()), None)


def create_app(run_dir: str | Path, *, host: str = "127.0.0.1") -> FastAPI:
    """The viewer's app. Bound to a loopback host, it also refuses other Host headers (DNS rebinding)."""
    cat = Catalog(run_dir)
    thumbs_gate = threading.BoundedSemaphore(2)  # decoding is CPU work: a grid of 60 must not start 60 decodes
    app = FastAPI(title="vidcurate viewer", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.catalog = cat
    if host in LOOPBACK:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=["127.0.0.1", "localhost", "[::1]"])

    @app.middleware("http")
    async def headers(request: Request, call_next: Any) -> Response:
        resp: Response = await call_next(request)
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["Referrer-Policy"] = "no-referrer"
        resp.headers["Content-Security-Policy"] = CSP
        return resp

    @app.get("/", response_class=HTMLResponse)
    def index() -> HTMLResponse:
        return HTMLResponse(_static("viewer.html"))

    @app.get("/static/{name}")
    def static(name: str) -> Response:
        if name not in STATIC:
            raise HTTPException(404, "not found")
        return Response(_static(name), media_type=STATIC[name])

    @app.get("/api/meta")
    def meta() -> dict[str, Any]:
        recipe = cat.summary.get("recipe")
        return {
            "run": cat.dir.name,
            "dir": str(cat.dir),
            "recipe": Path(recipe).stem if isinstance(recipe, str) else None,
            "columns": [
                {"name": n, "type": t, "numeric": t in NUMERIC or t.startswith("DECIMAL")}
                for n, t in cat.columns.items()
            ],
            "counts": {"kept": cat.counts.get("kept", 0), "rejected": cat.counts.get("rejected", 0)},
        }

    @app.get("/api/rows")
    def rows(
        where: str | None = None,
        status: str = Query("kept", pattern="^(kept|rejected|all)$"),
        sort: str | None = None,
        order: str = Query("asc", pattern="^(asc|desc)$"),
        offset: int = Query(0, ge=0),
        limit: int = Query(60, ge=1, le=MAX_LIMIT),
    ) -> JSONResponse:
        try:
            total, items = cat.query(
                where=where, status=status, sort=sort or None, desc=order == "desc", offset=offset, limit=limit
            )
        except FilterError as e:
            return JSONResponse({"error": str(e)}, status_code=400)
        return JSONResponse({"total": total, "offset": offset, "rows": items})

    @app.get("/api/row/{row_id:path}")
    def one_row(row_id: str) -> JSONResponse:
        row = cat.row(row_id)
        if row is None:
            raise HTTPException(404, "no row with this id")
        return JSONResponse({"row": row})

    @app.get("/thumb/{row_id:path}")
    def thumb(row_id: str) -> Response:
        row = cat.row(row_id)
        if row is None:
            raise HTTPException(404, "no row with this id")
        with thumbs_gate:
            th = thumbnail(Clip.from_row(row), cat.dir)
        if th.jpeg is None:
            raise HTTPException(404, th.error or "no frames")
        return Response(th.jpeg, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})

    @app.get("/media/{row_id:path}")
    def media(row_id: str) -> FileResponse:
        row = cat.row(row_id)
        if row is None:
            raise HTTPException(404, "no row with this id")
        path = cat.media_path(row)
        if path is None:
            raise HTTPException(404, "the file this row references is missing")
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return FileResponse(path, media_type=kind, content_disposition_type="inline")

    return app


def serve(run_dir: str | Path, *, host: str = "127.0.0.1", port: int = 8765, log_level: str = "warning") -> None:
    """Run the viewer with uvicorn until interrupted."""
    import uvicorn

    app = create_app(run_dir, host=host)
    try:
        uvicorn.run(app, host=host, port=port, log_level=log_level)
    finally:
        app.state.catalog.close()


# --- helpers -------------------------------------------------------------------------------------


def _dataset(path: Path) -> pads.Dataset | pa.Table:
    if path.is_file():
        return pads.dataset(str(path), format="parquet")
    return pa.table({"id": pa.array([], pa.string()), "path": pa.array([], pa.string())})


def _static(name: str) -> str:
    return resources.files("vidcurate.report").joinpath(f"static/{name}").read_text(encoding="utf-8")


def _arrow(rel: duckdb.DuckDBPyRelation) -> pa.Table:
    fn = getattr(rel, "to_arrow_table", None) or rel.arrow
    out = fn()
    return out.read_all() if isinstance(out, pa.RecordBatchReader) else out


def _clean(v: Any) -> Any:
    """Values JSON can carry: NaN/inf -> null, bytes -> a size note, dates -> ISO text."""
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, dict):
        return {str(k): _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    if isinstance(v, (bytes, bytearray, memoryview)):
        return f"<{len(v)} bytes>"
    if isinstance(v, (dt.datetime, dt.date, dt.time)):
        return v.isoformat()
    if isinstance(v, dt.timedelta):
        return v.total_seconds()
    if isinstance(v, decimal.Decimal):
        return float(v)
    return v


def _first_line(e: Exception) -> str:
    lines = [x for x in str(e).splitlines() if x.strip()]
    return lines[0] if lines else type(e).__name__


def _qi(name: str) -> str:
    return name.replace('"', '""')
