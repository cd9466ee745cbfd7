"""The SSH pump waits instead of spinning, and never ends a command before its output does.

Behaviour, not timing: wake-ups are counted, and the tests say what the result holds.
"""

from __future__ import annotations

import os
import select as real_select
import signal
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import migrator.executors.ssh as ssh_module
from migrator.executors.ssh import SSHTransport
from tests.executors.conftest import transport_for
from tests.fixtures.sshd import SshdServer


@pytest.fixture(scope="module")
def ssh(sshd: SshdServer) -> Iterator[SSHTransport]:
    transport = transport_for(sshd)
    yield transport
    transport.close()


def test_a_trivial_command_wakes_the_client_a_few_times_not_hundreds(
    ssh: SSHTransport, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = 0

    def counting_select(*args: Any) -> Any:
        nonlocal calls
        calls += 1
        return real_select.select(*args)

    ssh.run("true")  # connect outside the count
    monkeypatch.setattr(ssh_module, "select", types.SimpleNamespace(select=counting_select))
    for _ in range(10):
        assert ssh.run("true").exit_code == 0
    # Each run: the PGID line, EOF, maybe a window adjust. Spinning on the readable channel
    # after EOF until the exit status came made it 400-1,000 per run.
    assert calls <= 10 * 6


def test_all_output_arrives_before_the_result_even_when_the_status_comes_first(
    ssh: SSHTransport,
) -> None:
    # sshd may send exit-status before the last stdout/stderr data: a result taken at the
    # status alone lost the tail of stderr now and then. Many short runs give that race a chance.
    script = "i=0; while [ $i -lt 50 ]; do echo out$i; echo err$i >&2; i=$((i+1)); done"
    for _ in range(30):
        result = ssh.run(script)
        assert result.stdout.splitlines() == [f"out{i}" for i in range(50)]
        assert result.stderr.splitlines() == [f"err{i}" for i in range(50)]


def test_a_background_process_holding_stdout_does_not_hold_the_step(
    ssh: SSHTransport, tmp_path: Path
) -> None:
    # The backgrounded sleep keeps stdout open, so no EOF comes until it ends; the step still
    # finishes (a grace after the exit status), long before its timeout.
    pid_file = tmp_path / "pid"
    try:
        result = ssh.run(f"echo started; sleep 60 & echo $! > {pid_file}", timeout=30)
        assert result.exit_code == 0
        assert result.stdout == "started\n"
    finally:
        if pid_file.exists():
            os.kill(int(pid_file.read_text()), signal.SIGTERM)
