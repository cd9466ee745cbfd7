"""What a check probe is, what it returns, and what a judged check says.

A check is probed once (a read-only shell command on a host, or a GET on the Proxmox API)
and its output is judged by a pure ``evaluate`` function: no I/O, no clock, no state, so
every kind is tested with recorded outputs of the real tools (``tests/data/checks``).

The engine runs the probe; this package only builds it and reads its output.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from migrator.plan.checks import Command


@dataclass(frozen=True)
class CommandProbe:
    """Run ``command`` on the check's host. It must be read-only."""

    command: Command
    """A shell string (run by ``sh -c``) or an argv list."""


@dataclass(frozen=True)
class ApiProbe:
    """A GET on ``path`` of the target's Proxmox API.

    The engine puts the decoded JSON ``data`` in :attr:`ProbeOutput.data`; when the call
    fails it sets ``exit_code`` to a non-zero value and ``stderr`` to the error.
    """

    path: str


Probe = CommandProbe | ApiProbe


@dataclass(frozen=True)
class ProbeOutput:
    """What a probe returned. ``exit_code`` is ``None`` when the command was killed."""

    exit_code: int | None = None
    stdout: str = ""
    stderr: str = ""
    data: Any = None


class Outcome(StrEnum):
    """What a probed check says about the system: three values, never two.

    ``cannot_tell`` is a probe that produced no answer about the thing checked (the tool is
    missing, the host or the API did not answer, the output cannot be read): it is never read
    as holds nor as does not hold.
    """

    HOLDS = "holds"
    DOES_NOT_HOLD = "does_not_hold"
    CANNOT_TELL = "cannot_tell"

    @property
    def label(self) -> str:
        """How every front end names it: ``does not hold``."""
        return self.value.replace("_", " ")


@dataclass(frozen=True)
class CheckResult:
    """A judged check: short human texts, and one line for the operator.

    ``passed`` is the answer when there is one; ``unknown`` marks a check that cannot tell
    (then ``passed`` is False and ``message`` says why no answer came).
    """

    passed: bool
    observed: str
    expected: str
    message: str
    unknown: bool = False

    def __post_init__(self) -> None:
        if self.passed and self.unknown:
            raise ValueError("a check that cannot tell has not passed")

    @property
    def outcome(self) -> Outcome:
        if self.unknown:
            return Outcome.CANNOT_TELL
        return Outcome.HOLDS if self.passed else Outcome.DOES_NOT_HOLD

    @classmethod
    def cannot_tell(cls, observed: str, expected: str, message: str) -> CheckResult:
        """No answer about the thing checked: ``message`` says why."""
        return cls(False, observed, expected, message, unknown=True)


class UnreadableOutput(Exception):
    """The probe produced no answer about the thing checked; the check cannot tell.

    Raised by evaluators (a missing tool, an exit status that is not one of the tool's
    answers, output the evaluator cannot parse) and turned into a ``cannot_tell``
    :class:`CheckResult` by :func:`migrator.checks.evaluate`. It never leaves this package.
    """

    def __init__(self, reason: str, *, expected: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.expected = expected


# Texts shown to the operator are kept to one short line each: the TUI shows them in a
# table cell and the store keeps them per attempt.
MAX_TEXT = 160


def shorten(text: str, limit: int = MAX_TEXT) -> str:
    """One line, at most ``limit`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def first_line(text: str) -> str:
    """The first non-empty line of ``text``, stripped ("" when there is none)."""
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def listed(items: list[str], limit: int = 4) -> str:
    """``a, b, c and 2 more``: a list short enough for one line."""
    if len(items) <= limit:
        return ", ".join(items)
    return ", ".join(items[:limit]) + f" and {len(items) - limit} more"


def sh(*argv: str) -> str:
    """A shell command line from argv, every word quoted (no injection through names)."""
    return shlex.join(argv)


# How shells say a program is missing: bash ("bash: line 1: pct: command not found"),
# dash ("sh: 1: pct: not found"), busybox ("sh: pct: not found"), env/exec ("No such file").
_NOT_FOUND = re.compile(r"(?m)(command not found|^\S*sh: (?:(?:line )?\d+: )?\S+: not found)\s*$")


def missing_program(stderr: str) -> str | None:
    """The shell's "program not found" line in ``stderr``, or None."""
    match = _NOT_FOUND.search(stderr)
    if match is None:
        return None
    start = stderr.rfind("\n", 0, match.start()) + 1
    return stderr[start : match.end()].strip()


def check_ran(output: ProbeOutput, tool: str, *, expected: str) -> None:
    """Raise :class:`UnreadableOutput` when the probe never really ran ``tool``.

    Covers a killed probe and a missing program (exit 126/127, "command not found", also in
    a pipeline whose last command still exited); the evaluators then only deal with the
    tool's own answers.
    """
    if output.exit_code is None:
        raise UnreadableOutput(f"`{tool}` was killed before it answered", expected=expected)
    missing = missing_program(output.stderr)
    if output.exit_code in (126, 127) or missing:
        detail = missing or first_line(output.stderr) or f"exit {output.exit_code}"
        raise UnreadableOutput(f"`{tool}` could not be run ({detail})", expected=expected)


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGTPE]?)(i?B?)?\s*$", re.IGNORECASE)
_UNITS = "KMGTPE"


def parse_size(text: str) -> int | None:
    """``60G`` -> bytes, with ZFS's binary units (1K = 1024); ``None`` if not a size."""
    match = _SIZE.match(text)
    if match is None:
        return None
    number, unit = float(match.group(1)), match.group(2).upper()
    power = _UNITS.index(unit) + 1 if unit else 0
    return int(number * 1024**power)


def format_size(size: int) -> str:
    """Bytes -> ``64.5G`` (binary units, like ``zpool list``)."""
    value, unit = float(size), ""
    for bigger in _UNITS:
        if value < 1024:
            break
        value, unit = value / 1024, bigger
    if not unit:
        return f"{size}B"
    return f"{value:.1f}".removesuffix(".0") + unit
