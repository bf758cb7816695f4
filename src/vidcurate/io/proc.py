"""Child processes that die with their parent.

A run's worker processes and the ffmpeg processes they start must not outlive the run, even when
the main process is killed with SIGKILL (no handler runs then). On Linux the kernel can deliver a
signal to a child when its parent dies (`PR_SET_PDEATHSIG`); every process we start asks for
SIGKILL that way, and checks right after that the parent it was started by is still there (it
may have died between fork and prctl). Elsewhere a watchdog thread polls the parent pid.

External programs (ffmpeg) are started through util-linux `setpriv --pdeathsig KILL` when it is
installed: a `preexec_fn` would force Python's slow fork path for every child (about 12 ms each
from a worker holding a decoder), while `setpriv` keeps the fast spawn and then sets the same
death signal before it execs the program.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from functools import cache
from typing import Any

_PR_SET_PDEATHSIG = 1


@cache
def libc() -> Any:
    """The C library on Linux (loaded once), else None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return None


def _prctl_pdeathsig(sig: int) -> bool:
    try:
        return libc() is not None and int(libc().prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)) == 0
    except AttributeError:
        return False


def die_with_parent(parent_pid: int | None = None) -> None:
    """Make this process receive SIGKILL when its parent dies (call first thing in a child)."""
    parent = parent_pid if parent_pid is not None else os.getppid()
    if _prctl_pdeathsig(signal.SIGKILL):
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)
        return
    watch_parent(parent)


def watch_parent(parent_pid: int, interval_s: float = 1.0) -> None:
    """Fallback where prctl is missing: a daemon thread that exits the process once the parent is gone."""

    def loop() -> None:
        while True:
            time.sleep(interval_s)
            if os.getppid() != parent_pid:
                os._exit(1)

    threading.Thread(target=loop, name="vidcurate-parent-watch", daemon=True).start()


def _child_setup() -> None:  # runs in the forked child, before exec
    _prctl_pdeathsig(signal.SIGKILL)


_SETPRIV = shutil.which("setpriv") if sys.platform.startswith("linux") else None


def popen(cmd: Sequence[str], **kwargs: Any) -> subprocess.Popen[bytes]:
    """`subprocess.Popen` whose child is killed when the calling thread's process dies."""
    if _SETPRIV is not None:
        return subprocess.Popen([_SETPRIV, "--pdeathsig", "KILL", "--", *cmd], **kwargs)
    return subprocess.Popen(list(cmd), preexec_fn=_child_setup, **kwargs)


def run(
    cmd: Sequence[str], *, input: bytes | None = None, timeout: float | None = None, capture: bool = True
) -> subprocess.CompletedProcess[bytes]:
    """`subprocess.run` (no shell, stdin closed unless `input`) with the parent-death rule of `popen`."""
    stdin = subprocess.PIPE if input is not None else subprocess.DEVNULL
    out = subprocess.PIPE if capture else subprocess.DEVNULL
    with popen(cmd, stdin=stdin, stdout=out, stderr=out) as proc:
        try:
            stdout, stderr = proc.communicate(input, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            proc.kill()
            stdout, stderr = proc.communicate()
            exc.stdout, exc.stderr = stdout, stderr
            raise
        except BaseException:
            proc.kill()
            raise
        return subprocess.CompletedProcess(list(cmd), proc.returncode, stdout, stderr)
