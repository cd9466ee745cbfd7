"""Connections: one cached transport per host, containers on their host's, jump loops refused."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest

from migrator.errors import ConnectError, HostKeyError
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


def accepted(sshd: SshdServer, what: str = "Accepted publickey") -> int:
    """Logins the sshd accepted so far (or connections, ``what="Connection from"``): its log."""
    return sshd.log_path.read_text(errors="replace").count(what)


def test_prefetch_connects_in_the_background_and_the_step_reuses_it(
    sshd: SshdServer, tmp_path: Path
) -> None:
    connections = make(sshd, tmp_path, off1={})
    before = accepted(sshd)
    try:
        connections.prefetch(["off1", "local", "not-in-inventory"])  # only off1 is a host to reach
        transport = connections.for_target("off1")  # waits for the handshake under way
        assert accepted(sshd) == before + 1
        assert transport.run("echo one").stdout == "one\n"
        assert transport.run("echo two").stdout == "two\n"
        assert accepted(sshd) == before + 1  # the steps used the early connection
    finally:
        connections.close_all()


def test_a_failed_prefetch_is_raised_by_the_first_use_of_that_host(sshd: SshdServer, tmp_path: Path) -> None:
    connections = make(sshd, tmp_path, off1={}, off2={"port": _closed_port()})
    (tmp_path / "lab_known_hosts").write_text("")  # nobody's key is known now
    before = accepted(sshd, "Connection from")
    try:
        connections.prefetch(["off1", "off2"])
        # Exactly the errors the hosts' first use would have raised by itself, and that use
        # did not try again: one connection reached the sshd.
        with pytest.raises(HostKeyError, match="unknown"):
            connections.for_target("off1").run("true")
        assert accepted(sshd, "Connection from") == before + 1
        with pytest.raises(ConnectError, match="off2"):
            connections.ssh("off2").run("true")
    finally:
        connections.close_all()


def test_close_waits_for_a_prefetch_under_way(sshd: SshdServer, tmp_path: Path) -> None:
    connections = make(sshd, tmp_path, off1={})
    connections.prefetch(["off1"])
    connections.close_all()
    assert not [t for t in threading.enumerate() if t.name == "connect-off1"]


def _closed_port() -> int:
    """A loopback port with nothing listening (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
