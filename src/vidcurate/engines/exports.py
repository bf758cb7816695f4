"""A recipe's export steps, run on the combined manifest once every shard is done (a barrier).

An export goes to `out` (relative paths are inside the run folder) or `<run>/export/<format>`.
It is redone only when its options or the manifest changed: the step's fingerprint (options plus
the manifest's bytes) is kept beside the run's other state.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, cast

from vidcurate.core.recipe import ExportSpec
from vidcurate.export import driver
from vidcurate.export.options import ExportOptions
from vidcurate.io.fs import atomic_path, file_sha1
from vidcurate.io.runfolder import RunFolder, read_json

STATE = ".exports.json"


def run_exports(folder: RunFolder, steps: list[ExportSpec]) -> list[dict[str, Any]]:
    """Run each export step (or reuse its output); what each wrote, for the summary."""
    if not steps:
        return []
    state_path = folder.path / STATE
    state = read_json(state_path) or {}
    manifest_sha = file_sha1(folder.manifest)
    done: list[dict[str, Any]] = []
    for step in steps:
        out = _out_path(folder, step)
        opts = step.options.model_copy(update={"out": out})
        key = hashlib.sha1(f"{step.fingerprint()}|{out}|{manifest_sha}".encode()).hexdigest()[:16]
        label = f"{step.format}@{step.index}"
        prior = state.get(label) or {}
        if prior.get("key") == key and all(Path(p).exists() for p in prior.get("outputs", [])):
            done.append({**prior["result"], "resumed": True})
            continue
        result = driver.export(step.format, folder.manifest, cast(ExportOptions, opts))
        summary = {
            "format": step.format,
            "outputs": [str(p) for p in result.outputs],
            "written": result.written,
            "skipped": dict(result.skipped),
            "notes": result.notes,
        }
        state[label] = {"key": key, "outputs": summary["outputs"], "result": summary}
        done.append({**summary, "resumed": False})
        with atomic_path(state_path) as tmp:
            tmp.write_text(json.dumps(state, indent=2))
    return done


def _out_path(folder: RunFolder, step: ExportSpec) -> Path:
    given = getattr(step.options, "out", None)
    if given is None:
        return folder.output_dir("export") / step.format
    p = Path(given).expanduser()
    return p if p.is_absolute() else folder.path / p
