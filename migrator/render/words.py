"""Plain-text pieces shared by every output format: markers, one-line actions, check texts.

The terminal, the markdown runbook, the JSON document and the TUI must say the same thing
about a step in the same words, so those words are built here once.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass

from migrator.estimates import Estimate, WindowSummary, written
from migrator.plan.checks import (
    Check,
    CommandCheck,
    FileCheck,
    HttpCheck,
    ListeningCheck,
    PveApiCheck,
    PveQuorateCheck,
    PveStorageCheck,
    SystemdCheck,
    TcpCheck,
    ZfsDatasetCheck,
    ZpoolAbsentCheck,
    ZpoolHealthyCheck,
)
from migrator.plan.durations import format_duration
from migrator.plan.model import Plan, Step, StepKind


@dataclass(frozen=True)
class Marker:
    """A flag worth seeing at a glance, with a symbol and a plain-letter fallback."""

    key: str
    symbol: str
    letter: str
    meaning: str


DESTRUCTIVE = Marker("destructive", "⚠", "D", "destructive: asks for confirmation")
MANUAL = Marker("manual", "✋", "M", "manual: a person does it")
IRREVERSIBLE = Marker("irreversible", "⛔", "I", "irreversible: no rollback")
NO_RETURN = Marker("point_of_no_return", "⏵", "P", "point of no return: go/no-go before it")
MARKERS: tuple[Marker, ...] = (DESTRUCTIVE, MANUAL, IRREVERSIBLE, NO_RETURN)


def markers_of(step: Step) -> list[Marker]:
    found = []
    if step.destructive:
        found.append(DESTRUCTIVE)
    if step.kind is StepKind.MANUAL:
        found.append(MANUAL)
    if step.irreversible:
        found.append(IRREVERSIBLE)
    if step.point_of_no_return:
        found.append(NO_RETURN)
    return found


def shell_text(command: str | list[str]) -> str:
    """The command exactly as it runs: argv lists quoted like the executors quote them."""
    return command if isinstance(command, str) else shlex.join(command)


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def one_line(text: str) -> str:
    return " ".join(text.split())


def action_line(step: Step) -> str:
    """What the step does, on one line (the table cell may shorten it further)."""
    if step.kind in (StepKind.SSH, StepKind.LOCAL) and step.command is not None:
        return ("sudo " if step.sudo else "") + one_line(shell_text(step.command))
    if step.kind is StepKind.PROXMOX and step.call is not None:
        return f"{step.call.method} {step.call.path}"
    if step.kind is StepKind.MANUAL:
        first = one_line(step.instructions or "")
        items = plural(len(step.checklist), "item")
        return f"{items}: {first}" if first else items
    if step.kind is StepKind.WAIT and step.until is not None:
        # Our own words here, not the checks package's: the overview must not pay for
        # importing the checks registry (tens of ms of the 0.3 s `migrator plan` budget).
        return "until " + (step.until.description or fallback_description(step.until))
    return step.title


def estimates_or_written(plan: Plan, estimates: Mapping[str, Estimate] | None) -> dict[str, Estimate]:
    return dict(estimates) if estimates is not None else written(plan)


def duration(seconds: int | None) -> str:
    if seconds is None:
        return "?"
    if seconds < 0:
        return "-" + format_duration(-seconds)
    return format_duration(seconds)


def slack_text(summary: WindowSummary) -> str:
    if summary.slack_seconds is None:
        return "no window set"
    if summary.slack_seconds < 0:
        return f"over by {format_duration(-summary.slack_seconds)}: the plan does not fit the window"
    return f"slack {format_duration(summary.slack_seconds)}"


# --- checks ------------------------------------------------------------------------------


def describe_check(check: Check) -> str:
    """The operator's words for a check: its own description, else the checks package's, else ours."""
    if check.description:
        return check.description
    try:
        from migrator.checks import describe  # type: ignore[attr-defined]
    except ImportError:
        # migrator.checks.describe is written by another part of the project; until it
        # exists, the fallback below keeps `migrator plan` working.
        return fallback_description(check)
    return str(describe(check))


def probe_text(check: Check) -> str | None:
    """The exact probe (a shell command or an API GET), when the checks package can build it."""
    try:
        from migrator.checks import probe_for  # type: ignore[attr-defined]
    except ImportError:
        # Without the checks package's probe builder only a command check's probe is known.
        return shell_text(check.command) if isinstance(check, CommandCheck) else None
    probe = probe_for(check)
    command = getattr(probe, "command", None)
    if command is not None:
        return shell_text(command)
    path = getattr(probe, "path", None)
    return f"GET /api2/json{path}" if path is not None else None


def check_place(check: Check, step: Step) -> str:
    """Where the check is probed: its ``on`` host, else the step's target."""
    return check.probe_from or step.host


def fallback_description(check: Check) -> str:
    """One line per check kind, from its fields."""
    if isinstance(check, CommandCheck):
        text = f"`{one_line(shell_text(check.command))}` exits {check.exit_code}"
        if check.stdout_contains is not None:
            text += f", output contains '{check.stdout_contains}'"
        if check.stdout_matches is not None:
            text += f", output matches /{check.stdout_matches}/"
        if check.stdout_lacks is not None:
            text += f", output lacks '{check.stdout_lacks}'"
        return text
    if isinstance(check, TcpCheck):
        state = "is open" if check.kind == "tcp_open" else "is closed"
        return f"TCP {check.address}:{check.port} {state}"
    if isinstance(check, ListeningCheck):
        ports = f" on ports {', '.join(map(str, check.ports))}" if check.ports else ""
        must = " (and something listens)" if check.must_listen else ""
        return f"listening sockets{ports} only on {', '.join(check.allowed)}{must}"
    if isinstance(check, SystemdCheck):
        return f"systemd unit {check.unit} is {check.state}"
    if isinstance(check, ZpoolHealthyCheck):
        size = f", at least {check.min_size}" if check.min_size else ""
        return f"pool {check.pool} is ONLINE without errors{size}"
    if isinstance(check, ZpoolAbsentCheck):
        return f"only one pool named {check.pool} (no stale one in zpool import)"
    if isinstance(check, ZfsDatasetCheck):
        if not check.exists:
            return f"dataset {check.dataset} does not exist"
        props = ", ".join(f"{k}={v}" for k, v in check.properties.items())
        return f"dataset {check.dataset} exists" + (f" with {props}" if props else "")
    if isinstance(check, PveQuorateCheck):
        return f"cluster is quorate with {check.nodes} node{'s' if check.nodes != 1 else ''}"
    if isinstance(check, PveStorageCheck):
        return f"storages active: {', '.join(check.storages)}"
    if isinstance(check, FileCheck):
        if not check.exists:
            return f"{check.path} does not exist"
        details = [f"mode {check.mode}" if check.mode else "", f"owner {check.owner}" if check.owner else "",
                   f"group {check.group}" if check.group else "",
                   f"contains '{check.contains}'" if check.contains else ""]
        extra = ", ".join(d for d in details if d)
        return f"{check.path} exists" + (f" ({extra})" if extra else "")
    if isinstance(check, HttpCheck):
        host = f" (Host: {check.host_header})" if check.host_header else ""
        return f"{check.url}{host} answers HTTP {check.status}"
    if isinstance(check, PveApiCheck):
        expect = ", ".join(f"{k}={v}" for k, v in check.expect.items())
        return f"Proxmox API GET {check.path} answers" + (f" with {expect}" if expect else "")
    raise AssertionError(f"no description for check kind {check.kind}")  # every kind is listed above
