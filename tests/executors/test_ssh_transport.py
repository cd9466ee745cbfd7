"""SSHTransport against a real OpenSSH sshd on loopback: output, exit codes, secrets, timeouts."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from migrator.errors import CommandTimeout, ConnectError
from migrator.executors.ssh import SSHTransport
from migrator.secrets import Redactor
from tests.executors.conftest import host_for, transport_for
from tests.executors.helpers import assert_lines_in_order_per_stream, wait_dead
from tests.fixtures.sshd import SshdFactory, SshdServer, free_port


def test_success_and_output(ssh: SSHTransport) -> None:
    result = ssh.run("echo hello; echo world")
    assert result.exit_code == 0 and result.ok
    assert result.stdout == "hello\nworld\n"
    assert result.stderr == ""


def test_nonzero_exit_keeps_both_streams(ssh: SSHTransport) -> None:
    result = ssh.run("echo out; echo err >&2; exit 3")
    assert result.exit_code == 3
    assert not result.ok
    assert result.stdout == "out\n"
    assert result.stderr == "err\n"


def test_killed_by_signal_has_no_exit_code(ssh: SSHTransport) -> None:
    assert ssh.run("kill -KILL $$").exit_code is None


def test_lines_stream_in_order_per_stream(ssh: SSHTransport) -> None:
    assert_lines_in_order_per_stream(ssh)


def test_large_output_on_both_streams_does_not_deadlock(ssh: SSHTransport) -> None:
    # 6 MB on stderr, written *before* 2 MB on stdout: reading stdout first would hang.
    line = "e" * 99
    script = f"yes {line} | head -n 60000 >&2; yes {line.replace('e', 'o')} | head -n 20000"
    counts = {"stdout": 0, "stderr": 0}

    def count(stream: str, text: str) -> None:
        counts[stream] += 1

    result = ssh.run(script, timeout=120, on_line=count)
    assert result.exit_code == 0
    assert counts == {"stdout": 20000, "stderr": 60000}
    assert len(result.stderr) == 60000 * 100


def test_argv_is_quoted_literally(ssh: SSHTransport, tmp_path: Path) -> None:
    canary = tmp_path / "canary"
    canary.write_text("still here")
    result = ssh.run(["echo", f"a b; rm -f {canary}", "$HOME", "`id`"])
    assert result.stdout == f"a b; rm -f {canary} $HOME `id`\n"
    assert canary.exists()


def test_stdin_reaches_the_command(ssh: SSHTransport) -> None:
    assert ssh.run("tr a-z A-Z", stdin="line one\nline two\n").stdout == "LINE ONE\nLINE TWO\n"


def test_large_stdin_while_command_writes(ssh: SSHTransport) -> None:
    data = "x" * 99 + "\n"
    result = ssh.run("cat", stdin=data * 30000, timeout=60)
    assert result.stdout.count("\n") == 30000


def test_secret_env_is_not_on_any_command_line_and_is_redacted(sshd: SshdServer, tmp_path: Path) -> None:
    secret = "s3cr3t-" + os.urandom(6).hex()
    redactor = Redactor()
    redactor.add(secret)
    transport = transport_for(sshd, redactor=redactor)
    ps_file = tmp_path / "ps.txt"
    try:
        seen: list[str] = []
        result = transport.run(
            f'ps -eo args > {ps_file}; echo "token=$DB_PASSWORD"; printf "%s" "$MULTI" | wc -l',
            env={"DB_PASSWORD": secret, "MULTI": "line1\nline2\n"},
            on_line=lambda stream, line: seen.append(line),
        )
    finally:
        transport.close()
    assert result.exit_code == 0
    assert result.stdout == "token=***\n2\n"  # redacted, and newlines in values survive
    assert seen[0] == "token=***"
    listing = ps_file.read_text()
    assert "ps -eo args" in listing  # the listing was taken while the command ran
    assert secret not in listing


def test_timeout_kills_the_remote_process_group(ssh: SSHTransport, tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    script = f"echo $$ > {pids}; sleep 60 & echo $! >> {pids}; wait"
    with pytest.raises(CommandTimeout, match="timeout of 1 s"):
        ssh.run(script, timeout=1)
    shell, child = (int(p) for p in pids.read_text().split())
    assert wait_dead(shell)
    assert wait_dead(child)
    assert ssh.run("echo still usable").stdout == "still usable\n"


def test_connection_refused_names_host_and_port(sshd: SshdServer) -> None:
    port = free_port()
    transport = SSHTransport(
        "ghost", host_for(sshd, port=port), known_hosts=[sshd.known_hosts_path], ssh_config=None
    )
    with pytest.raises(ConnectError) as caught:
        transport.run("true")
    assert f"127.0.0.1:{port}" in str(caught.value)
    assert caught.value.hint and "sshd listening" in caught.value.hint


def test_wrong_key_is_an_authentication_error(sshd: SshdServer, tmp_path: Path) -> None:
    import subprocess

    key = tmp_path / "stranger"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    transport = SSHTransport(
        "lab1", host_for(sshd, key=str(key)), known_hosts=[sshd.known_hosts_path], ssh_config=None
    )
    with pytest.raises(ConnectError, match="authentication failed"):
        transport.run("true")


def test_connection_is_reused_across_commands(ssh: SSHTransport) -> None:
    ssh.run("true")
    first = ssh.transport()
    ssh.run("true")
    assert ssh.transport() is first


def test_reconnects_once_after_sshd_restart(sshd_factory: SshdFactory) -> None:
    server = sshd_factory.start()
    transport = transport_for(server)
    try:
        assert transport.run("echo one").stdout == "one\n"
        before = transport.transport()
        sshd_factory.track(server.restart())
        assert transport.run("echo two").stdout == "two\n"
        assert transport.transport() is not before
    finally:
        transport.close()


def test_wait_until_reachable_after_a_restart_and_gives_up_at_deadline(sshd_factory: SshdFactory) -> None:
    import threading

    server = sshd_factory.start()
    transport = transport_for(server)
    try:
        transport.run("true")
        server.stop()
        with pytest.raises(ConnectError, match="still unreachable"):
            transport.wait_until_reachable(time.monotonic() + 0.5, interval=0.1)
        timer = threading.Timer(0.3, lambda: sshd_factory.track(server.restart()))
        timer.start()
        transport.wait_until_reachable(time.monotonic() + 20, interval=0.1)
        timer.join()
        assert transport.run("echo back").stdout == "back\n"
    finally:
        transport.close()
