"""Error types. Row errors become data (the `error` column); config errors stop a run with one line."""

from __future__ import annotations


class VidcurateError(Exception):
    """Base for every error this package raises on purpose."""


class ConfigError(VidcurateError):
    """A recipe, stage parameter or command-line value is wrong. Fatal, reported as one line."""


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
