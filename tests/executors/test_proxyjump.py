"""ProxyJump through a second real sshd: from the inventory (`jump:`) and from ~/.ssh/config."""

from __future__ import annotations

from pathlib import Path

import pytest

from migrator.errors import ConnectError
from migrator.executors.connections import Connections
from migrator.executors.ssh import SSHTransport
from migrator.plan.inventory import Host, Inventory
from tests.fixtures.sshd import SshdFactory, SshdServer


def inventory_with_jump(jump: SshdServer, target: SshdServer) -> Inventory:
    def entry(server: SshdServer, **extra: str) -> dict[str, object]:
        return {"address": server.host, "port": server.port, "user": server.user,
                "key": str(server.key_path), "agent": False, **extra}  # fmt: skip

    return Inventory.model_validate(
        {"name": "lab", "environment": "lab",
         "hosts": {"bastion": entry(jump), "inner": entry(target, jump="bastion")}}
    )  # fmt: skip


def test_inventory_jump_runs_through_the_bastion(sshd_factory: SshdFactory, tmp_path: Path) -> None:
    bastion = sshd_factory.start()
    inner = sshd_factory.start(address="127.0.0.2")
    connections = Connections(
        inventory_with_jump(bastion, inner),
        inventory_dir=tmp_path,
        redactor=str,
        extra_known_hosts=[bastion.known_hosts_path, inner.known_hosts_path],
        user_known_hosts=None,
        ssh_config=None,
    )
    try:
        transport = connections.for_target("inner")
        assert transport.run("echo $SSH_CONNECTION").stdout.split()[2:] == ["127.0.0.2", str(inner.port)]
        assert connections.for_target("inner") is transport  # cached
        # Proof the tunnel is the only path: with the bastion gone, the inner host is unreachable.
        bastion.stop()
        with pytest.raises(ConnectError):
            transport.run("true")
    finally:
        connections.close_all()


def test_ssh_config_proxyjump_and_hostname(sshd_factory: SshdFactory, tmp_path: Path) -> None:
    bastion = sshd_factory.start()
    inner = sshd_factory.start(address="127.0.0.2")
    config = tmp_path / "ssh_config"
    config.write_text(
        f"Host inner-alias\n  HostName {inner.host}\n  Port {inner.port}\n  User {inner.user}\n"
        f"  IdentityFile {inner.key_path}\n  ProxyJump {bastion.user}@{bastion.host}:{bastion.port}\n"
        f"Host {bastion.host}\n  IdentityFile {bastion.key_path}\n"
    )
    transport = SSHTransport(
        "inner",
        Host(address="inner-alias", agent=False),
        known_hosts=[bastion.known_hosts_path, inner.known_hosts_path],
        ssh_config=config,
    )
    try:
        assert transport.via is not None
        assert (
            transport.describe() == f"inner ({inner.user}@127.0.0.2:{inner.port} via {transport.via.target})"
        )
        assert transport.run("echo via-config").stdout == "via-config\n"
    finally:
        transport.close()
