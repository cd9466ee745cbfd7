"""Connections: one cached transport per host, containers on their host's, jump loops refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from migrator.errors import ConnectError
from migrator.executors.connections import Connections
from migrator.executors.container import ContainerTransport
from migrator.executors.local import LocalTransport
from migrator.executors.ssh import SSHTransport
from migrator.plan.inventory import Inventory
from tests.fixtures.sshd import SshdServer


def make(sshd: SshdServer, tmp_path: Path, **hosts: dict[str, object]) -> Connections:
    base = {
        "address": sshd.host,
        "port": sshd.port,
        "user": sshd.user,
        "key": str(sshd.key_path),
        "agent": False,
    }
    inventory = Inventory.model_validate(
        {"name": "lab", "environment": "lab", "known_hosts": "lab_known_hosts",
         "hosts": {name: {**base, **extra} for name, extra in hosts.items()}}
    )  # fmt: skip
    (tmp_path / "lab_known_hosts").write_text(sshd.client_line() + "\n")
    return Connections(
        inventory, inventory_dir=tmp_path, redactor=str, user_known_hosts=None, ssh_config=None
    )


def test_targets_map_to_transports_and_are_cached(sshd: SshdServer, tmp_path: Path) -> None:
    connections = make(sshd, tmp_path, off1={}, off2={})
    try:
        assert isinstance(connections.for_target("local"), LocalTransport)
        off1 = connections.for_target("off1")
        assert isinstance(off1, SSHTransport) and connections.for_target("off1") is off1
        assert connections.for_target("off2") is not off1
        ct = connections.for_target("off2/ct:101")
        assert isinstance(ct, ContainerTransport) and ct.target == "off2/ct:101"
        assert ct.host_transport is connections.for_target("off2")
        # The inventory's known_hosts (relative to the inventory) is what lets us in.
        assert off1.run("echo in").stdout == "in\n"
        connections.reconnect("off1")
        assert off1.run("echo again").stdout == "again\n"
    finally:
        connections.close_all()


def test_unknown_host_and_jump_loop_are_clear_errors(sshd: SshdServer, tmp_path: Path) -> None:
    connections = make(sshd, tmp_path, a={"jump": "b"}, b={"jump": "a"})
    with pytest.raises(ConnectError, match="not in inventory lab"):
        connections.for_target("off9")
    with pytest.raises(ConnectError, match="jump hosts loop: a -> b -> a"):
        connections.for_target("a")


def test_known_hosts_files_in_order(sshd: SshdServer, tmp_path: Path) -> None:
    connections = make(sshd, tmp_path, off1={"known_hosts": "/etc/migrator/off1_known_hosts"})
    connections.user_known_hosts = Path("~/.ssh/known_hosts")
    connections.extra_known_hosts = [tmp_path / "extra"]
    assert connections.known_hosts_for("off1") == [
        Path("~/.ssh/known_hosts"),
        tmp_path / "lab_known_hosts",
        Path("/etc/migrator/off1_known_hosts"),
        tmp_path / "extra",
    ]
