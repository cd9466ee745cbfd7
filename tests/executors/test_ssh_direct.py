"""The SSH fast path: a plain program call runs with no `sh -c` in between, and nothing else changes.

Which commands take it is decided by ``shellwrap.direct_command``; the tests against the real
sshd check what a plan author can observe: exit status, stdin, streams, timeouts that kill
the whole process group, and that anything with shell syntax or a builtin still runs under sh.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paramiko
import pytest

from migrator.errors import CommandTimeout
from migrator.executors import ssh as ssh_module
from migrator.executors.base import CommandResult
from migrator.executors.shellwrap import direct_command
from migrator.executors.ssh import PGID_MARKER, SSHTransport
from migrator.plan.inventory import Host
from tests.executors.helpers import wait_dead


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("true", "true"),  # the login shell's own true: no exec at all
        ("false", "false"),
        ("zpool list -H", "exec zpool list -H"),
        ("  systemctl   restart stunnel4@off.service ", "exec systemctl restart stunnel4@off.service"),
        ("rsync -a /srv/a/ host:/srv/b/", "exec rsync -a /srv/a/ host:/srv/b/"),
    ],
)
def test_plain_program_calls_skip_the_extra_shell(command: str, expected: str) -> None:
    assert direct_command(command) == expected


def test_sudo_keeps_sh_so_sudoers_sees_the_same_command(monkeypatch: pytest.MonkeyPatch) -> None:
    # No non-root sudoer can log in here: record the exec string instead of sending it.
    remotes: list[str] = []

    def record(self: SSHTransport, remote: str, **kw: Any) -> CommandResult:
        remotes.append(remote)
        return CommandResult(0)

    monkeypatch.setattr(SSHTransport, "_start", record)
    deploy, root = (
        SSHTransport("off1", Host.model_validate({"address": "127.0.0.1", "user": user}),
                     known_hosts=[], ssh_config=None)
        for user in ("deploy", "root")
    )  # fmt: skip
    deploy.run("zpool list", sudo=True)
    deploy.run("zpool list")
    root.run("zpool list", sudo=True)  # root needs no sudo: the plain path
    assert remotes == [
        f"echo {PGID_MARKER}$$; exec sudo -n -- sh -c 'zpool list'",
        f"echo {PGID_MARKER}$$; exec zpool list",
        f"echo {PGID_MARKER}$$; exec zpool list",
    ]


@pytest.mark.parametrize(
    "command",
    [
        "",
        "echo $HOME",  # expansion
        "ls *.conf",  # glob
        "ls ~",  # tilde
        "a; b",  # list
        "cat < /etc/hostname",  # redirection
        "a | b",
        "x && y",
        "echo 'quoted'",
        "line1\nline2",
        "tab\tseparated",
        "# comment",
        "FOO=bar make",  # assignment: sh would export it, exec would run a program "FOO=bar"
        "-v",
        "echo -e x",  # builtin: /bin/echo differs (it takes -e)
        "cd /srv",  # builtins with no program behind them
        "exit 3",
        "export A",
        "true extra",  # coreutils true takes --help; keep `true ARGS` under sh
        "test -d /srv",
        "kill -TERM 1",
        "printf %q x",
        "if",
        "time sleep 1",  # a bash keyword
        "source /etc/profile",
        "./deploy.sh",  # a path: a script without "#!" would run under the login shell, not sh
        "/usr/sbin/zpool list",
        "grep =bar file",  # a zsh login shell would expand =bar to bar's path
    ],
)
def test_anything_a_shell_would_interpret_keeps_sh(command: str) -> None:
    assert direct_command(command) is None


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every exec request the transport sends, as sent (request_exec builds the message)."""
    commands: list[str] = []
    real = ssh_module.request_exec

    def spy(channel: paramiko.Channel, command: str, timeout: float | None) -> None:
        commands.append(command)
        real(channel, command, timeout)

    monkeypatch.setattr(ssh_module, "request_exec", spy)
    yield commands


def test_a_plain_command_is_execed_directly_and_behaves_as_under_sh(
    ssh: SSHTransport, sent: list[str]
) -> None:
    assert ssh.run("true").ok
    assert ssh.run("false").exit_code == 1
    result = ssh.run("ls -d / /no-such-dir-here")
    assert result.exit_code == 2
    assert result.stdout == "/\n"
    assert "no-such-dir-here" in result.stderr
    assert ssh.run(["tr", "a-z", "A-Z"], stdin="hello\n").stdout == "HELLO\n"
    # No stdin: the command still sees EOF at once instead of waiting for input.
    assert ssh.run("cat", timeout=20).stdout == ""
    assert ssh.run("no-such-program-xyz").exit_code == 127  # as sh says "not found"
    assert sent == [
        f"echo {PGID_MARKER}$$; true",
        f"echo {PGID_MARKER}$$; false",
        f"echo {PGID_MARKER}$$; exec ls -d / /no-such-dir-here",
        f"echo {PGID_MARKER}$$; exec tr a-z A-Z",
        f"echo {PGID_MARKER}$$; exec cat",
        f"echo {PGID_MARKER}$$; exec no-such-program-xyz",
    ]


def test_shell_syntax_and_builtins_still_run_under_sh(ssh: SSHTransport, sent: list[str]) -> None:
    # The login shell here is bash; sh is dash. $0 and echo's -e tell them apart.
    assert ssh.run("echo $0").stdout == "sh\n"
    assert ssh.run("echo -e x").stdout == "-e x\n"  # dash's echo; bash's or /bin/echo print "x"
    assert ssh.run("exit 3").exit_code == 3
    wrapper = f"echo {PGID_MARKER}$$; exec sh -c"
    assert sent == [f"{wrapper} 'echo $0'", f"{wrapper} 'echo -e x'", f"{wrapper} 'exit 3'"]


def test_secrets_in_env_keep_the_sh_path(ssh: SSHTransport, sent: list[str]) -> None:
    result = ssh.run("env", env={"TOKEN": "value-from-stdin"})
    assert "TOKEN=value-from-stdin" in result.stdout.splitlines()
    assert "value-from-stdin" not in sent[0]
    assert "exec sh -c env" in sent[0]


def test_a_timeout_on_a_direct_command_kills_its_process_group(
    ssh: SSHTransport, sent: list[str], tmp_path: Path
) -> None:
    # `sh SCRIPT` is a plain program call: the login shell execs sh, which starts a
    # background sleep (same process group) and waits. Both must go on timeout.
    pids = tmp_path / "pids"
    script = tmp_path / "hold.sh"  # (sh's argument may be a path; only the program's may not)
    script.write_text(f"echo $$ > {pids}; sleep 60 & echo $! >> {pids}; wait\n")
    with pytest.raises(CommandTimeout, match="timeout of 1 s"):
        ssh.run(f"sh {script}", timeout=1)
    assert sent[0] == f"echo {PGID_MARKER}$$; exec sh {script}"
    shell, child = (int(p) for p in pids.read_text().split())
    assert wait_dead(shell)
    assert wait_dead(child)
    assert ssh.run("echo still usable").stdout == "still usable\n"


def test_a_timeout_on_a_bare_program_kills_it(ssh: SSHTransport, sent: list[str]) -> None:
    # The program itself is the process group leader (exec'd in place of the login shell).
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            ssh.run("sleep 61.5", timeout=2)
        except CommandTimeout as exc:
            outcome.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    pid = _find_process("sleep\x0061.5\x00")
    worker.join(30)
    assert outcome and isinstance(outcome[0], CommandTimeout)
    assert sent[0] == f"echo {PGID_MARKER}$$; exec sleep 61.5"
    assert wait_dead(pid)


def _find_process(cmdline: str, limit: float = 10.0) -> int:
    """The pid of the process whose /proc cmdline is ``cmdline``, waiting for it to appear."""
    end = time.monotonic() + limit
    while time.monotonic() < end:
        for proc in Path("/proc").glob("[0-9]*"):
            try:
                if (proc / "cmdline").read_text() == cmdline:
                    return int(proc.name)
            except OSError:  # gone meanwhile
                continue
        time.sleep(0.05)
    raise AssertionError(f"no process {cmdline!r} appeared")
