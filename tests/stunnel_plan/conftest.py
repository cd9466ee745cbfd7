"""The stunnel step against the real test sshd: two tunnel hosts (``srv``, ``cli``) on one sshd,
each with its own file tree under a temp dir (``StunnelStepOptions.root``), real stunnel
processes started by PID, and a recording ``fake-systemctl`` (systemd cannot run here)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from migrator.executors.base import StepContext
from migrator.executors.connections import Connections
from migrator.executors.stunnel_step import StunnelStepOptions, StunnelSteps
from migrator.plan.inventory import Inventory
from migrator.plan.model import Step
from migrator.secrets import Redactor
from migrator.stunnel.parse import find_stunnel
from tests.fixtures.sshd import SshdServer, free_port

SERVER_IP = "127.0.0.2"  # srv's "public" address (loopback: tests contact nothing else)
CLIENT_IP = "127.0.0.3"  # cli's private address
FAKE_SYSTEMCTL = """#!/bin/sh
# fake-systemctl: records its arguments; systemd cannot run in the test machine.
echo "$*" >> {log}
if [ "$1" = is-active ]; then cat {state}; fi
"""


class Lines:
    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, stream: str, line: str) -> None:
        self.seen.append(line)


@dataclass
class StunnelLab:
    dir: Path
    steps: StunnelSteps
    redactor: Redactor
    connections: Connections
    systemctl_log: Path
    systemctl_state: Path
    server_port: int
    client_port: int
    backend_port: int
    lines: Lines

    def root(self, host: str) -> Path:
        return self.dir / "hosts" / host

    def file(self, host: str, path: str) -> Path:
        return self.root(host) / path.lstrip("/")

    def step(self, step_id: str, host: str, **stunnel: Any) -> Step:
        return Step.model_validate({"id": step_id, "title": "test", "host": host, "kind": "stunnel",
                                    "stunnel": {"tunnels": "tunnels.yaml", **stunnel}})

    def run(self, host: str, **stunnel: Any) -> Any:
        ctx = StepContext(run_id=1, attempt=1, on_line=self.lines)
        return self.steps.run(self.step(f"t-{stunnel['action']}", host, **stunnel), ctx)

    def systemctl_calls(self) -> list[str]:
        return self.systemctl_log.read_text().splitlines() if self.systemctl_log.exists() else []


def tunnels_data(server_port: int, client_port: int, backend_port: int) -> dict[str, Any]:
    return {
        "name": "stunnel-plan-test",
        "hosts": {
            "srv": {"public": True, "public_addresses": [SERVER_IP]},
            "cli": {"public": False, "private_addresses": [CLIENT_IP]},
        },
        "tunnels": [{
            "service": "MongoDB",
            "server": {"host": "srv", "accept": f"{SERVER_IP}:{server_port}",
                       "connect": f"127.0.0.1:{backend_port}"},
            "clients": [{"host": "cli", "accept": f"{CLIENT_IP}:{client_port}",
                         "connect": f"{SERVER_IP}:{server_port}"}],
            "psk": {"name": "mongodb", "identity": "test-mongodb", "secret": "env:TEST_PSK_MONGODB"},
        }],
    }


def make_lab(tmp_path: Path, sshd: SshdServer, *, debug: str | None = None) -> StunnelLab:
    server_port, client_port = free_port(SERVER_IP), free_port(CLIENT_IP)
    backend_port = free_port()
    (tmp_path / "tunnels.yaml").write_text(
        yaml.safe_dump(tunnels_data(server_port, client_port, backend_port), sort_keys=False))
    host = {"address": sshd.host, "port": sshd.port, "user": sshd.user, "key": str(sshd.key_path),
            "agent": False}
    inventory = Inventory.model_validate({
        "name": "stunnel-plan-test", "environment": "lab", "known_hosts": str(sshd.known_hosts_path),
        "hosts": {"srv": host, "cli": host}})
    redactor = Redactor()
    connections = Connections(inventory, inventory_dir=tmp_path, redactor=redactor,
                              user_known_hosts=None, ssh_config=None)
    log, state = tmp_path / "systemctl.log", tmp_path / "systemctl.state"
    state.write_text("active\n")
    fake = tmp_path / "fake-systemctl"
    fake.write_text(FAKE_SYSTEMCTL.format(log=log, state=state))
    fake.chmod(0o755)
    options = StunnelStepOptions(root=f"{tmp_path}/hosts/{{host}}", drop_privileges=False, debug=debug,
                                 systemctl=str(fake))
    steps = StunnelSteps(connections.for_target, redactor, plan_dir=tmp_path, options=options)
    return StunnelLab(tmp_path, steps, redactor, connections, log, state, server_port, client_port,
                      backend_port, Lines())


TEST_KEY = "TestKeyFromTheReference0123456789"
"""The value of ``env:TEST_PSK_MONGODB``, the tunnel's ``secret:`` (the key the psk step deploys)."""


@pytest.fixture
def lab(tmp_path: Path, sshd: SshdServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[StunnelLab]:
    monkeypatch.setenv("TEST_PSK_MONGODB", TEST_KEY)
    built = make_lab(tmp_path, sshd)
    yield built
    built.connections.close_all()


@pytest.fixture
def start_stunnel() -> Iterator[Any]:
    """``start_stunnel(config, pid_file)``: a real stunnel on a deployed config, stopped by PID."""
    started: list[subprocess.Popen[bytes]] = []

    def start(config: Path, pid_file: Path) -> subprocess.Popen[bytes]:
        pid_file.parent.mkdir(parents=True, exist_ok=True)
        log = config.with_suffix(".log")
        with log.open("wb") as out:
            process = subprocess.Popen([find_stunnel(), str(config)], stdin=subprocess.DEVNULL,
                                       stdout=out, stderr=subprocess.STDOUT)
        started.append(process)
        deadline = time.monotonic() + 10
        while not (pid_file.exists() and pid_file.read_text().strip()):
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"stunnel did not start:\n{log.read_text()}")
            time.sleep(0.02)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=5)
