"""WebDataset tar shards: `<name>-000000.tar`, one sample per media file: `<key>.<ext>` + `<key>.json`.

A QA dataset asks many questions about one video; the video is stored once per shard set and its
rows travel together in the sample's json: ``{"path", "media", "rows": [row, ...]}`` (each row
with its conversations, caption, answer, span, probe facts). The driver sorts rows by path so
all rows of a file arrive together. Keys have no dots (webdataset splits a member name at its
first dot) and are unique. A shard closes at `--shard-size` samples or before `--shard-bytes`
would be exceeded (a sample larger than that gets a shard of its own). Media bytes stream from
disk into the tar, each shard is written under a temp name and renamed when complete, and shards
left over from an earlier, longer export of the same name are removed so a glob never mixes two
exports. A span is metadata unless `--materialize` (then each clip is its own sample).
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import os
import re
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import ByteSize, Field

from vidcurate.export.base import Exporter, Sample, export_row
from vidcurate.export.options import ExportOptions
from vidcurate.export.skiplog import SkipLog
from vidcurate.io.fs import fsync_path, publish_mode, temp_sibling


def _padded(n: int, name: str) -> int:
    """Bytes one member takes: header (+ a pax header for a long name), data padded to 512."""
    header = 512 if len(name) < 100 else 2048
    return header + (n + 511) // 512 * 512


def _archive_size(n: int) -> int:
    """A closed archive: two zero blocks, rounded up to tarfile's 10 KiB records."""
    return -(-(n + 1024) // tarfile.RECORDSIZE) * tarfile.RECORDSIZE


class _Shard:
    def __init__(self, dest: Path) -> None:
        self.dest = dest
        self.tmp = temp_sibling(dest)
        self.tar = tarfile.open(self.tmp, "w", format=tarfile.PAX_FORMAT)  # noqa: SIM115 - closed in close()
        self.count = 0

    def add(self, name: str, fileobj: io.BufferedIOBase, size: int, mtime: float) -> None:
        info = tarfile.TarInfo(name)
        info.size, info.mtime, info.mode = size, int(mtime), 0o644
        self.tar.addfile(info, fileobj)

    def size_with(self, more: int) -> int:
        """The shard's size on disk if `more` member bytes were added."""
        return _archive_size(self.tar.offset + more)

    def close(self) -> None:
        self.tar.close()
        publish_mode(self.tmp)
        fsync_path(self.tmp)
        os.replace(self.tmp, self.dest)

    def discard(self) -> None:
        self.tar.close()
        with contextlib.suppress(FileNotFoundError):
            self.tmp.unlink()


class WebDatasetOptions(ExportOptions):
    """Shard sizes of a WebDataset export."""

    shard_size: int = Field(1000, ge=1, description="max samples per shard")
    shard_bytes: ByteSize | None = Field(None, gt=0, description="max bytes per shard, e.g. 500M")


class WebDatasetExporter(Exporter[WebDatasetOptions]):
    """WebDataset tar shards of <key>.<ext> media + <key>.json metadata."""

    name = "webdataset"
    description = "WebDataset tar shards <name>-%06d.tar: each media file once + its rows as json (--shard-size)"
    conversations: ClassVar[Literal["required", "if_present", "ignore"]] = "if_present"
    group_by_media: ClassVar[bool] = True
    Options = WebDatasetOptions

    @property
    def needs_media_file(self) -> bool:
        return True

    def shard_path(self, index: int) -> Path:
        return self.out_dir / f"{self.dataset_name}-{index:06d}.tar"

    def write(self, samples: Iterator[Sample], log: SkipLog) -> list[Path]:
        cfg = self.cfg
        self.out_dir.mkdir(parents=True, exist_ok=True)
        shards: list[Path] = []
        cur: _Shard | None = None
        rows = media = 0
        try:
            for group in _by_file(samples):
                first = group[0]
                try:
                    fh = open(first.src, "rb")  # noqa: SIM115 - closed below
                except OSError as e:
                    for sample in group:
                        log.skip(sample.id, f"media file not readable: {sample.src} ({e.strerror})")
                    continue
                with fh:
                    st = os.fstat(fh.fileno())
                    doc = {"path": first.rel, "media": first.media, "rows": [_row(s) for s in group]}
                    meta = json.dumps(doc, ensure_ascii=False, default=str).encode("utf-8")
                    ext = first.src.suffix.lower().lstrip(".") or ("jpg" if first.media == "image" else "mp4")
                    names = (f"{first.key}.{ext}", f"{first.key}.json")
                    need = _padded(st.st_size, names[0]) + _padded(len(meta), names[1])
                    full = cur is not None and (
                        cur.count >= cfg.shard_size
                        or (cfg.shard_bytes is not None and cur.size_with(need) > cfg.shard_bytes)
                    )
                    if cur is not None and full:
                        cur.close()
                        cur = None
                    if cur is None:
                        shards.append(self.shard_path(len(shards)))
                        cur = _Shard(shards[-1])
                    cur.add(names[0], fh, st.st_size, st.st_mtime)
                    cur.add(names[1], io.BytesIO(meta), len(meta), st.st_mtime)
                    cur.count += 1
                for _ in group:
                    log.ok()
                rows += len(group)
                media += 1
            if cur is not None:
                cur.close()
                cur = None
        finally:
            if cur is not None:
                cur.discard()
        self._remove_stale(len(shards))
        if shards:
            self.notes.append(
                f"{len(shards)} shards: {self.out_dir}/{self.dataset_name}-{{000000..{len(shards) - 1:06d}}}.tar "
                f"({media} media files, each stored once, holding {rows} rows)"
            )
        return shards

    def _remove_stale(self, n: int) -> None:
        """Shards of this name numbered >= n are from an earlier, longer export: remove them."""
        pat = re.compile(re.escape(self.dataset_name) + r"-(\d{6})\.tar")
        for p in self.out_dir.iterdir():
            m = pat.fullmatch(p.name)
            if m and int(m.group(1)) >= n and p.is_file():
                p.unlink()


def _row(sample: Sample) -> dict[str, Any]:
    row = export_row(sample.row)
    row["path"] = sample.rel
    return row


def _by_file(samples: Iterator[Sample]) -> Iterator[list[Sample]]:
    """Consecutive samples of one media file (the driver sorts rows by path) as one group."""
    for _, group in itertools.groupby(samples, key=lambda s: s.src):
        yield list(group)
