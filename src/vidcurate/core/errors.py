"""Error types, and the one rule that turns an exception into a row error.

Three kinds of failure, three outcomes:

* `RowError` (and any unforeseen exception in one row): the row's fault. It becomes data — the
  `error` and `error_kind` columns — and the run carries on.
* `ConfigError`: the user's recipe or command line is wrong. The run stops with one line.
* `EnvironmentFault`: the machine's fault — disk full, a file-size limit, out of memory, a child
  process killed by a signal. Never a row error (the row is fine; a rerun after the fault is gone
  must redo it): the shard is not committed and the run stops with one line naming the fault.

`row_error` is the only place an exception becomes error columns; every stage, the shard runner
and the LLM stages call it, so messages have one format: `<stage>: <message>` in `error` and
`<stage>:<kind>` in `error_kind`.
"""

from __future__ import annotations

import errno
import traceback

# errno values that say "the machine", not "this input"
FAULT_ERRNOS = frozenset(
    e
    for e in (
        errno.ENOSPC,  # disk full
        getattr(errno, "EDQUOT", None),  # quota exceeded
        errno.EFBIG,  # file-size limit (ulimit -f) or filesystem limit
        errno.ENOMEM,
        errno.EROFS,  # the output filesystem went read-only
        errno.EIO,  # the disk itself failed
    )
    if e is not None
)


class VidcurateError(Exception):
    """Base for every error this package raises on purpose."""


class ConfigError(VidcurateError):
    """A recipe, stage parameter or command-line value is wrong. Fatal, reported as one line."""


class EnvironmentFault(VidcurateError):
    """The machine failed the work (disk full, file-size limit, out of memory, a killed child).

    Fatal for the run, never recorded in a row: a rerun once the fault is gone redoes the work.
    """


class RowError(VidcurateError):
    """One row cannot be processed. The engine records it in the row and carries on.

    `kind` is a short machine-readable tag (``empty``, ``invalid_data``, ``no_video_stream``...);
    the message says, in words a user understands, what is wrong with which input.
    """

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message

    def __str__(self) -> str:
        return self.message


class ProbeError(RowError):
    """A media file cannot be opened, has no usable video stream, or does not decode."""


def fault_of(exc: BaseException) -> EnvironmentFault | None:
    """The environment fault behind `exc` (itself, or a cause in its chain), else None."""
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, EnvironmentFault):
            return e
        if isinstance(e, MemoryError):
            return EnvironmentFault("out of memory (MemoryError)")
        if isinstance(e, OSError) and e.errno in FAULT_ERRNOS:
            where = f": {e.filename}" if e.filename else ""
            return EnvironmentFault(f"{e.strerror or errno.errorcode.get(e.errno or 0, 'OSError')}{where}")
        e = e.__cause__ or e.__context__
    return None


def describe(exc: BaseException) -> str:
    """One line: the exception's words, prefixed by its type unless it is one of ours, plus where."""
    if isinstance(exc, RowError):
        return one_line(exc.message)
    text = str(exc)
    if isinstance(exc, VidcurateError):
        return one_line(text or type(exc).__name__)
    tb = traceback.extract_tb(exc.__traceback__)
    where = f" (at {tb[-1].filename.rsplit('/', 1)[-1]}:{tb[-1].lineno})" if tb else ""
    return one_line(f"{type(exc).__name__}: {text}{where}")


def one_line(text: str) -> str:
    """Newlines folded into ` | ` (ffmpeg's stderr tail), so an error stays one line."""
    parts = [p.strip() for p in str(text).splitlines() if p.strip()]
    return " | ".join(parts)


def mark_error(stage: str, kind: str, message: str) -> dict[str, str]:
    """The two error columns for a row that failed in `stage`."""
    return {"error": f"{stage}: {message}", "error_kind": f"{stage}:{kind}"}


def row_error(stage: str, exc: BaseException, *, kind: str | None = None, context: str | None = None) -> dict[str, str]:
    """The error columns for a row that failed in `stage` with `exc`.

    A `ConfigError` and an environment fault are re-raised: neither is the row's fault. `kind`
    overrides the error kind (default: the `RowError` kind, an exception's own `kind` attribute,
    else its type name); `context` prefixes the message (e.g. the scorer that failed).
    """
    if isinstance(exc, ConfigError):
        raise exc
    fault = fault_of(exc)
    if fault is not None:
        raise fault from exc
    k = kind or getattr(exc, "kind", None) or type(exc).__name__
    msg = describe(exc)
    return mark_error(stage, str(k), f"{context}: {msg}" if context else msg)


def raise_if_fatal(exc: BaseException) -> None:
    """Re-raise what must stop the run (config errors, environment faults); return otherwise."""
    if isinstance(exc, ConfigError):
        raise exc
    fault = fault_of(exc)
    if fault is not None:
        raise fault from exc
