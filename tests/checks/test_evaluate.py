"""evaluate() beyond the recorded cases: unreadable output, and it never raises."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from migrator.checks import ProbeOutput, describe, evaluate
from migrator.checks.base import Outcome
from migrator.plan.checks import CHECK_KINDS, Check

CHECKS: TypeAdapter[Check] = TypeAdapter(Check)

# One spec per kind, with every option that changes how the output is read.
SPECS: dict[str, dict[str, Any]] = {
    "command": {"command": "true", "stdout_contains": "a", "stdout_matches": "^b", "stdout_lacks": "c"},
    "tcp_open": {"address": "127.0.0.1", "port": 22},
    "tcp_closed": {"address": "::1", "port": 22},
    "listening_only_on": {"allowed": ["127.0.0.1", "10.0.0.0/8", "::1"], "ports": [22], "must_listen": True},
    "systemd_active": {"unit": "ssh.service"},
    "zpool_healthy": {"pool": "rpool", "min_size": "60G"},
    "zpool_unique": {"pool": "rpool"},
    "zfs_dataset": {"dataset": "rpool/data", "properties": {"compression": "on", "quota": "10G"}},
    "pve_quorate": {"nodes": 2},
    "pve_storage_active": {"storages": ["local", "zfs-hdd"]},
    "file": {"path": "/etc/hosts", "mode": "0644", "owner": "root", "group": "root", "contains": "x"},
    "http_status": {"url": "http://127.0.0.1/"},
    "pve_api": {"path": "/cluster/status", "expect": {"quorate": "1", "a.b": "2"}},
}
ALL_CHECKS = [CHECKS.validate_python({"kind": kind, **spec}) for kind, spec in SPECS.items()]

# Text that looks a little like the tools' output: lines, tabs, colons, digits, brackets.
tool_text = st.lists(
    st.one_of(
        st.text(max_size=40),
        st.sampled_from(
            [
                "  pool: rpool",
                " state: ONLINE",
                "config:",
                "errors: No known data errors",
                "\tNAME        STATE     READ WRITE CKSUM",
                "\trpool       ONLINE       0     0     0",
                "\tlogs\t",
                "--- zpool list ---",
                "--- zpool import ---",
                "rpool\t69256347648\tONLINE",
                "   pool: rpool",
                "     id: 123",
                "LISTEN 0 128 0.0.0.0:22 0.0.0.0:*",
                "LISTEN 0 128 [::1%lo]:x [::]:*",
                "Name Type Status Total Used Available %",
                "local dir active 1 2 3 1.00%",
                "Quorate:          Yes",
                "Nodes:            x",
                "644 root root",
                "contains=7",
                "rpool/data\tquota\t10737418240",
                "active",
                "200",
            ]
        ),
    ),
    max_size=12,
).map("\n".join)

json_data = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(["quorate", "a", "b"]), inner)
    ),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(
    check=st.sampled_from(ALL_CHECKS),
    exit_code=st.one_of(st.none(), st.integers(-1, 300)),
    stdout=tool_text,
    stderr=st.text(max_size=60),
    data=json_data,
)
def test_evaluate_never_raises(
    check: Check, exit_code: int | None, stdout: str, stderr: str, data: object
) -> None:
    result = evaluate(check, ProbeOutput(exit_code=exit_code, stdout=stdout, stderr=stderr, data=data))
    assert isinstance(result.passed, bool)
    assert "\n" not in result.message and "\n" not in result.observed and "\n" not in result.expected


def test_every_kind_is_covered_by_the_property_test() -> None:
    assert sorted(SPECS) == sorted(CHECK_KINDS)


def test_garbage_output_cannot_tell() -> None:
    for check in ALL_CHECKS:
        if check.kind in ("command", "pve_api", "tcp_open", "tcp_closed"):
            continue  # any text is a command's output; tcp reads the exit code; the API has no text
        result = evaluate(check, ProbeOutput(exit_code=0, stdout="Segmentation fault\n\x00\x01"))
        assert result.outcome is Outcome.CANNOT_TELL, check.kind
        assert result.observed == "no answer", check.kind
        assert result.message.startswith("cannot tell"), check.kind


def test_a_missing_tool_cannot_tell_for_every_kind() -> None:
    """Exit 127 is never an answer, whatever the kind (no verdict from a probe that never ran)."""
    for check in ALL_CHECKS:
        for stderr in ("sh: 1: zpool: not found\n", "bash: line 1: pct: command not found\n"):
            result = evaluate(check, ProbeOutput(exit_code=127, stderr=stderr))
            assert result.outcome is Outcome.CANNOT_TELL, (check.kind, result)


def test_missing_tool_cannot_tell_not_a_verdict() -> None:
    check = CHECKS.validate_python({"kind": "zpool_healthy", "pool": "rpool"})
    result = evaluate(check, ProbeOutput(exit_code=127, stderr="sh: 1: zpool: not found\n"))
    assert result.outcome is Outcome.CANNOT_TELL and not result.passed
    assert result.message.endswith("`zpool` could not be run (sh: 1: zpool: not found)")


def test_killed_probe_fails() -> None:
    check = CHECKS.validate_python({"kind": "systemd_active", "unit": "ssh.service"})
    result = evaluate(check, ProbeOutput(exit_code=None, stdout="active\n"))
    assert not result.passed
    assert "killed" in result.message


def test_invalid_regex_fails_with_a_reason() -> None:
    check = CHECKS.validate_python({"kind": "command", "command": "true", "stdout_matches": "("})
    result = evaluate(check, ProbeOutput(exit_code=0, stdout="x"))
    assert not result.passed
    assert "not a valid regular expression" in result.message


def test_describe_uses_the_plan_description() -> None:
    check = CHECKS.validate_python(
        {"kind": "zpool_healthy", "pool": "zfs-hdd", "description": "the HDD pool survived the move"}
    )
    assert describe(check) == "the HDD pool survived the move"


def test_describe_names_the_check_in_one_line() -> None:
    described = {check.kind: describe(check) for check in ALL_CHECKS}
    assert described["zpool_healthy"] == "zpool rpool ONLINE, no errors, size >= 60G"
    assert described["tcp_closed"] == "TCP [::1]:22 is closed"
    assert described["systemd_active"] == "unit ssh.service is active"
    assert all(text and "\n" not in text for text in described.values())


def test_wildcard_allowed_only_when_listed() -> None:
    line = "LISTEN 0      4096         0.0.0.0:27017      0.0.0.0:*          \n"
    base = {"kind": "listening_only_on", "ports": [27017]}
    by_network = CHECKS.validate_python({**base, "allowed": ["0.0.0.0/0"]})
    by_address = CHECKS.validate_python({**base, "allowed": ["0.0.0.0"]})
    assert not evaluate(by_network, ProbeOutput(exit_code=0, stdout=line)).passed
    assert evaluate(by_address, ProbeOutput(exit_code=0, stdout=line)).passed


def test_bad_allowed_entry_fails_without_raising() -> None:
    check = CHECKS.validate_python({"kind": "listening_only_on", "allowed": ["localhost"]})
    result = evaluate(check, ProbeOutput(exit_code=0, stdout=""))
    assert not result.passed
    assert "'localhost' is neither an address nor a network" in result.message


def test_zfs_sizes_compare_by_value() -> None:
    check = CHECKS.validate_python(
        {"kind": "zfs_dataset", "dataset": "zfs-nvme/pve", "properties": {"quota": "none", "refquota": "5G"}}
    )
    stdout = "zfs-nvme/pve\ttype\tfilesystem\nzfs-nvme/pve\tquota\t0\nzfs-nvme/pve\trefquota\t5368709120\n"
    assert evaluate(check, ProbeOutput(exit_code=0, stdout=stdout)).passed
    wrong = stdout.replace("5368709120", "5368709121")
    assert evaluate(check, ProbeOutput(exit_code=0, stdout=wrong)).observed == "refquota=5368709121 (want 5G)"
