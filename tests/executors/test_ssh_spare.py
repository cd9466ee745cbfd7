"""The spare session channel: opened while a command runs, used by the next command. It runs
nothing by itself, and a spare that died is replaced without the step noticing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from migrator.executors.ssh import SSHTransport
from tests.executors.conftest import transport_for
from tests.fixtures.sshd import SshdServer


@pytest.fixture
def ssh(sshd: SshdServer) -> Iterator[SSHTransport]:
    transport = transport_for(sshd)
    yield transport
    transport.close()


def started_sessions(sshd: SshdServer) -> int:
    """Commands sshd started (its VERBOSE log says so at each exec)."""
    return sshd.log_path.read_text(errors="replace").count("Starting session: command")


def test_each_command_runs_on_the_channel_opened_while_the_previous_one_ran(ssh: SSHTransport) -> None:
    assert ssh.run("echo one").stdout == "one\n"
    spare = ssh._spare
    assert spare is not None and spare.active
    assert ssh.run("echo two").stdout == "two\n"
    assert ssh._spare is not None and ssh._spare is not spare  # used, and the next one is ready


def test_a_spare_channel_runs_nothing(ssh: SSHTransport, sshd: SshdServer) -> None:
    before = started_sessions(sshd)
    for n in range(5):
        assert ssh.run(f"echo {n}").exit_code == 0
    ssh.close()  # the last spare is closed unused
    assert started_sessions(sshd) == before + 5


def test_a_spare_that_died_is_replaced(ssh: SSHTransport) -> None:
    assert ssh.run("true").ok
    assert ssh._spare is not None
    ssh._spare.close()  # as if the server had closed it between two steps
    assert ssh.run("echo still").stdout == "still\n"


def test_a_reconnect_drops_the_spare(ssh: SSHTransport) -> None:
    assert ssh.run("true").ok
    old = ssh._spare
    ssh.close()  # a reboot, a re-pinned key: the next run connects afresh
    assert ssh._spare is None
    assert ssh.run("echo again").stdout == "again\n"
    assert old is not None and old.closed
