"""Dataset archives: split parts joined on the fly, safe extraction, an index of what is where.

Datasets ship as zip or tar(.gz) archives, often `split` into parts (`x.zip.001`, `x.tar.gz.partaa`,
OpenVid's `..._partaa`). `group_parts` orders the parts of each archive; `ConcatReader` presents
them as one seekable file, so a split zip is read in place (its central directory sits in the
last part) and a split tarball streams through, without a joined copy on disk. Extraction refuses
a member that would land outside the target: a `..` component, an absolute path, a drive letter,
or a link (symbolic or hard) pointing out; nothing of such an archive is written. `index` lists
each archive's members, so a dataset's rows can be mapped to the parts that hold their files and
only those fetched (`needed`).
"""

from __future__ import annotations

import io
import re
import shutil
import stat
import tarfile
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePosixPath

from vidcurate.core.errors import ConfigError
from vidcurate.io.fs import atomic_path

_PART = re.compile(r"^(?P<base>.+?)(?:\.(?P<num>\d{3})|[._]part(?P<alpha>[a-z]{2,3})|\.part(?P<pnum>\d+))$")


def group_parts(paths: Iterable[Path]) -> dict[str, list[Path]]:
    """Archive name -> its files in order (one file for an archive that is not split)."""
    groups: dict[str, list[tuple[str, Path]]] = {}
    for p in paths:
        m = _PART.match(p.name)
        if m:
            key = m.group("num") or m.group("alpha") or m.group("pnum").zfill(6)
            groups.setdefault(m.group("base"), []).append((key, p))
        else:
            groups.setdefault(p.name, []).append(("", p))
    return {name: [p for _, p in sorted(parts)] for name, parts in sorted(groups.items())}


class ConcatReader(io.RawIOBase):
    """Several files read as one, seekable (for zip's central directory) and streamable."""

    def __init__(self, parts: list[Path]) -> None:
        self.parts = parts
        self.sizes = [p.stat().st_size for p in parts]
        self.starts = [sum(self.sizes[:i]) for i in range(len(parts))]
        self.size = sum(self.sizes)
        self.pos = 0
        self._open: tuple[int, io.BufferedReader] | None = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self.pos, 2: self.size}[whence]
        self.pos = max(0, base + offset)
        return self.pos

    def readinto(self, buf: bytearray | memoryview) -> int:  # type: ignore[override]
        if self.pos >= self.size:
            return 0
        i = max(k for k, s in enumerate(self.starts) if s <= self.pos)
        if self._open is None or self._open[0] != i:
            if self._open is not None:
                self._open[1].close()
            self._open = (i, open(self.parts[i], "rb"))  # noqa: SIM115 - closed in close()
        f = self._open[1]
        f.seek(self.pos - self.starts[i])
        n = f.readinto(memoryview(buf)[: min(len(buf), self.sizes[i] - (self.pos - self.starts[i]))])
        self.pos += n
        return n

    def close(self) -> None:
        if self._open is not None:
            self._open[1].close()
            self._open = None
        super().close()


def _unsafe(name: str) -> str | None:
    """Why a member name may not be extracted (None: it is fine)."""
    if not name or "\x00" in name:
        return "an empty or NUL name"
    n = name.replace("\\", "/")
    if n.startswith("/") or re.match(r"^[A-Za-z]:", n):
        return "an absolute path"
    if ".." in PurePosixPath(n).parts:
        return "a '..' component"
    return None


def _kind(parts: list[Path]) -> str:
    with ConcatReader(parts) as r:
        head = r.read(262 + 8)
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "zip"
    if head[:2] == b"\x1f\x8b" or head[:3] == b"BZh" or head[:6] == b"\xfd7zXZ\x00" or head[257:262] == b"ustar":
        return "tar"
    raise ConfigError(f"{parts[0].name}: not a zip or tar archive")


def members(parts: list[Path]) -> list[str]:
    """The file members of one (possibly split) archive."""
    with ConcatReader(parts) as r:
        if _kind(parts) == "zip":
            with zipfile.ZipFile(r) as z:
                return [i.filename for i in z.infolist() if not i.is_dir()]
        with tarfile.open(fileobj=r, mode="r|*") as t:
            return [m.name for m in t if m.isfile()]


def extract(parts: list[Path], target: Path) -> list[Path]:
    """Extract one (possibly split) archive under `target`; a ConfigError names any unsafe member
    before anything is written."""
    target.mkdir(parents=True, exist_ok=True)
    root = target.resolve()
    kind = _kind(parts)
    problems = _check(parts, kind, root)
    if problems:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise ConfigError(f"{parts[0].name}: refused, members would leave {target}: {shown}")
    out: list[Path] = []
    with ConcatReader(parts) as r:
        if kind == "zip":
            with zipfile.ZipFile(r) as z:
                for info in z.infolist():
                    dest = root / info.filename
                    if info.is_dir():
                        dest.mkdir(parents=True, exist_ok=True)
                        continue
                    with z.open(info) as src, atomic_path(dest) as tmp, open(tmp, "wb") as f:
                        shutil.copyfileobj(src, f, 1 << 20)
                    out.append(dest)
        else:
            with tarfile.open(fileobj=r, mode="r|*") as t:
                for m in t:
                    if m.isdir():
                        (root / m.name).mkdir(parents=True, exist_ok=True)
                    elif m.isfile():
                        dest = root / m.name
                        member = t.extractfile(m)
                        assert member is not None
                        with member, atomic_path(dest) as tmp, open(tmp, "wb") as f:
                            shutil.copyfileobj(member, f, 1 << 20)
                        out.append(dest)
    return out


def _check(parts: list[Path], kind: str, root: Path) -> list[str]:
    problems: list[str] = []

    def outside(link_from: str, link_to: str) -> bool:
        base = (root / link_from).parent
        return not (base / link_to).resolve().is_relative_to(root) or link_to.startswith("/")

    with ConcatReader(parts) as r:
        if kind == "zip":
            with zipfile.ZipFile(r) as z:
                for info in z.infolist():
                    why = _unsafe(info.filename)
                    if why is None and stat.S_ISLNK(info.external_attr >> 16):
                        why = "a symbolic link"
                    if why:
                        problems.append(f"{info.filename!r} ({why})")
        else:
            with tarfile.open(fileobj=r, mode="r|*") as t:
                for m in t:
                    why = _unsafe(m.name)
                    if why is None and (m.issym() or m.islnk()) and outside(m.name, m.linkname):
                        why = f"a link to {m.linkname}"
                    elif why is None and not (m.isfile() or m.isdir() or m.issym() or m.islnk()):
                        why = "a device or FIFO"
                    if why:
                        problems.append(f"{m.name!r} ({why})")
    return problems


def index(groups: dict[str, list[Path]]) -> Iterator[tuple[str, str]]:
    """(member, archive) for every file of every archive."""
    for name, parts in groups.items():
        for m in members(parts):
            yield m, name


def needed(idx: Iterable[tuple[str, str]], wanted: Iterable[str]) -> dict[str, list[str]]:
    """Archive -> the wanted files it holds (matched on the file name, folders ignored)."""
    want = {PurePosixPath(w).name for w in wanted}
    out: dict[str, list[str]] = {}
    for member, archive in idx:
        if PurePosixPath(member).name in want:
            out.setdefault(archive, []).append(member)
    return out
