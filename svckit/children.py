"""Child processes that run in sessions of their own, so that a signal reaches everything
each one started (a gunicorn master's workers, PostgreSQL's backends, an Erlang VM's port
programs) and a Ctrl-C meant for the parent does not reach them before the parent asks.

Used by svckit.stack and svckit.cluster.
"""
import os
import signal
import subprocess
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO

from svckit.layout import ROOT


def spawn(command: Sequence[str], env: dict, log: IO | None = None,
          cwd: Path | None = None) -> subprocess.Popen:
    """Start `command` in a new session; its output goes to `log` (None: inherited)."""
    return subprocess.Popen(list(command), env=env, cwd=cwd or ROOT, stdout=log,
                            stderr=subprocess.STDOUT if log else None, start_new_session=True)


def signal_group(proc: subprocess.Popen, sig: int):
    """Send `sig` to the process group of `proc` (nothing if it is gone)."""
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def kill(proc: subprocess.Popen):
    """SIGKILL to the whole group, and wait for the process."""
    signal_group(proc, signal.SIGKILL)
    proc.wait()


def stop(procs: Iterable[subprocess.Popen], sig: int = signal.SIGTERM, timeout: float = 15.0):
    """Ask every running process's group to stop with `sig`, all at once; a group whose
    process has not exited after `timeout` seconds is killed."""
    procs = list(procs)
    for proc in procs:
        if proc.poll() is None:
            signal_group(proc, sig)
    deadline = time.monotonic() + timeout
    for proc in procs:
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            kill(proc)
