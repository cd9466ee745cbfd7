"""Probing one check: pick where it runs, run its probe there, judge the output.

A check is read-only, so dry-runs run it against the real hosts; they must be able to tell a
failed check from a host they cannot reach. So a probe that cannot connect (or runs past its
short timeout) comes back as a *failed* :class:`CheckResult` whose ``observed`` starts with
``unreachable:``, instead of an exception. A refused SSH host key is the one exception that
propagates: a changed key must stop everything loudly, never look like a flaky network.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from migrator.checks import describe, evaluate, probe_for
from migrator.checks.base import ApiProbe, CheckResult, CommandProbe, ProbeOutput
from migrator.errors import CommandTimeout, ConnectError, ExecutorError, HostKeyError, ProxmoxError
from migrator.plan.inventory import Inventory

if TYPE_CHECKING:
    from migrator.executors.base import Transport
    from migrator.plan.checks import Check
    from migrator.plan.model import Step

PROBE_TIMEOUT = 30.0
"""Seconds a probe command may run: checks are quick questions, not work."""

UNREACHABLE = "unreachable: "


class ApiCaller(Protocol):
    """What checking needs from a Proxmox client: one plain API call."""

    def call(self, method: str, path: str, params: dict[str, Any] | None = None) -> Any: ...


def probe_target(check: Check, step: Step) -> str:
    """Where ``check`` is probed: its own ``on``, else the step's target."""
    return check.probe_from or step.host


def unreachable(check: Check, reason: str) -> CheckResult:
    """The failed result of a probe that could not reach its target."""
    return CheckResult(
        passed=False,
        observed=UNREACHABLE + reason,
        expected=describe(check),
        message=f"could not probe: {reason}",
    )


class CheckProber:
    """Runs checks through the registry's transports and Proxmox clients."""

    def __init__(
        self,
        inventory: Inventory,
        *,
        transport_for: Callable[[str], Transport],
        api_for: Callable[[str], ApiCaller],
        redactor: Callable[[str], str],
        timeout: float = PROBE_TIMEOUT,
    ) -> None:
        self._inventory = inventory
        self._transport_for = transport_for
        self._api_for = api_for
        self._redact = redactor
        self._timeout = timeout

    def check(self, check: Check, step: Step) -> CheckResult:
        """Probe ``check`` once and judge it. Raises only HostKeyError and plan mistakes."""
        target = probe_target(check, step)
        probe = probe_for(check)
        try:
            if isinstance(probe, CommandProbe):
                output = self._run_command(probe, target)
            else:
                output = self._call_api(probe, target)
        except HostKeyError:
            raise
        except ConnectError as exc:
            return unreachable(check, self._redact(exc.message))
        except CommandTimeout:
            return unreachable(check, f"no answer from {target} within {self._timeout:g}s")
        return evaluate(check, output)

    def _run_command(self, probe: CommandProbe, target: str) -> ProbeOutput:
        transport = self._transport_for(target)
        result = transport.run(probe.command, timeout=self._timeout)
        return ProbeOutput(
            exit_code=result.exit_code,
            stdout=self._redact(result.stdout),
            stderr=self._redact(result.stderr),
            data=None,
        )

    def _call_api(self, probe: ApiProbe, target: str) -> ProbeOutput:
        host, _ = self._inventory.resolve_target(target)
        if host not in self._inventory.proxmox:
            raise ExecutorError(
                f"no Proxmox endpoint for '{host}' in inventory '{self._inventory.name}'",
                where=f"check on {target}",
                hint="add it under proxmox: in the inventory, or set `on:` to a Proxmox host",
            )
        try:
            data = self._api_for(host).call("GET", probe.path, {})
        except ProxmoxError as exc:
            # The API answered with an error (a missing guest is a 500 in PVE): that is an
            # observation about the system for the evaluator, not a failure of the run.
            return ProbeOutput(exit_code=1, stdout="", stderr=self._redact(exc.message), data=None)
        return ProbeOutput(exit_code=0, stdout="", stderr="", data=data)
