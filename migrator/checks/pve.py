"""Proxmox VE checks: pve_quorate (``pvecm status``), pve_storage_active (``pvesm status``)
and pve_api (a GET on the API, judged on its JSON ``data``)."""

from __future__ import annotations

import re
from typing import Any

from migrator.checks.base import (
    ApiProbe,
    CheckResult,
    CommandProbe,
    ProbeOutput,
    UnreadableOutput,
    check_ran,
    first_line,
    listed,
    shorten,
)
from migrator.plan.checks import PveApiCheck, PveQuorateCheck, PveStorageCheck

# --- pve_quorate -------------------------------------------------------------------------

# pvecm prints "%-17s %s" lines, then corosync-quorumtool -siH prints "Key:   value" lines.
_FIELD = re.compile(r"^([A-Z][A-Za-z ]*?):\s+(\S.*?)\s*$")
_NOT_A_CLUSTER = "is this node part of a cluster"


def probe_quorate(check: PveQuorateCheck) -> CommandProbe:
    return CommandProbe("pvecm status")


def describe_quorate(check: PveQuorateCheck) -> str:
    return f"cluster quorate with {check.nodes} node{'s' if check.nodes != 1 else ''}"


def _int_field(fields: dict[str, str], key: str) -> int | None:
    value = fields.get(key, "").split(" ", 1)[0]
    return int(value) if value.isdigit() else None


def evaluate_quorate(check: PveQuorateCheck, output: ProbeOutput) -> CheckResult:
    expected = f"quorate, {check.nodes} node{'s' if check.nodes != 1 else ''}"
    check_ran(output, "pvecm", expected=expected)
    if _NOT_A_CLUSTER in output.stderr:
        return CheckResult(
            False, "not in a cluster", expected, "this node is not part of a cluster (no corosync.conf)"
        )
    fields: dict[str, str] = {}
    for line in output.stdout.splitlines():
        if match := _FIELD.match(line.strip()):
            fields.setdefault(match.group(1), match.group(2))
    quorate, nodes = fields.get("Quorate"), _int_field(fields, "Nodes")
    if quorate not in ("Yes", "No") or nodes is None:
        detail = first_line(output.stderr) or "no 'Quorate:' and 'Nodes:' lines"
        raise UnreadableOutput(f"`pvecm status` gave no quorum information ({detail})", expected=expected)

    node_text = f"{nodes} node{'s' if nodes != 1 else ''}"
    total, wanted = _int_field(fields, "Total votes"), _int_field(fields, "Expected votes")
    votes = f", {total} of {wanted} votes" if total is not None and wanted is not None else ""
    name = fields.get("Name")
    cluster = f"cluster {name}" if name else "cluster"
    if quorate == "Yes" and nodes == check.nodes:
        observed = f"quorate, {node_text}"
        return CheckResult(True, observed, expected, f"{cluster} {observed}")
    observed = ("quorate" if quorate == "Yes" else "not quorate") + f", {node_text}{votes}"
    return CheckResult(False, observed, expected, f"{cluster} is {observed}, expected {expected}")


# --- pve_storage_active ------------------------------------------------------------------


def probe_storage(check: PveStorageCheck) -> CommandProbe:
    return CommandProbe("pvesm status")


def describe_storage(check: PveStorageCheck) -> str:
    return shorten(f"storage {', '.join(check.storages)} active", 100)


def parse_pvesm_status(stdout: str, *, expected: str) -> dict[str, str]:
    """Storage name -> status (active, inactive, disabled) from ``pvesm status``.

    The table is printed by ``$print_status`` in PVE/CLI/pvesm.pm: Name Type Status Total
    Used Available %, sizes in KiB.
    """
    lines = [line for line in stdout.splitlines() if line.strip()]
    if not lines or lines[0].split()[:3] != ["Name", "Type", "Status"]:
        raise UnreadableOutput("`pvesm status` printed no 'Name Type Status' table", expected=expected)
    status = {}
    for line in lines[1:]:
        fields = line.split()
        if len(fields) < 3:
            raise UnreadableOutput(f"not a `pvesm status` row: {shorten(line, 60)!r}", expected=expected)
        status[fields[0]] = fields[2]
    return status


def evaluate_storage(check: PveStorageCheck, output: ProbeOutput) -> CheckResult:
    expected = shorten(", ".join(f"{name} active" for name in check.storages))
    check_ran(output, "pvesm", expected=expected)
    status = parse_pvesm_status(output.stdout, expected=expected)
    seen = [f"{name} {status.get(name, 'missing')}" for name in check.storages]
    observed = shorten(", ".join(seen))
    bad = [text for name, text in zip(check.storages, seen, strict=True) if status.get(name) != "active"]
    if not bad:
        return CheckResult(True, observed, expected, f"storage {observed}")
    message = f"storage {listed(bad)}"
    if first_line(output.stderr):
        message += f" ({shorten(first_line(output.stderr), 100)})"
    return CheckResult(False, observed, expected, message)


# --- pve_api -----------------------------------------------------------------------------


def probe_api(check: PveApiCheck) -> ApiProbe:
    return ApiProbe(check.path if check.path.startswith("/") else "/" + check.path)


def describe_api(check: PveApiCheck) -> str:
    fields = ", ".join(f"{k}={v}" for k, v in check.expect.items())
    return shorten(f"API GET {check.path}" + (f" has {fields}" if fields else " answers"), 120)


def _lookup(item: Any, field: str) -> tuple[bool, Any]:
    """``a.b`` -> item["a"]["b"]; (False, None) when a part is missing."""
    value = item
    for part in field.split("."):
        if not isinstance(value, dict) or part not in value:
            return False, None
        value = value[part]
    return True, value


def _as_text(value: Any) -> str:
    # The PVE API encodes booleans as 0/1; JSON may still bring true/false.
    if isinstance(value, bool):
        return "1" if value else "0"
    if value is None:
        return "null"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _same(value: Any, wanted: str) -> bool:
    text = _as_text(value)
    if text == wanted:
        return True
    if isinstance(value, bool):
        return wanted.lower() in (("true", "yes") if value else ("false", "no"))
    return False


def _mismatches(item: Any, expect: dict[str, str]) -> list[str]:
    wrong = []
    for field, wanted in expect.items():
        found, value = _lookup(item, field)
        if not found:
            wrong.append(f"{field} missing")
        elif not _same(value, wanted):
            wrong.append(f"{field}={shorten(_as_text(value), 40)}")
    return wrong


def evaluate_api(check: PveApiCheck, output: ProbeOutput) -> CheckResult:
    wanted = ", ".join(f"{k}={v}" for k, v in check.expect.items())
    expected = shorten(wanted or "an answer")
    if output.exit_code not in (None, 0):
        error = shorten(first_line(output.stderr) or f"error {output.exit_code}", 120)
        # An API error (a missing guest is a 500 in PVE, a node that is not there...) is no
        # answer about the fields asked: the check cannot tell.
        raise UnreadableOutput(f"GET {check.path} failed: {error}", expected=expected)
    data = output.data
    if not check.expect:
        return CheckResult(True, "answered", expected, f"GET {check.path} answered")
    if isinstance(data, dict):
        wrong = _mismatches(data, check.expect)
        if not wrong:
            return CheckResult(True, expected, expected, f"GET {check.path}: {expected}")
        observed = shorten(", ".join(wrong))
        return CheckResult(False, observed, expected, f"GET {check.path}: {observed}, expected {expected}")
    if isinstance(data, list):
        # A list (e.g. /cluster/status) passes when one entry has every expected field.
        if any(not _mismatches(item, check.expect) for item in data):
            return CheckResult(
                True, f"an entry has {expected}", expected, f"GET {check.path}: an entry has {expected}"
            )
        observed = f"none of {len(data)} entries has {expected}"
        return CheckResult(False, shorten(observed), expected, shorten(f"GET {check.path}: {observed}"))
    kind = "nothing" if data is None else type(data).__name__
    raise UnreadableOutput(f"the API answered {kind}, not an object or a list", expected=expected)
