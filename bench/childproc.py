"""Each side of a benchmark runs in a child process of its own, so its peak RSS is its own and its
imports happen before its clock starts. This starts one (`script --child ARGS...`) and reads the
JSON object it printed last."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any


def run_child(script: str | Path, *args: Any) -> dict[str, Any]:
    """Run `script --child *args` with this interpreter; the last stdout line, parsed as JSON."""
    p = subprocess.run(
        [sys.executable, str(script), "--child", *(str(a) for a in args)], capture_output=True, text=True, check=True
    )
    return dict(json.loads(p.stdout.strip().splitlines()[-1]))


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
