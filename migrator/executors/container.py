"""Run commands inside a Proxmox LXC container with ``pct exec``, through its host's transport.

``off2/ct:101`` means: on host off2, ``pct exec 101 -- sh -c ...``. Secrets ride on stdin into
the container (``pct exec`` passes stdin through) and are exported there by the same prelude
as on a plain host, so they appear on no command line, on the host or in the container.

Stopping on timeout: the host transport kills ``pct exec`` (its process group on the host),
but processes inside the container live in the container's own pid namespace. So every run
exports a unique ``MIGRATOR_RUN`` marker inside the container, and a second ``pct exec``
signals every process whose environment carries it.
"""

from __future__ import annotations

import logging
import shlex
import uuid
from collections.abc import Mapping
from typing import Protocol

from migrator.errors import CommandTimeout, ConnectError
from migrator.executors.base import CommandResult, LineSink, no_output, to_shell
from migrator.executors.shellwrap import inner_script, kill_by_marker_script
from migrator.plan.checks import Command

log = logging.getLogger(__name__)

MARKER_VAR = "MIGRATOR_RUN"
KILL_TIMEOUT = 30.0
KILL_GRACE = 3.0  # seconds between TERM and KILL


class ScriptRunner(Protocol):
    """What a container needs from its host's transport (SSHTransport and LocalTransport have it)."""

    target: str

    def execute(
        self,
        script: str,
        *,
        stdin: bytes = b"",
        timeout: float | None = None,
        sudo: bool = False,
        on_line: LineSink = no_output,
    ) -> CommandResult: ...

    def close(self) -> None: ...


def pct_exec(ctid: int, script: str) -> str:
    """The host-side command: ``pct exec CTID -- sh -c SCRIPT``."""
    return shlex.join(["pct", "exec", str(ctid), "--", "sh", "-c", script])


class ContainerTransport:
    """A :class:`~migrator.executors.base.Transport` into container ``ctid`` on a Proxmox host."""

    def __init__(self, host_transport: ScriptRunner, ctid: int) -> None:
        self.host_transport = host_transport
        self.ctid = ctid
        self.target = f"{host_transport.target}/ct:{ctid}"

    def build(self, command: Command, env: Mapping[str, str] | None, marker: str) -> tuple[str, bytes]:
        """``(host script, stdin prefix)`` for ``command`` with ``env`` and the run ``marker``."""
        script, env_data = inner_script(to_shell(command), env)
        if not env:
            # inner_script returned the bare command: give it its own shell, as with env.
            script = f"exec sh -c {shlex.quote(script)}"
        inside = f"{MARKER_VAR}={shlex.quote(marker)}; export {MARKER_VAR}; {script}"
        return pct_exec(self.ctid, inside), env_data

    def kill_command(self, marker: str) -> str:
        """Stop every process of run ``marker`` in the container (TERM, grace, KILL)."""
        return pct_exec(self.ctid, kill_by_marker_script(f"{MARKER_VAR}={marker}", KILL_GRACE))

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
        # pct needs root on the host whatever the step says; inside, commands run as root.
        marker = uuid.uuid4().hex
        script, env_data = self.build(command, env, marker)
        data = env_data + (stdin.encode() if stdin else b"")
        try:
            return self.host_transport.execute(
                script, stdin=data, timeout=timeout, sudo=True, on_line=on_line
            )
        except CommandTimeout:
            self._kill_inside(marker)
            raise

    def _kill_inside(self, marker: str) -> None:
        try:
            self.host_transport.execute(self.kill_command(marker), timeout=KILL_TIMEOUT, sudo=True)
        except (ConnectError, CommandTimeout) as exc:
            # The timeout is what the caller must hear about; this is a follow-up problem.
            log.warning("could not stop the processes of run %s in %s: %s", marker, self.target, exc)

    def close(self) -> None:
        """The host transport is shared with the host's own steps; Connections closes it."""
