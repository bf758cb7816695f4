"""`vidcurate fetch-archive`: get a dataset's archives (files, URLs, hf://), index and extract them safely."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Annotated

import typer

from vidcurate.cli.app import app, err, out
from vidcurate.core.errors import ConfigError


@app.command("fetch-archive")
def fetch_archive(
    sources: Annotated[
        list[str], typer.Argument(help="archive files or folders, http(s) URLs, hf://datasets/O/N/PATTERN")
    ],
    output: Annotated[Path, typer.Option("-o", "--output", help="folder the files are extracted into")],
    list_only: Annotated[bool, typer.Option("--list", help="only write the index (member -> archive)")] = False,
    need: Annotated[
        Path | None, typer.Option(help="a CSV/Parquet of rows: extract only the archives their files are in")
    ] = None,
    column: Annotated[str, typer.Option(help="the column of --need naming each file")] = "video",
) -> None:
    """Split parts (x.zip.001, x.tar.gz.partaa, x_partaa) are read in order without a joined copy;
    members that would land outside the folder (.., absolute, links out) refuse the archive."""
    from vidcurate.io import archives

    files = _resolve(sources, output)
    groups = archives.group_parts(files)
    idx = list(archives.index(groups))
    output.mkdir(parents=True, exist_ok=True)
    with open(output / "archive_index.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["member", "archive"])
        w.writerows(idx)
    out.print(f"{len(groups)} archives, {len(idx)} files: index in {output / 'archive_index.csv'}", highlight=False)
    if list_only:
        return
    chosen = groups
    if need is not None:
        wanted = _names(need, column)
        keep = archives.needed(idx, wanted)
        chosen = {k: v for k, v in groups.items() if k in keep}
        found = sum(len(v) for v in keep.values())
        out.print(f"{found} of {len(set(wanted))} wanted files are in {len(chosen)} archives", highlight=False)
    for name, parts in chosen.items():
        got = archives.extract(parts, output)
        err.print(f"{name}: {len(got)} files extracted ({len(parts)} part{'s' if len(parts) > 1 else ''})")


def _resolve(sources: list[str], output: Path) -> list[Path]:
    from vidcurate.io import hub

    files: list[Path] = []
    for s in sources:
        if hub.is_hub(s):
            files += hub.fetch(s, output / ".hub")
        elif s.startswith(("http://", "https://")):
            files.append(_download(s, output / ".parts"))
        else:
            p = Path(s).expanduser()
            if p.is_dir():
                files += sorted(x for x in p.iterdir() if x.is_file())
            elif p.is_file():
                files.append(p)
            else:
                raise ConfigError(f"fetch-archive: {s} does not exist")
    return files


def _download(url: str, folder: Path) -> Path:
    from urllib.parse import urlparse

    from vidcurate.stages.download.http import Fetcher, FetchOptions

    folder.mkdir(parents=True, exist_ok=True)
    name = Path(urlparse(url).path).name or "archive"
    done = folder / name
    if done.is_file():
        return done
    fetcher = Fetcher(FetchOptions(timeout_s=60.0, max_retries=6))
    try:
        path, _ = fetcher.fetch(url, folder, name)
    finally:
        fetcher.close()
    path.replace(done)  # keep the archive's own name (parts are ordered by it)
    return done


def _names(path: Path, column: str) -> list[str]:
    from vidcurate.io.manifest import read_manifest

    table = read_manifest(path)
    if column not in table.column_names:
        raise ConfigError(f"--need {path}: no column '{column}' (columns: {', '.join(table.column_names)})")
    return [str(v) for v in table.column(column).to_pylist() if v]
