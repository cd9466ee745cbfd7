"""Helpers for the detached-job tests: a transport on this machine that can run the job
snippets as a systemd host would (a private mount namespace in which /run/systemd/system
exists, sd_booted's own test) with the transient-unit stand-in on PATH, and one that fails
its first calls like a dropped connection."""

from __future__ import annotations

import shlex
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from migrator.errors import ConnectError
from migrator.executors.base import CommandResult, LineSink, no_output
from migrator.executors.local import LocalTransport
from migrator.plan.checks import Command

REPO = Path(__file__).resolve().parents[2]


def standin_bin(directory: Path) -> Path:
    """``systemd-run``, ``systemctl``, ``journalctl``: the stand-in of migrator.lab.standins.transient."""
    directory.mkdir(parents=True, exist_ok=True)
    for tool in ("systemd-run", "systemctl", "journalctl"):
        script = directory / tool
        script.write_text(
            f"#!/bin/sh\nPYTHONPATH={shlex.quote(str(REPO))} exec {shlex.quote(sys.executable)} "
            f'-m migrator.lab.standins.transient {tool} "$@"\n'
        )
        script.chmod(0o755)
    return directory


class SystemdHost:
    """Runs every command in a fresh mount namespace where /run is a tmpfs holding
    /run/systemd/system, and the stand-in is first on PATH (its unit state lives in ``state``)."""

    target = "systemd-host"

    def __init__(self, bin_dir: Path, state: Path) -> None:
        self._local = LocalTransport()
        path, units = shlex.quote(str(bin_dir)), shlex.quote(str(state))
        self._prefix = f"export PATH={path}:$PATH MIGRATOR_STANDIN_SYSTEMD={units}; "

    def run(
        self,
        command: Command,
        *,
        env: Mapping[str, str] | None = None,
        stdin: str | None = None,
        timeout: float | None = None,
        sudo: bool = False,
        on_line: LineSink = no_output,
    ) -> CommandResult:
        assert isinstance(command, str)
        inner = "mount -t tmpfs none /run && mkdir -p /run/systemd/system && " + self._prefix + command
        return self._local.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", inner],
                               env=env, stdin=stdin, timeout=timeout, on_line=on_line)  # fmt: skip

    def close(self) -> None:
        self._local.close()


class Flaky:
    """A transport whose calls fail with ConnectError while ``down`` is positive (each failed
    call counts one down), like an SSH connection that dropped and comes back."""

    def __init__(self, inner: Any, down: int) -> None:
        self.inner, self.down, self.target = inner, down, "flaky"
        self.calls = 0

    def run(self, command: Command, **kw: Any) -> CommandResult:
        self.calls += 1
        if self.calls > 2 and self.down > 0:  # after start and one poll: the connection drops
            self.down -= 1
            raise ConnectError("Connection reset by peer", where="flaky")
        result: CommandResult = self.inner.run(command, **kw)
        return result

    def close(self) -> None:
        self.inner.close()
