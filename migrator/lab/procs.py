"""Daemons the stand-ins start (stunnel through ``systemctl``), recorded so ``down`` stops them.

A stand-in records ``{"pid", "argv", "pidns"}`` for each daemon in the host's (or container's)
state under ``units``; a PID is only signalled while its command line (and PID namespace)
still match, so a recycled PID is never killed. Each lab host has its own PID namespace:
its daemons' PIDs mean nothing outside it (``pidns`` says which one), and they end with
the host's sshd, the namespace's init.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any


def cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def pid_namespace(pid: int | str = "self") -> str:
    """``pid:[4026532...]``: which PID namespace ``pid`` lives in ("" if it is gone)."""
    try:
        return os.readlink(f"/proc/{pid}/ns/pid")
    except OSError:
        return ""


def matches(pid: int, argv: list[str], pidns: str | None = None) -> bool:
    """Whether ``pid`` still runs ``argv`` (not a zombie), in PID namespace ``pidns`` if given."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return False
    if pidns and pid_namespace(pid) != pidns:
        return False
    return stat[0] != "Z" and cmdline(pid) == argv


def terminate(
    pid: int, argv: list[str], timeout: float = 3.0, pidns: str | None = None, sig: str = "SIGTERM"
) -> bool:
    """``sig`` (the daemon's own stop signal) then SIGKILL ``pid`` if it still runs ``argv``;
    whether it was running."""
    if not matches(pid, argv, pidns):
        return False
    try:
        os.kill(pid, signal.Signals[sig])
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not matches(pid, argv, pidns):
            return True
        time.sleep(0.02)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return True
    return True


def _state_files(state_dir: Path) -> list[Path]:
    files = [state_dir / "state.json"]
    files += sorted(state_dir.glob("ct/*/root/var/lib/migrator-lab/state.json"))
    return [f for f in files if f.exists()]


def stop_recorded_daemons(state_dir: Path) -> list[str]:
    """Stop the daemons recorded in a host's state and its containers' states."""
    stopped = []
    for path in _state_files(state_dir):
        state: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        for unit, info in state.get("units", {}).items():
            pid, argv = info.get("pid"), info.get("argv")
            stop = str(info.get("stop_signal", "SIGTERM"))
            if pid and argv and terminate(int(pid), list(argv), pidns=info.get("pidns"), sig=stop):
                stopped.append(f"{unit} (pid {pid})")
    return stopped
