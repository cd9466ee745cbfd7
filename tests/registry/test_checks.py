"""Checks through the registry: probed on the real sshd, locally, and on the Proxmox API.

A probe that cannot reach its host is a failed result (so a dry-run can classify it), but a
refused host key is raised: that must never pass for a flaky network.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from migrator.errors import HostKeyError
from migrator.plan.checks import CommandCheck, FileCheck, PveApiCheck, TcpCheck
from migrator.plan.inventory import Inventory
from tests.fixtures.sshd import SshdServer, free_port
from tests.registry.conftest import ExecutorsFactory, context, inventory_for, step

ON_LAB1 = step(kind="ssh", host="lab1", command="true")


@pytest.fixture
def lab_inventory(sshd: SshdServer) -> Inventory:
    return inventory_for(sshd, sshd.known_hosts_path)


def test_a_command_check_runs_on_the_step_host(
    make_executors: ExecutorsFactory, lab_inventory: Inventory
) -> None:
    executors = make_executors(lab_inventory)
    passing = CommandCheck(
        kind="command", command="echo hello from $(hostname)", stdout_contains="hello from"
    )
    failing = CommandCheck(kind="command", command="echo nope; exit 2")
    assert executors.check(passing, ON_LAB1, context()).passed
    result = executors.check(failing, ON_LAB1, context())
    assert not result.passed
    assert "2" in result.observed


def test_a_file_check_against_the_sshd(
    make_executors: ExecutorsFactory, lab_inventory: Inventory, sshd: SshdServer
) -> None:
    executors = make_executors(lab_inventory)
    present = FileCheck(kind="file", path=str(sshd.config_path), contains="ListenAddress 127.0.0.1")
    absent = FileCheck(kind="file", path=str(sshd.dir / "no-such-file"))
    assert executors.check(present, ON_LAB1, context()).passed
    result = executors.check(absent, ON_LAB1, context())
    assert not result.passed and not result.observed.startswith("unreachable")


def test_on_overrides_the_step_host(
    make_executors: ExecutorsFactory, lab_inventory: Inventory, tmp_path: Path
) -> None:
    # Both ends are this machine; tell them apart by HOME, which the test sshd sets to its own dir.
    check = CommandCheck(kind="command", command='echo "$HOME"', probe_from="local", stdout_lacks="sshd")
    assert make_executors(lab_inventory).check(check, ON_LAB1, context()).passed


def test_an_unreachable_host_gives_a_failed_result_not_an_exception(
    make_executors: ExecutorsFactory, sshd: SshdServer, tmp_path: Path
) -> None:
    inventory = Inventory.model_validate(
        {
            "name": "t",
            "environment": "lab",
            "hosts": {"gone": {"address": "127.0.0.1", "port": free_port(), "key": str(sshd.key_path)}},
        }
    )
    check = CommandCheck(kind="command", command="true")
    result = make_executors(inventory).check(check, step(kind="ssh", host="gone", command="true"), context())
    assert not result.passed
    assert result.observed.startswith("unreachable: ")


def test_a_tcp_check_probed_locally(make_executors: ExecutorsFactory, sshd: SshdServer) -> None:
    executors = make_executors()
    here = step(kind="local", command="true")
    assert executors.check(
        TcpCheck(kind="tcp_open", address="127.0.0.1", port=sshd.port), here, context()
    ).passed
    closed = TcpCheck(kind="tcp_open", address="127.0.0.1", port=free_port())
    assert not executors.check(closed, here, context()).passed


def test_an_unknown_host_key_is_raised(
    make_executors: ExecutorsFactory, sshd: SshdServer, tmp_path: Path
) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    executors = make_executors(inventory_for(sshd, empty))
    with pytest.raises(HostKeyError, match="unknown host key"):
        executors.check(CommandCheck(kind="command", command="true"), ON_LAB1, context())


def test_an_api_check_goes_to_the_proxmox_endpoint(
    make_executors: ExecutorsFactory, pve_inventory: Inventory, pve: Any
) -> None:
    pve.add_ct(101, "ct101")
    executors = make_executors(pve_inventory)
    on_pve = step(kind="proxmox", host="pve", call={"method": "GET", "path": "/nodes"})
    good = PveApiCheck(kind="pve_api", path="/nodes/pve1/lxc/101/config", expect={"hostname": "ct101"})
    wrong = PveApiCheck(kind="pve_api", path="/nodes/pve1/lxc/101/config", expect={"hostname": "other"})
    missing = PveApiCheck(kind="pve_api", path="/nodes/pve1/lxc/999/config")
    assert executors.check(good, on_pve, context()).passed
    assert not executors.check(wrong, on_pve, context()).passed
    result = executors.check(missing, on_pve, context())
    assert not result.passed and not result.observed.startswith("unreachable")
