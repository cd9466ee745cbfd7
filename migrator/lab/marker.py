"""Every process the lab starts outside a host carries a marker: ``MIGRATOR_LAB_DIR=<lab dir>``
in its environment, so ``down`` finds them all, also those no pid file knows of.

A pid file alone misses what a killed run started (a fakepve brought up by a reinstall whose
runner was SIGKILLed before recording it) and what a killed wrapper left behind. The marker
is inherited by whatever such a process forks or execs with its environment (sshd's
per-connection children), and read back from ``/proc/PID/environ`` (the environment at exec).
A lab host's own processes live in its PID namespace, whose init is its sshd: they end with it.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

MARKER = "MIGRATOR_LAB_DIR"


def marked_env(lab_dir: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """``base`` (default: this process's environment) with the lab's marker."""
    return {**(os.environ if base is None else base), MARKER: str(lab_dir.resolve())}


def marked_processes(lab_dir: Path) -> list[int]:
    """PIDs (as this PID namespace knows them) of live processes marked with ``lab_dir``."""
    needle = f"{MARKER}={lab_dir.resolve()}".encode()
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            entries = environ.read_bytes().split(b"\0")
        except OSError:
            continue  # gone, or a kernel thread
        pid = int(environ.parent.name)
        if needle in entries and pid != os.getpid() and _running(pid):
            found.append(pid)
    return found


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def stop_marked(lab_dir: Path, timeout: float = 5.0) -> list[int]:
    """SIGTERM every marked process, SIGKILL what is left after ``timeout``; the PIDs found."""
    pids = marked_processes(lab_dir)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(_running(pid) for pid in pids):
        time.sleep(0.05)
    for pid in marked_processes(lab_dir):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue
    return pids
