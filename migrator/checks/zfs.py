"""zpool_unique and zfs_dataset: pools by name, datasets and their properties.

``zpool_unique`` guards against the off2 pitfall (February 2023): after the Proxmox
installer made a new ``rpool``, the old system disk still held a pool named ``rpool``, so
``zpool import rpool`` was refused and the stale pool had to be imported by its numeric id
under a new name (``zpool import -f <id> rpool2``).
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
    listed,
    parse_size,
    sh,
    shorten,
)
from migrator.plan.checks import ZfsDatasetCheck, ZpoolAbsentCheck

# --- zpool_unique ------------------------------------------------------------------------

IMPORT_MARKER = "--- zpool import ---"
"""Printed between `zpool list` and `zpool import` in the probe's output."""

_NO_POOLS = ("no pools available to import", "no pools available")


@dataclass(frozen=True)
class ImportablePool:
    """One pool block of ``zpool import`` (no arguments: it only lists, it imports nothing)."""

    name: str
    id: str
    state: str


def probe_zpool_unique(check: ZpoolAbsentCheck) -> CommandProbe:
    # `zpool import` without a pool argument only scans and lists; it writes "no pools
    # available to import" to stderr, hence 2>&1, and its exit code says nothing useful.
    return CommandProbe(
        f"zpool list -H -o name && echo {sh(IMPORT_MARKER)} && {{ zpool import 2>&1 || true; }}"
    )


def describe_zpool_unique(check: ZpoolAbsentCheck) -> str:
    return f"no second pool named {check.pool} waits to be imported"


_POOL_LINE = re.compile(r"^\s*pool:\s*(\S+)\s*$")
_ID_LINE = re.compile(r"^\s*id:\s*(\d+)\s*$")
_STATE_LINE = re.compile(r"^\s*state:\s*(\S+)")


def parse_zpool_import(text: str, *, expected: str) -> list[ImportablePool]:
    """The pools ``zpool import`` lists (OpenZFS ``show_import()`` layout)."""
    pools: list[ImportablePool] = []
    name: str | None = None
    pool_id = state = ""
    for line in text.splitlines():
        if match := _POOL_LINE.match(line):
            if name is not None:
                pools.append(ImportablePool(name, pool_id, state))
            name, pool_id, state = match.group(1), "", ""
        elif name is not None and (match := _ID_LINE.match(line)):
            pool_id = match.group(1)
        elif name is not None and not state and (match := _STATE_LINE.match(line)):
            state = match.group(1)
    if name is not None:
        pools.append(ImportablePool(name, pool_id, state))
    if any(not pool.id for pool in pools):
        raise UnreadableOutput("a pool listed by `zpool import` has no id line", expected=expected)
    if not pools and text.strip() and first_line(text) not in _NO_POOLS:
        raise UnreadableOutput(f"`zpool import` said {shorten(first_line(text), 80)!r}", expected=expected)
    return pools


def evaluate_zpool_unique(check: ZpoolAbsentCheck, output: ProbeOutput) -> CheckResult:
    expected = f"no pool named {check.pool} in `zpool import`"
    check_ran(output, "zpool", expected=expected)
    imported_text, marker, import_text = output.stdout.partition(IMPORT_MARKER + "\n")
    if output.exit_code != 0 or not marker:
        detail = first_line(output.stderr) or f"exit {output.exit_code}"
        raise UnreadableOutput(
            f"`zpool list`/`zpool import` did not both answer ({detail})", expected=expected
        )
    imported = {line.strip() for line in imported_text.splitlines()} - {"", *_NO_POOLS}
    importable = [
        pool for pool in parse_zpool_import(import_text, expected=expected) if pool.name == check.pool
    ]
    here = f"{check.pool} imported" if check.pool in imported else f"{check.pool} not imported"
    if not importable:
        observed = f"{here}, none to import"
        return CheckResult(True, observed, expected, f"only one pool named {check.pool}: {observed}")
    ids = [f"{pool.id} ({pool.state})" if pool.state else pool.id for pool in importable]
    count = len(importable) + (1 if check.pool in imported else 0)
    more = "more " if check.pool in imported else ""
    observed = shorten(f"{here}, {len(importable)} {more}to import: id {listed(ids)}")
    message = (
        f"{count} pools are named {check.pool} (importable id {listed(ids)}); import the stale one "
        f"by id under a new name: zpool import -f <id> <newname>, "
        f"e.g. zpool import -f {importable[-1].id} {check.pool}-old"
    )
    return CheckResult(False, observed, expected, message)


# --- zfs_dataset -------------------------------------------------------------------------


def probe_zfs_dataset(check: ZfsDatasetCheck) -> CommandProbe:
    return CommandProbe(sh("zfs", "get", "-H", "-p", "-o", "name,property,value", "all", check.dataset))


def describe_zfs_dataset(check: ZfsDatasetCheck) -> str:
    if not check.exists:
        return f"dataset {check.dataset} does not exist"
    props = ", ".join(f"{k}={v}" for k, v in check.properties.items())
    return shorten(f"dataset {check.dataset} exists" + (f" with {props}" if props else ""), 120)


def _dataset_expected(check: ZfsDatasetCheck) -> str:
    if not check.exists:
        return "absent"
    props = ", ".join(f"{k}={v}" for k, v in check.properties.items())
    return shorten("exists" + (f", {props}" if props else ""))


def _same_value(observed: str, wanted: str) -> bool:
    """``zfs get -p`` prints sizes in bytes: ``quota=10G`` matches ``10737418240``, ``none`` ``0``."""
    if observed == wanted:
        return True
    if wanted == "none" and observed == "0":  # quota=none is 0 with -p
        return True
    observed_size, wanted_size = parse_size(observed), parse_size(wanted)
    return observed_size is not None and observed_size == wanted_size


def evaluate_zfs_dataset(check: ZfsDatasetCheck, output: ProbeOutput) -> CheckResult:
    expected = _dataset_expected(check)
    check_ran(output, "zfs", expected=expected)
    if output.exit_code != 0:
        error = first_line(output.stderr)
        if "dataset does not exist" in error:
            message = f"dataset {check.dataset} does not exist"
            return CheckResult(not check.exists, "absent", expected, message)
        raise UnreadableOutput(f"`zfs get` failed ({error or f'exit {output.exit_code}'})", expected=expected)

    props: dict[str, str] = {}
    for line in output.stdout.splitlines():
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != 3:
            raise UnreadableOutput(f"not a `zfs get -H` line: {shorten(line, 60)!r}", expected=expected)
        if fields[0] == check.dataset:
            props[fields[1]] = fields[2]
    if not props:
        raise UnreadableOutput(f"`zfs get` printed nothing for {check.dataset}", expected=expected)
    kind = props.get("type", "dataset")
    if not check.exists:
        return CheckResult(False, f"exists ({kind})", expected, f"dataset {check.dataset} exists ({kind})")

    wrong = []
    for name, wanted in check.properties.items():
        value = props.get(name)
        if value is None:
            wrong.append(f"{name} not reported")
        elif not _same_value(value, wanted):
            wrong.append(f"{name}={value} (want {wanted})")
    if wrong:
        observed = shorten(", ".join(wrong))
        return CheckResult(False, observed, expected, f"dataset {check.dataset}: {observed}")
    shown = ", ".join(f"{k}={props[k]}" for k in check.properties)
    observed = shorten(f"exists ({kind})" + (f", {shown}" if shown else ""))
    return CheckResult(True, observed, expected, f"dataset {check.dataset} {observed}")
