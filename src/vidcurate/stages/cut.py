"""The `cut` stage: turn virtual clips (a span of a file) into clip files (`io.clip.cut_clip`).

Clips go to the run's `clips/` folder (or `<out_dir>/clips`), one file per row, named after the
row id: an id that is already a safe file name is used as it is; any other id gets a readable
prefix plus a hash of the id, so `x y`, `x_y` and `x/y` are three files. Each row then points at
its clip (`path`), keeps where it came from (`source_path`, `source_start_s`, ...), and carries the
clip's own probe facts, except `decode_errors`: the errors met decoding the source stay counted.
Every clip written is recorded with the run, which removes clips that no row references any more
(after a threshold change) and never touches a file it did not write.
Several ffmpeg processes run at once (``jobs``), each with ``threads`` threads.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from vidcurate.core import schema
from vidcurate.core.errors import ConfigError, RowError
from vidcurate.core.stage import Columns, NonBlankStr, Resources, RowStage, StageContext
from vidcurate.io.clip import ClipOptions, cut_clip
from vidcurate.io.probe import PROBE_KEYS

SPAN_KEYS = ("start_s", "end_s", "start_frame", "end_frame")
CUT_COLUMNS = (
    "path",
    "cut_mode",
    "source_path",
    "source_start_s",
    "source_end_s",
    "source_start_frame",
    "source_end_frame",
    *SPAN_KEYS,
    *(k for k in PROBE_KEYS if k != "media"),
)
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


class CutConfig(ClipOptions):
    """Where clips go and how they are encoded."""

    out_dir: NonBlankStr | None = Field(
        None,
        description="clips go to <out_dir>/clips/<clip_id>.mp4; default: the run folder "
        "(a relative path is taken from the current folder)",
    )
    jobs: int = Field(2, ge=1, description="ffmpeg processes at once per worker")


def clip_name(clip_id: str) -> str:
    """A file name (without extension) for an id; different ids always give different names.

    Safe ids (letters, digits, `_.-`, starting with a letter or digit, no `..`) are used as they
    are. Any other id becomes `_<readable part>-<hash of the id>`: the leading `_` keeps those
    names apart from every safe id, and the hash keeps them apart from each other.
    """
    cid = str(clip_id)
    if _SAFE_ID.fullmatch(cid) and ".." not in cid:
        return cid
    readable = re.sub(r"[^A-Za-z0-9_.-]+", "_", cid).strip("._")[:60]
    return f"_{readable}-{hashlib.sha1(cid.encode('utf-8', 'surrogatepass')).hexdigest()[:12]}"


class ClipCutter(RowStage[CutConfig]):
    """Writes each row's span as a clip file and points the row at it."""

    name: ClassVar[str] = "cut"
    resources: ClassVar[Resources] = Resources(cpus=2.0)
    requires: ClassVar[tuple[str, ...]] = ("id", "path")
    columns: ClassVar[Columns] = schema.core_columns(CUT_COLUMNS)

    def __init__(self, config: CutConfig | None = None) -> None:
        super().__init__(config)
        out = self.config.out_dir
        self._dir: Path | None = Path(out).expanduser().resolve() / "clips" if out is not None else None

    def setup(self, ctx: StageContext | None = None) -> None:
        super().setup(ctx)
        if self._dir is not None:
            return
        if not self.context.in_run:
            raise ConfigError("cut: give out_dir (clips go to <run folder>/clips only when the stage runs in a run)")
        self._dir = self.context.output_dir("clips").resolve()

    def row_threads(self) -> int:
        return self.config.jobs

    def process_row(self, row: dict[str, Any]) -> dict[str, Any]:
        cfg = self.config
        if row.get("media") == "image":
            return {k: row.get(k) for k in CUT_COLUMNS}  # nothing to cut; the row passes unchanged
        if self._dir is None:
            raise ConfigError("cut: setup() was not called (use `with stage.running(ctx): ...`)")
        src = Path(row["path"]).expanduser().resolve()
        out = self._dir
        if out == src.parent or src.parent in out.parents:
            raise ConfigError(
                f"cut: clips would go to {out}, among the source videos in {src.parent}; "
                "choose an out_dir outside the folders that hold the videos"
            )
        if not str(row["id"]):
            raise RowError("bad_id", "an empty id cannot name a clip")
        dest = out / f"{clip_name(row['id'])}.mp4"
        facts = cut_clip(
            src,
            row.get("start_s"),
            row.get("end_s"),
            dest,
            cfg,
            start_frame=row.get("start_frame"),
            end_frame=row.get("end_frame"),
        )
        self.context.record(dest)
        return {
            **facts,
            # a clean re-encode hides what the source's decoder met: the count stays with the clip
            "decode_errors": max(int(row.get("decode_errors") or 0), int(facts.get("decode_errors") or 0)),
            "path": str(dest),
            "source_path": row["path"],
            # the clip is a whole file now: no span inside it
            **dict.fromkeys(SPAN_KEYS),
        }
