"""zpool_healthy: read ``zpool status -P`` and ``zpool list -H -p`` (OpenZFS 2.1/2.2).

The layout read here is the one ``cmd/zpool/zpool_main.c`` prints: a header of
``  pool:``/`` state:``/``  scan:`` lines, a ``config:`` table (``\\tNAME STATE READ WRITE
CKSUM`` then one tab-indented line per vdev, with ``logs``/``cache``/``spares``/``special``/
``dedup`` section lines), then ``errors:``. A missing device shows its guid as the name and
``was /dev/...`` after the counters. The off2 PCI-NVMe incident (2023) left a pool importable
only with ``-m`` because of a missing log device: that is a failure here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from migrator.checks.base import (
    CheckResult,
    CommandProbe,
    ProbeOutput,
    UnreadableOutput,
    check_ran,
    first_line,
    format_size,
    listed,
    parse_size,
    sh,
    shorten,
)
from migrator.plan.checks import ZpoolHealthyCheck

LIST_MARKER = "--- zpool list ---"
"""Printed between the two commands of the probe, so one output holds both answers."""

_SECTIONS = {"logs", "cache", "spares", "special", "dedup"}
_GROUP_VDEV = re.compile(r"^(mirror|raidz\d?|draid\d?\S*|spare|replacing|root)-\d+$")
_BAD_STATES = {"DEGRADED", "FAULTED", "OFFLINE", "UNAVAIL", "REMOVED", "SUSPENDED"}
_NO_ERRORS = "No known data errors"
_ROLE = {"logs": "log ", "cache": "cache ", "spares": "spare ", "special": "special ", "dedup": "dedup "}


@dataclass(frozen=True)
class Vdev:
    name: str
    state: str
    errors: tuple[str, str, str]
    """READ, WRITE, CKSUM as printed (``0``, ``14``, ``1.2K``)."""
    section: str
    """``data`` for the main tree, else ``logs``, ``cache``, ``spares``..."""
    note: str
    """What follows the counters, e.g. ``was /dev/nvme2n1p2`` or ``too many errors``."""

    @property
    def short_name(self) -> str:
        # /dev/disk/by-id/ata-...-part3 is long; its last part is what people recognise.
        return self.name.rsplit("/", 1)[-1]

    @property
    def has_errors(self) -> bool:
        return any(count != "0" for count in self.errors)


@dataclass(frozen=True)
class PoolStatus:
    state: str
    vdevs: list[Vdev]
    errors: str


def probe_zpool_healthy(check: ZpoolHealthyCheck) -> CommandProbe:
    status = sh("zpool", "status", "-P", check.pool)
    size = sh("zpool", "list", "-H", "-p", "-o", "name,size,health", check.pool)
    return CommandProbe(f"{status} && echo {sh(LIST_MARKER)} && {size}")


def describe_zpool_healthy(check: ZpoolHealthyCheck) -> str:
    return f"zpool {check.pool} {_expected(check)}"


def _expected(check: ZpoolHealthyCheck) -> str:
    text = "ONLINE, no errors"
    return text + (f", size >= {check.min_size}" if check.min_size else "")


def parse_status(text: str, *, expected: str) -> PoolStatus:
    """Parse one pool's ``zpool status -P`` output."""
    state = errors = None
    vdevs: list[Vdev] = []
    in_config = False
    section = "data"
    for raw in text.splitlines():
        line = raw.strip()
        if not in_config:
            if line.startswith("state:"):
                state = line.removeprefix("state:").strip()
            elif line == "config:":
                in_config = True
            continue
        if line.startswith("errors:"):
            errors = line.removeprefix("errors:").strip()
            in_config = False
            continue
        fields = line.split()
        if not fields or fields[:2] == ["NAME", "STATE"]:
            continue
        if len(fields) == 1 and fields[0] in _SECTIONS:
            section = fields[0]
            continue
        if len(fields) >= 5 and all(_is_count(count) for count in fields[2:5]):
            vdevs.append(
                Vdev(fields[0], fields[1], (fields[2], fields[3], fields[4]), section, " ".join(fields[5:]))
            )
        elif len(fields) >= 2 and section == "spares":
            vdevs.append(Vdev(fields[0], fields[1], ("0", "0", "0"), section, " ".join(fields[2:])))
        else:
            raise UnreadableOutput(f"cannot read the vdev line {shorten(line, 60)!r}", expected=expected)
    if not state or errors is None or not vdevs:
        raise UnreadableOutput("`zpool status` output has no state, config or errors line", expected=expected)
    return PoolStatus(state, vdevs, errors)


def _is_count(text: str) -> bool:
    return re.fullmatch(r"\d+(\.\d+)?[KMGTPE]?", text) is not None


def _size_from_list(text: str, pool: str, *, expected: str) -> int:
    for line in text.splitlines():
        fields = line.split("\t")
        if len(fields) == 3 and fields[0] == pool and fields[1].isdigit():
            return int(fields[1])
    raise UnreadableOutput("`zpool list -H -p` printed no size for the pool", expected=expected)


def _problems(pool: str, status: PoolStatus) -> list[str]:
    problems = []
    for vdev in status.vdevs:
        if vdev.name == pool or _GROUP_VDEV.match(vdev.name):
            continue  # the pool and mirror-0/raidz1-0 only echo their leaves' state
        text = _ROLE.get(vdev.section, "") + vdev.short_name
        if vdev.state in _BAD_STATES:
            text += f" {vdev.state}" + (f" ({vdev.note})" if vdev.note.startswith("was ") else "")
        if vdev.has_errors:
            counts = zip(vdev.errors, ("read", "write", "cksum"), strict=True)
            text += (
                " with " + ", ".join(f"{count} {kind}" for count, kind in counts if count != "0") + " errors"
            )
        if vdev.state in _BAD_STATES or vdev.has_errors:
            problems.append(text)
    if status.errors != _NO_ERRORS:
        problems.append(f"errors: {status.errors}")
    return problems


def evaluate_zpool_healthy(check: ZpoolHealthyCheck, output: ProbeOutput) -> CheckResult:
    expected = _expected(check)
    check_ran(output, "zpool", expected=expected)
    if output.exit_code != 0:
        error = first_line(output.stderr)
        if "no such pool" in error:
            return CheckResult(False, "no such pool", expected, f"zpool {check.pool} does not exist")
        raise UnreadableOutput(
            f"`zpool status` failed ({error or f'exit {output.exit_code}'})", expected=expected
        )
    status_text, marker, list_text = output.stdout.partition(LIST_MARKER + "\n")
    if not marker:
        raise UnreadableOutput("the `zpool list` part of the output is missing", expected=expected)
    status = parse_status(status_text, expected=expected)
    size = _size_from_list(list_text, check.pool, expected=expected)

    problems = _problems(check.pool, status)
    minimum = parse_size(check.min_size) if check.min_size else None
    if check.min_size and minimum is None:
        problems.append(f"min_size {check.min_size!r} is not a size")
    elif minimum is not None and size < minimum:
        problems.append(f"size {format_size(size)} < {check.min_size}")

    if status.state == "ONLINE" and not problems:
        observed = f"ONLINE, no errors, {format_size(size)}"
        return CheckResult(True, observed, expected, f"zpool {check.pool}: {observed}")
    observed = shorten(", ".join([status.state, *problems]))
    detail = listed(problems, 6) or "see `zpool status`"
    return CheckResult(False, observed, expected, shorten(f"zpool {check.pool} is {status.state}: {detail}"))
