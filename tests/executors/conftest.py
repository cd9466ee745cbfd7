"""Helpers shared by the transport tests: an inventory Host and an SSHTransport for a test sshd."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from migrator.executors.ssh import SSHTransport
from migrator.plan.inventory import Host
from migrator.secrets import Redactor
from tests.fixtures.sshd import SshdServer


def host_for(server: SshdServer, **extra: object) -> Host:
    return Host.model_validate(
        {"address": server.host, "port": server.port, "user": server.user, "key": str(server.key_path),
         "agent": False, **extra}
    )  # fmt: skip


def transport_for(
    server: SshdServer, *, known_hosts: list[Path] | None = None, redactor: Redactor | None = None,
    via: SSHTransport | None = None, name: str = "lab1",
) -> SSHTransport:  # fmt: skip
    return SSHTransport(
        name, host_for(server), known_hosts=known_hosts or [server.known_hosts_path], via=via,
        redactor=redactor, ssh_config=None,
    )  # fmt: skip


@pytest.fixture(scope="module")
def ssh(sshd: SshdServer) -> Iterator[SSHTransport]:
    """One connection to the session sshd, reused by a module's tests (as the engine reuses it)."""
    transport = transport_for(sshd)
    yield transport
    transport.close()
