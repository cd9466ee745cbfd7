"""The SSH pump waits instead of spinning, never ends a command before its output, sends no extra packets.

Behaviour, not timing: wake-ups are counted, and the tests say what the result holds.
"""

from __future__ import annotations

import os
import select as real_select
import signal
import types
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from paramiko.common import MSG_NAMES
from paramiko.packet import Packetizer

import migrator.executors.ssh_session as session_module
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
    monkeypatch.setattr(session_module, "select", types.SimpleNamespace(select=counting_select))
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


def test_a_trivial_command_sends_what_raw_paramiko_sends_and_nothing_more(
    ssh: SSHTransport, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Per step: open a session, exec, EOF on stdin (the command must not wait for input),
    # close. No pty, env, agent-forwarding or other request per step; the exec is the only
    # channel request (raw exec_command sends the same four, its stdin EOF from the GC).
    sent: Counter[str] = Counter()
    real_send = Packetizer.send_message

    def counting_send(self: Packetizer, data: Any) -> None:
        sent[MSG_NAMES.get(data.asbytes()[0], "other")] += 1
        real_send(self, data)

    ssh.run("true")  # connect outside the count
    monkeypatch.setattr(Packetizer, "send_message", counting_send)
    for _ in range(10):
        assert ssh.run("true").exit_code == 0
    channel_messages = {name: n for name, n in sent.items() if name.startswith("channel-")}
    assert channel_messages == {
        "channel-open": 10, "channel-request": 10, "channel-eof": 10, "channel-close": 10,
    }  # fmt: skip


def test_connecting_sends_one_ignore_between_authentication_and_the_first_channel(
    sshd: SshdServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # sshd follows "auth success" with two small messages; with Nagle on its side and delayed
    # ACKs on ours, the first channel's confirmation waited ~40 ms for an ACK. One
    # SSH_MSG_IGNORE after authenticating carries that ACK (executors/ssh.py, _connect).
    sent: list[str] = []
    real_send = Packetizer.send_message

    def recording_send(self: Packetizer, data: Any) -> None:
        sent.append(MSG_NAMES.get(data.asbytes()[0], "other"))
        real_send(self, data)

    monkeypatch.setattr(Packetizer, "send_message", recording_send)
    transport = transport_for(sshd)
    try:
        assert transport.run("true").exit_code == 0
    finally:
        transport.close()
    assert sent.count("ignore") == 1
    last_auth = len(sent) - 1 - sent[::-1].index("userauth-request")
    assert last_auth < sent.index("ignore") < sent.index("channel-open")
