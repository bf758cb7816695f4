"""`vidcurate view RUN_DIR`: a local, read-only web viewer of a run's kept and rejected rows.

The filter box takes a SQL predicate evaluated by DuckDB over the run's rows (`report/catalog.py`,
`report/predicate.py`): it selects ids of the run's own rows, within a time limit. Media are served
by row id (`/media/<id>`), never by a path the client sends, and the row is always looked up in the
run's own tables: only files the manifest references can be fetched (never a row whose path left
its dataset root), with HTTP range requests (Starlette's FileResponse answers `Range` with 206) so
the browser can seek. Thumbnails come from the same cache as the report (`RUN_DIR/thumbs`). On a
non-loopback address every request needs the viewer's token.
"""

from __future__ import annotations

import mimetypes
import secrets
import threading
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Query
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request

from vidcurate.core.errors import ConfigError
from vidcurate.report.catalog import Catalog, unsafe_path
from vidcurate.report.predicate import FilterError
from vidcurate.report.thumbs import Clip, thumbnail

MAX_LIMIT = 500
COOKIE = "vidcurate_token"
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


def create_app(run_dir: str | Path, *, host: str = "127.0.0.1", token: str | None = None) -> FastAPI:
    """The viewer's app.

    Bound to a loopback host, it refuses other Host headers (DNS rebinding). Bound to any other
    address it needs `token` (serve() makes one when none is given): a request must carry it as
    `Authorization: Bearer <token>`, the `vidcurate_token` cookie, or `?token=` (which sets the
    cookie); anything else is refused with 401.
    """
    if host not in LOOPBACK and not token:
        raise ConfigError("the viewer on a non-loopback address needs a token (--token, or let it make one)")
    cat = Catalog(run_dir)
    thumbs_gate = threading.BoundedSemaphore(2)  # decoding is CPU work: a grid of 60 must not start 60 decodes
    app = FastAPI(title="vidcurate viewer", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.catalog = cat
    if host in LOOPBACK:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=["127.0.0.1", "localhost", "[::1]"])

    @app.middleware("http")
    async def headers(request: Request, call_next: Any) -> Response:
        given = None
        if token is not None:
            given = _token_of(request)
            if given is None or not secrets.compare_digest(given, token):
                return JSONResponse({"error": "a token is needed: open the URL the viewer printed"}, status_code=401)
        resp: Response = await call_next(request)
        if token is not None and request.query_params.get("token") == given:
            resp.set_cookie(COOKIE, token, httponly=True, samesite="strict")
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
            "filtered": cat.filtered_columns(),
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
        why = unsafe_path(row)
        if why is not None:
            raise HTTPException(403, f"not shown: {why}")
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
        why = unsafe_path(row)
        if why is not None:
            raise HTTPException(403, f"not served: {why}")
        path = cat.media_path(row)
        if path is None:
            raise HTTPException(404, "the file this row references is missing")
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return FileResponse(path, media_type=kind, content_disposition_type="inline")

    return app


def serve(
    run_dir: str | Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    token: str | None = None,
    log_level: str = "warning",
    say: Callable[[str], None] = print,
) -> None:
    """Run the viewer with uvicorn until interrupted (a token is made for a non-loopback host)."""
    import uvicorn

    if host not in LOOPBACK:
        token = token or secrets.token_urlsafe(18)
        say(
            f"warning: the viewer listens on {host}, beyond this machine; it needs its token. "
            f"Open http://{host}:{port}/?token={token}"
        )
    else:
        say(f"vidcurate viewer on http://{host}:{port}/  (Ctrl+C to stop)")
    app = create_app(run_dir, host=host, token=token)
    try:
        uvicorn.run(app, host=host, port=port, log_level=log_level)
    finally:
        app.state.catalog.close()


# --- helpers -------------------------------------------------------------------------------------


def _token_of(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return request.cookies.get(COOKIE) or request.query_params.get("token")


def _static(name: str) -> str:
    return resources.files("vidcurate.report").joinpath(f"static/{name}").read_text(encoding="utf-8")
