"""Check kind -> how to probe it, judge it and name it; the three public entry points."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from migrator.checks import host, network, pve, zfs, zpool_status
from migrator.checks.base import CheckResult, Probe, ProbeOutput, UnreadableOutput, shorten
from migrator.plan.checks import Check

C = TypeVar("C")


@dataclass(frozen=True)
class Handler(Generic[C]):
    """The three pure functions behind one check kind."""

    probe: Callable[[C], Probe]
    evaluate: Callable[[C, ProbeOutput], CheckResult]
    describe: Callable[[C], str]


HANDLERS: dict[str, Handler[Any]] = {
    "command": Handler(host.probe_command, host.evaluate_command, host.describe_command),
    "tcp_open": Handler(network.probe_tcp, network.evaluate_tcp, network.describe_tcp),
    "tcp_closed": Handler(network.probe_tcp, network.evaluate_tcp, network.describe_tcp),
    "listening_only_on": Handler(
        network.probe_listening, network.evaluate_listening, network.describe_listening
    ),
    "systemd_active": Handler(host.probe_systemd, host.evaluate_systemd, host.describe_systemd),
    "zpool_healthy": Handler(
        zpool_status.probe_zpool_healthy,
        zpool_status.evaluate_zpool_healthy,
        zpool_status.describe_zpool_healthy,
    ),
    "zpool_unique": Handler(zfs.probe_zpool_unique, zfs.evaluate_zpool_unique, zfs.describe_zpool_unique),
    "zfs_dataset": Handler(zfs.probe_zfs_dataset, zfs.evaluate_zfs_dataset, zfs.describe_zfs_dataset),
    "pve_quorate": Handler(pve.probe_quorate, pve.evaluate_quorate, pve.describe_quorate),
    "pve_storage_active": Handler(pve.probe_storage, pve.evaluate_storage, pve.describe_storage),
    "file": Handler(host.probe_file, host.evaluate_file, host.describe_file),
    "http_status": Handler(network.probe_http, network.evaluate_http, network.describe_http),
    "pve_api": Handler(pve.probe_api, pve.evaluate_api, pve.describe_api),
}


def _handler(check: Check) -> Handler[Any]:
    # Every kind of migrator.plan.checks.CHECK_KINDS is here (a test holds it to that).
    return HANDLERS[check.kind]


def probe_for(check: Check) -> Probe:
    """The read-only command (or API GET) whose output :func:`evaluate` judges."""
    return _handler(check).probe(check)


def describe(check: Check) -> str:
    """One line naming what the check proves: its ``description`` if the plan gave one."""
    if check.description:
        return shorten(check.description)
    return _handler(check).describe(check)


def evaluate(check: Check, output: ProbeOutput) -> CheckResult:
    """Judge ``output`` of :func:`probe_for` ``(check)``. Pure; never raises on odd output.

    Holds, does not hold, or cannot tell: output that is no answer about the thing checked
    (a missing tool, an exit status that is not one of the tool's answers, garbage, a killed
    probe) gives a ``cannot_tell`` result whose message says why.
    """
    try:
        result = _handler(check).evaluate(check, output)
    except UnreadableOutput as e:
        return CheckResult.cannot_tell(
            observed="no answer",
            expected=shorten(e.expected),
            message=shorten(f"cannot tell '{describe(check)}': {e.reason}", 240),
        )
    # One line each, whatever the tool printed: the TUI shows these in table cells.
    return CheckResult(
        passed=result.passed,
        observed=shorten(result.observed),
        expected=shorten(result.expected),
        message=shorten(result.message, 240),
        unknown=result.unknown,
    )
