"""A run is bound to what it ran against, and can be handed to a teammate (issue 15), through
the CLI in subprocesses against the real lab (sshd per host), each lab in its own network
namespace.

* Rehearse with the lab inventory, SIGKILL migrator mid-step: ``resume`` with no
  ``--inventory`` continues on the lab (not on the plan's own inventory, here one marked
  production); with the production inventory it is refused, the difference shown, nothing run.
* Kill during a step, ``migrator handover``, stop that lab; in another network namespace the
  same lab hosts come back, and the README's command, run from a fresh ``git clone`` of this
  repository, completes the run with nothing run twice.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from migrator.lab.layout import SSH_PORT, host

REPO = Path(__file__).resolve().parents[2]
TIMEOUT = 180
LAB_UP_TIMEOUT = 900  # `lab up` takes 1-3 minutes on a loaded machine (every host, every CT)

PLAN = """\
name: bound
title: A run bound to its inventory
inventory: production.yaml        # the plan's own inventory: marked production
phases:
- id: ph
  title: In the window
  where: window
  steps:
  - id: mark-one
    title: First mark
    host: off1
    kind: ssh
    command: echo one >> /srv/{count}
  - id: slow
    title: A step killed while it runs
    host: off1
    kind: ssh
    command: echo slow >> /srv/{count} && sleep 60    # killed in its sleep: the effect is there
# /srv is off1's own (the lab binds it per host from the lab dir), never the machine's.
    post:
    - {{kind: command, command: "grep -qx slow /srv/{count}"}}
  - id: mark-two
    title: Second mark
    host: off1
    kind: ssh
    command: echo two >> /srv/{count}
"""


Done = subprocess.CompletedProcess[str]


@dataclass
class Netns:
    name: str

    def run(self, *argv: str, cwd: Path = REPO, timeout: float = TIMEOUT) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "COLUMNS": "200"}
        env.pop("MIGRATOR_DB", None)
        return subprocess.run(["ip", "netns", "exec", self.name, *argv], capture_output=True, text=True,
                              timeout=timeout, cwd=cwd, env=env, check=False)  # fmt: skip

    def migrator(self, *args: str, cwd: Path = REPO, timeout: float = TIMEOUT) -> Done:
        return self.run(sys.executable, "-m", "migrator", *args, cwd=cwd, timeout=timeout)

    def popen(self, *args: str) -> subprocess.Popen[str]:
        argv = ["ip", "netns", "exec", self.name, sys.executable, "-m", "migrator", *args]
        return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO)

    def count(self, lab: Path, name: str) -> list[str]:
        got = self.run("ssh", "-F", "/dev/null", "-i", str(lab / "client_ed25519"),
                       "-o", f"UserKnownHostsFile={lab / 'known_hosts'}", "-o", "BatchMode=yes",
                       "-o", "StrictHostKeyChecking=yes", "-p", str(SSH_PORT),
                       f"root@{host('off1').address}", f"cat /srv/{name}", timeout=30)  # fmt: skip
        assert got.returncode == 0, got.stderr
        return got.stdout.split()


def _netns() -> Iterator[Netns]:
    name = f"migrator-i15-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"], check=True)
        yield Netns(name)
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


@pytest.fixture(scope="module")
def netns() -> Iterator[Netns]:
    yield from _netns()


@pytest.fixture(scope="module")
def other_netns() -> Iterator[Netns]:
    yield from _netns()


@pytest.fixture(scope="module")
def lab_dir(tmp_path_factory: pytest.TempPathFactory, netns: Netns) -> Iterator[Path]:
    """One lab (its hosts' state on disk) for the module, up in ``netns``; a test may take it
    down and bring the same hosts up in another namespace."""
    lab = tmp_path_factory.mktemp("lab")
    lab_up(netns, lab)
    try:
        yield lab
    finally:
        netns.migrator("lab", "down", "--dir", str(lab))


def lab_up(ns: Netns, lab: Path) -> None:
    up = ns.migrator("lab", "up", "--dir", str(lab), timeout=LAB_UP_TIMEOUT)
    assert up.returncode == 0, up.stdout + up.stderr


def lab_down(ns: Netns, lab: Path) -> None:
    down = ns.migrator("lab", "down", "--dir", str(lab))
    assert down.returncode == 0, down.stdout + down.stderr


def write_plan(tmp_path: Path, lab: Path, count: str) -> Path:
    """The plan, and beside it its own inventory: the lab's, but marked production."""
    plans = tmp_path / "plans"
    plans.mkdir()
    production = yaml.safe_load((lab / "inventory.yaml").read_text())
    production.update(name="production", environment="production", known_hosts=str(lab / "known_hosts"))
    (plans / "production.yaml").write_text(yaml.safe_dump(production, sort_keys=False))
    plan = plans / "bound.yaml"
    plan.write_text(PLAN.format(count=count))
    return plan


def run_and_kill_in_slow(ns: Netns, plan: Path, lab: Path, db: Path, count: str) -> None:
    """Run the plan on the lab; SIGKILL migrator once step slow's effect is on off1."""
    runner = ns.popen("run", str(plan), "--inventory", str(lab / "inventory.yaml"), "--db", str(db))
    assert runner.stdout is not None
    seen = []
    for line in runner.stdout:
        seen.append(line)
        if "running slow" in line:
            for _ in range(60):
                if "slow" in ns.count(lab, count):
                    break
                time.sleep(0.5)
            runner.send_signal(signal.SIGKILL)
            break
    runner.wait(TIMEOUT)
    assert runner.returncode == -signal.SIGKILL, "".join(seen)


def status(ns: Netns, db: Path, cwd: Path = REPO) -> dict[str, object]:
    got = ns.migrator("status", "--db", str(db), "--format", "json", cwd=cwd)
    assert got.returncode == 0, got.stderr
    return json.loads(got.stdout)  # type: ignore[no-any-return]


TAKE_OVER = ("--take-over", "--reason", "the runner was killed (lab test)")


def test_resume_keeps_the_lab_inventory_and_refuses_production(
    netns: Netns, lab_dir: Path, tmp_path: Path
) -> None:
    plan = write_plan(tmp_path, lab_dir, "bound-count")
    db = tmp_path / "state.db"
    run_and_kill_in_slow(netns, plan, lab_dir, db, "bound-count")
    assert netns.count(lab_dir, "bound-count") == ["one", "slow"]

    production = plan.parent / "production.yaml"
    refused = netns.migrator("resume", "1", "--db", str(db), "--inventory", str(production), *TAKE_OVER)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "environment: the run was lab (inventory lab), this inventory is production" in refused.stderr
    assert str(production) in refused.stderr and "--accept-inventory-change" in refused.stderr
    assert "running" not in refused.stdout
    before = status(netns, db)
    assert before["run"]["environment"] == "lab"  # type: ignore[index]

    # As printed, from another directory: no --inventory, the run's own (the lab) is used.
    resumed = netns.migrator("resume", "1", "--db", str(db), *TAKE_OVER, cwd=Path("/"))
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    done = status(netns, db)
    run = done["run"]
    assert run["status"] == "completed" and run["mode"] == "rehearsal"  # type: ignore[index]
    assert run["inventory_path"] == str(lab_dir / "inventory.yaml")  # type: ignore[index]
    assert run["environment"] == "lab"  # type: ignore[index]
    assert netns.count(lab_dir, "bound-count") == ["one", "slow", "two"]  # none twice


def _readme_command(readme: str) -> list[str]:
    section = readme.split("## Continue the run", 1)[1]
    command = section.split("```", 2)[1].strip()
    argv = shlex.split(command)
    assert argv[0] == "migrator", command
    return argv[1:]


def test_handover_to_a_fresh_clone_in_another_network_namespace(
    netns: Netns, other_netns: Netns, lab_dir: Path, tmp_path: Path
) -> None:
    try:
        plan = write_plan(tmp_path, lab_dir, "handover-count")
        db = tmp_path / "laptop" / "state.db"
        db.parent.mkdir()
        run_and_kill_in_slow(netns, plan, lab_dir, db, "handover-count")
        handed = tmp_path / "handed-over"
        wrote = netns.migrator("handover", "1", "--to", str(handed), "--db", str(db))
        assert wrote.returncode == 0, wrote.stdout + wrote.stderr
    finally:
        lab_down(netns, lab_dir)
    readme = (handed / "README.md").read_text()
    assert "private SSH key" in readme and str(lab_dir / "client_ed25519") in readme
    assert "token secret" in readme and "file:" in readme
    assert sorted(p.name for p in handed.iterdir()) == ["README.md", "inventory", "plan", "state.db"]
    assert not list(handed.glob("state.db-*"))  # one self-contained file

    # The laptop is gone: its database and plan too.
    db.unlink()
    plan.unlink()
    clone = tmp_path / "clone"
    cloned = subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], capture_output=True, text=True,
                            check=False, timeout=120)  # fmt: skip
    assert cloned.returncode == 0, cloned.stderr
    lab_up(other_netns, lab_dir)  # the same hosts, reached from another machine
    try:
        resumed = other_netns.migrator(*_readme_command(readme), cwd=clone)
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        assert "running mark-one" not in resumed.stdout and "running slow" not in resumed.stdout
        done = status(other_netns, handed / "state.db", cwd=clone)
        assert done["run"]["status"] == "completed"  # type: ignore[index]
        assert other_netns.count(lab_dir, "handover-count") == ["one", "slow", "two"]
        log = other_netns.migrator("log", "1", "--db", str(handed / "state.db"), cwd=clone).stdout
        assert f"a copy of {db}" in log and "the same content as the run's" in log
    finally:
        lab_down(other_netns, lab_dir)
