"""How commands are wrapped: sudo, pct exec, secrets on stdin, kill scripts, ssh config merging."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import paramiko
import pytest

from migrator.errors import CommandTimeout, ConnectError
from migrator.executors.container import MARKER_VAR, ContainerTransport
from migrator.executors.local import LocalTransport
from migrator.executors.shellwrap import LineSplitter, inner_script, kill_group_command, sudo_prefix
from migrator.executors.ssh import PGID_MARKER, SSHTransport
from migrator.executors.sshconfig import parse_jump, resolve_endpoint
from migrator.plan.inventory import Host
from tests.executors.helpers import wait_dead


def ssh_as(user: str) -> SSHTransport:
    # No connection is made until the first run(): building commands needs none.
    return SSHTransport("off1", Host(address="127.0.0.1", user=user), known_hosts=[], ssh_config=None)


def test_sudo_only_when_asked_and_not_root() -> None:
    assert sudo_prefix("deploy", True) == ["sudo", "-n", "--"]
    assert sudo_prefix("deploy", False) == []
    assert sudo_prefix("root", True) == []


def test_remote_command_for_a_non_root_user_uses_sudo_n() -> None:
    command = ssh_as("deploy").remote_command("zpool list", sudo=True)
    assert command == f"echo {PGID_MARKER}$$; exec sudo -n -- sh -c 'zpool list'"
    assert (
        ssh_as("root").remote_command("zpool list", sudo=True)
        == f"echo {PGID_MARKER}$$; exec sh -c 'zpool list'"
    )
    assert ssh_as("deploy").remote_command("id", sudo=False) == f"echo {PGID_MARKER}$$; exec sh -c id"


def test_kill_group_goes_through_sudo_too() -> None:
    assert kill_group_command(4242, "TERM", ["sudo", "-n", "--"]) == (
        "sudo -n -- kill -TERM -- -4242 2>/dev/null || true"
    )


def test_env_values_never_appear_in_the_script() -> None:
    script, data = inner_script("deploy.sh", {"PSK": "very-secret-value"})
    assert "very-secret-value" not in script
    assert b"very-secret-value" not in data  # base64 on stdin, decoded remotely
    assert script.endswith("exec sh -c deploy.sh")
    assert inner_script("echo hi", None) == ("echo hi", b"")


def test_container_command_is_pct_exec_with_a_run_marker() -> None:
    container = ContainerTransport(ssh_as("root"), 101)
    assert container.target == "off1/ct:101"
    script, data = container.build(["systemctl", "restart", "stunnel4@mongo"], {"K": "secret-v"}, "m1")
    argv = shlex.split(script)
    assert argv[:6] == ["pct", "exec", "101", "--", "sh", "-c"]
    assert argv[6].startswith(f"{MARKER_VAR}=m1; export {MARKER_VAR}; ")
    assert "'systemctl restart stunnel4@mongo'" in argv[6]
    assert "secret-v" not in script and data
    plain, _ = container.build("echo a b", None, "m2")
    assert shlex.split(plain)[6].endswith("exec sh -c 'echo a b'")
    kill = shlex.split(container.kill_command("m2"))
    assert kill[:6] == ["pct", "exec", "101", "--", "sh", "-c"]
    assert f"{MARKER_VAR}=m2" in kill[6] and "kill -TERM" in kill[6] and "kill -KILL" in kill[6]


@pytest.fixture
def fake_pct(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A FAKE `pct` (no Proxmox here): `pct exec CTID -- CMD...` runs CMD on this machine."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    pct = bin_dir / "pct"
    pct.write_text('#!/bin/sh\n[ "$1" = exec ] && [ "$3" = -- ] || exit 64\nshift 3\nexec "$@"\n')
    pct.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{Path('/usr/bin')}:{Path('/bin')}")
    return pct


def test_container_run_end_to_end_through_fake_pct(fake_pct: Path) -> None:
    container = ContainerTransport(LocalTransport(), 101)
    result = container.run(
        'echo "$TOKEN"; cat; echo "$MIGRATOR_RUN" | wc -c', env={"TOKEN": "t0k-3n"}, stdin="in\n"
    )
    assert result.stdout == "t0k-3n\nin\n33\n"  # 32 hex digits of the run marker + newline


def test_container_timeout_kills_inside_by_marker(fake_pct: Path, tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    # setsid: the child leaves the process group, as a daemon would; only the marker finds it.
    command = f"setsid sleep 60 & echo $! > {pids}; wait"
    with pytest.raises(CommandTimeout):
        ContainerTransport(LocalTransport(), 101).run(command, timeout=0.5)
    assert wait_dead(int(pids.read_text()))


def test_line_splitter_handles_split_utf8_and_crlf() -> None:
    splitter = LineSplitter()
    data = "é1\r\nz".encode()
    assert splitter.feed(data[:1]) == []
    assert splitter.feed(data[1:]) == ["é1"]
    assert splitter.flush() == ["z"]


def test_resolve_endpoint_merges_ssh_config(tmp_path: Path) -> None:
    key = tmp_path / "id_test"
    key.write_text("not read here")
    config = paramiko.SSHConfig.from_text(
        f"Host off1\n  HostName 127.0.0.5\n  User ops\n  Port 2200\n  IdentityFile {key}\n"
        "  IdentityFile /nonexistent/key\n  ProxyJump jumper@127.0.0.6:2201,127.0.0.7\n"
    )
    endpoint = resolve_endpoint(Host(address="off1"), config)
    assert (endpoint.address, endpoint.port, endpoint.user) == ("127.0.0.5", 2200, "ops")
    assert endpoint.key_files == (key,)
    assert [(h.address, h.port, h.user) for h in endpoint.proxy_jump] == [
        ("127.0.0.6", 2201, "jumper"),
        ("127.0.0.7", 22, "root"),
    ]
    # Fields set in the inventory win over the config.
    explicit = resolve_endpoint(Host(address="off1", user="root", port=22, jump="bastion"), config)
    assert (explicit.port, explicit.user, explicit.proxy_jump) == (22, "root", ())


def test_missing_inventory_key_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConnectError, match="does not exist"):
        resolve_endpoint(Host(address="127.0.0.1", key="keys/off1"), None, base_dir=tmp_path)


def test_parse_jump_forms() -> None:
    assert parse_jump("127.0.0.1").model_fields_set == {"address"}
    v6 = parse_jump("u@[::1]:2222")
    assert (v6.user, v6.address, v6.port) == ("u", "::1", 2222)


def test_keygen_available_for_fixture() -> None:
    # The sshd fixture depends on ssh-keygen; make a missing package fail loudly here too.
    assert subprocess.run(["ssh-keygen", "-?"], capture_output=True, check=False).returncode != 127
