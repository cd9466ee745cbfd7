"""probe_for(): the exact commands, and that names cannot inject shell code.

Probes are run here by a real ``sh``. ``zfs``, ``zpool`` and ``systemctl`` cannot run on
this machine, so a stand-in that prints its argv one per line takes their place; ``stat``,
``grep``, ``curl``, ``ss`` and ``bash`` are the real tools, against loopback only.
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter

from migrator.checks import ApiProbe, CommandProbe, ProbeOutput, evaluate, probe_for
from migrator.plan.checks import Check

CHECKS: TypeAdapter[Check] = TypeAdapter(Check)
NASTY = "zfs-hdd/a b;touch PWNED $(touch PWNED2) `touch PWNED3` 'q\"|&>x"


def check(spec: dict[str, Any]) -> Check:
    return CHECKS.validate_python(spec)


def command_of(spec: dict[str, Any]) -> str:
    probe = probe_for(check(spec))
    assert isinstance(probe, CommandProbe)
    assert isinstance(probe.command, str)
    return probe.command


def run(command: str, cwd: Path, path_prefix: Path | None = None) -> ProbeOutput:
    env = dict(os.environ)
    if path_prefix is not None:
        env["PATH"] = f"{path_prefix}:{env['PATH']}"
    done = subprocess.run(
        ["sh", "-c", command], check=False, cwd=cwd, env=env, capture_output=True, text=True, timeout=30
    )
    return ProbeOutput(exit_code=done.returncode, stdout=done.stdout, stderr=done.stderr)


@pytest.fixture
def argv_echo(tmp_path: Path) -> Path:
    """A bin directory where zfs, zpool and systemctl print their argv, one word a line."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("zfs", "zpool", "systemctl"):
        script = bin_dir / tool
        script.write_text('#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done\n')
        script.chmod(0o755)
    return bin_dir


def test_documented_commands() -> None:
    assert command_of({"kind": "zpool_healthy", "pool": "rpool"}) == (
        "zpool status -P rpool && echo '--- zpool list ---' && zpool list -H -p -o name,size,health rpool"
    )
    assert command_of({"kind": "zpool_unique", "pool": "rpool"}) == (
        "zpool list -H -o name && echo '--- zpool import ---' && { zpool import 2>&1 || true; }"
    )
    assert command_of({"kind": "zfs_dataset", "dataset": "zfs-hdd/off"}) == (
        "zfs get -H -p -o name,property,value all zfs-hdd/off"
    )
    assert command_of({"kind": "systemd_active", "unit": "stunnel4@off.service"}) == (
        "systemctl is-active -- stunnel4@off.service"
    )
    assert command_of({"kind": "listening_only_on", "allowed": ["127.0.0.1"]}) == "ss -ltnH"
    assert command_of({"kind": "pve_quorate", "nodes": 2}) == "pvecm status"
    assert command_of({"kind": "pve_storage_active", "storages": ["local"]}) == "pvesm status"
    assert command_of({"kind": "tcp_open", "address": "[::1]", "port": 22, "timeout": "5s"}) == (
        "timeout 5 bash -c 'exec 3<>\"/dev/tcp/$1/$2\"' tcp-probe ::1 22"
    )
    assert command_of(
        {"kind": "http_status", "url": "http://127.0.0.1/", "host_header": "world.openfoodfacts.org"}
    ) == (
        "curl -sS --globoff -o /dev/null -w '%{http_code}' --max-time 30"
        " -H 'Host: world.openfoodfacts.org' -- http://127.0.0.1/"
    )
    assert probe_for(check({"kind": "command", "command": ["ls", "-l"]})) == CommandProbe(["ls", "-l"])
    assert probe_for(check({"kind": "pve_api", "path": "cluster/status"})) == ApiProbe("/cluster/status")


@pytest.mark.parametrize(
    ("spec", "tail"),
    [
        ({"kind": "zfs_dataset", "dataset": NASTY}, [NASTY]),
        ({"kind": "zpool_healthy", "pool": NASTY}, [NASTY, "--- zpool list ---", "list", "-H", "-p", "-o"]),
        ({"kind": "systemd_active", "unit": NASTY}, ["is-active", "--", NASTY]),
    ],
    ids=["zfs_dataset", "zpool_healthy", "systemd_active"],
)
def test_names_reach_the_tool_as_one_word(
    spec: dict[str, Any], tail: list[str], tmp_path: Path, argv_echo: Path
) -> None:
    output = run(command_of(spec), tmp_path, argv_echo)

    words = output.stdout.splitlines()
    assert output.exit_code == 0, output
    assert all(word in words for word in tail)
    assert NASTY in words
    assert not list(tmp_path.glob("PWNED*")), "the name ran as shell code"


def test_file_probe_on_a_real_file_with_a_hostile_name(tmp_path: Path) -> None:
    target = tmp_path / "psk; touch PWNED $(touch PWNED2) 'x"
    target.write_text("PSKidentity = off-mongodb\n")
    target.chmod(0o600)
    owner = subprocess.run(["id", "-un"], capture_output=True, text=True, check=True).stdout.strip()
    spec = {
        "kind": "file",
        "path": str(target),
        "mode": "0600",
        "owner": owner,
        "contains": "off-mongodb; $(x)",
    }

    output = run(command_of(spec), tmp_path)
    result = evaluate(check(spec), output)

    assert not list(tmp_path.glob("PWNED*"))
    assert not result.passed
    assert result.observed == f"mode 0600, owner {owner}:{output.stdout.split()[2]}, lacks the expected text"
    found = evaluate(
        check({**spec, "contains": "off-mongodb"}),
        run(command_of({**spec, "contains": "off-mongodb"}), tmp_path),
    )
    assert found.passed, found
    assert "off-mongodb" not in found.observed + found.message, "the file's text stays out of the result"


def test_file_probe_on_a_missing_file(tmp_path: Path) -> None:
    spec = {"kind": "file", "path": str(tmp_path / "gone"), "exists": False}
    result = evaluate(check(spec), run(command_of(spec), tmp_path))
    assert result.passed
    assert result.observed == "absent"


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen()
    yield server
    server.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_tcp_probe_against_loopback(listener: socket.socket, tmp_path: Path) -> None:
    port = listener.getsockname()[1]
    spec = {"kind": "tcp_open", "address": "127.0.0.1", "port": port}
    assert evaluate(check(spec), run(command_of(spec), tmp_path)).observed == "open"

    closed = {"kind": "tcp_closed", "address": "127.0.0.1", "port": free_port()}
    result = evaluate(check(closed), run(command_of(closed), tmp_path))
    assert result.passed
    assert result.observed == "connection refused"


def test_tcp_probe_ipv6_loopback(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as server:
        server.bind(("::1", 0))
        server.listen()
        spec = {"kind": "tcp_open", "address": "[::1]", "port": server.getsockname()[1]}
        result = evaluate(check(spec), run(command_of(spec), tmp_path))
    assert result.passed, result


def test_tcp_probe_address_cannot_inject(tmp_path: Path) -> None:
    spec = {"kind": "tcp_open", "address": "127.0.0.1/1; touch PWNED #", "port": 22}
    output = run(command_of(spec), tmp_path)
    assert not list(tmp_path.glob("PWNED*"))
    assert not evaluate(check(spec), output).passed


def test_listening_probe_with_real_ss(listener: socket.socket, tmp_path: Path) -> None:
    port = listener.getsockname()[1]
    loopback = {"kind": "listening_only_on", "allowed": ["127.0.0.0/8"], "ports": [port], "must_listen": True}
    private = {**loopback, "allowed": ["10.0.0.0/8"]}
    output = run(command_of(loopback), tmp_path)

    assert evaluate(check(loopback), output).observed == f"127.0.0.1:{port}"
    assert evaluate(check(private), output).observed == f"127.0.0.1:{port}"
    assert not evaluate(check(private), output).passed


class _Teapot(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(418 if self.headers.get("Host") == "world.openfoodfacts.org" else 200)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output quiet."""


def test_http_probe_with_real_curl(tmp_path: Path) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Teapot)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        plain = {"kind": "http_status", "url": base + "/$(touch${IFS}PWNED);x`touch${IFS}PWNED2`"}
        hosted = {
            "kind": "http_status",
            "url": base + "/",
            "host_header": "world.openfoodfacts.org",
            "status": 418,
        }
        assert evaluate(check(plain), run(command_of(plain), tmp_path)).observed == "HTTP 200"
        assert evaluate(check(hosted), run(command_of(hosted), tmp_path)).passed
        assert not list(tmp_path.glob("PWNED*"))
    finally:
        server.shutdown()
        server.server_close()


def test_http_probe_ipv6_literal_url(tmp_path: Path) -> None:
    class _V6Server(ThreadingHTTPServer):
        address_family = socket.AF_INET6

    server = _V6Server(("::1", 0), _Teapot)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        spec = {"kind": "http_status", "url": f"http://[::1]:{server.server_address[1]}/"}
        assert evaluate(check(spec), run(command_of(spec), tmp_path)).passed
    finally:
        server.shutdown()
        server.server_close()
