"""One real lab per test module (module-scoped): sshd per host, fakepve, stand-ins.

The lab binds fixed loopback addresses (127.0.1.x:2222 and :8006), like production's fixed
hosts: each module's lab runs in its own network namespace (``private_network``), so a demo
lab left running, another module's lab or a system sshd on :22 cannot collide with it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter

from migrator.checks import evaluate, probe_for
from migrator.checks.base import CheckResult, CommandProbe, ProbeOutput
from migrator.executors.base import CommandResult
from migrator.executors.connections import Connections
from migrator.lab.control import Lab
from migrator.plan.checks import Check
from migrator.plan.inventory import Inventory
from migrator.plan.load import load_inventory
from tests.lab.private_world import private_network

CHECK: TypeAdapter[Check] = TypeAdapter(Check)


@dataclass
class RunningLab:
    lab: Lab
    inventory: Inventory
    connections: Connections

    @property
    def dir(self) -> Path:
        return self.lab.paths.dir

    def reconnect(self) -> None:
        """Fresh transports (after a key change or restart): known_hosts is read again."""
        self.connections.close_all()
        self.connections = connect(self.lab)

    def run(self, target: str, command: str) -> CommandResult:
        return self.connections.for_target(target).run(command, timeout=30)

    def check(self, target: str, spec: dict[str, Any]) -> CheckResult:
        """The real check library through the real SSH transport."""
        check = CHECK.validate_python(spec)
        probe = probe_for(check)
        assert isinstance(probe, CommandProbe)
        result = self.run(
            target, probe.command if isinstance(probe.command, str) else " ".join(probe.command)
        )
        return evaluate(check, ProbeOutput(result.exit_code, result.stdout, result.stderr))


def connect(lab: Lab) -> Connections:
    inventory, problems = load_inventory(lab.paths.inventory)
    assert inventory is not None, problems
    # Only the lab's own known_hosts: never ~/.ssh/known_hosts or ~/.ssh/config.
    return Connections(
        inventory, inventory_dir=lab.paths.dir, redactor=str, user_known_hosts=None, ssh_config=None
    )


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningLab]:
    """A lab in its own network namespace: the machine's own services and labs change nothing."""
    with private_network():
        the_lab = Lab(tmp_path_factory.mktemp("lab"))
        try:
            the_lab.up()
            inventory = load_inventory(the_lab.paths.inventory)[0]
            assert inventory is not None
            running = RunningLab(the_lab, inventory, connect(the_lab))
            try:
                yield running
            finally:
                running.connections.close_all()
        finally:
            the_lab.down()


def lab_processes(directory: Path) -> list[int]:
    """Every process whose command line mentions the lab directory (sshd, fakepve, squatters)."""
    found = []
    needle = str(directory).encode()
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if needle in cmdline.read_bytes():
                found.append(int(cmdline.parent.name))
        except OSError:
            continue
    return found
