"""Lab effects: reinstall resets a host and changes its SSH host key; expect_new_host_key pins it."""

from __future__ import annotations

import pytest

from migrator.errors import HostKeyError
from migrator.executors.base import ChecklistAnswer
from migrator.executors.registry import Executors
from migrator.lab.hooks import LabHooks
from migrator.plan.model import Step
from migrator.secrets import Redactor
from tests.lab.conftest import RunningLab


class YesPrompter:
    """Answers yes to the new-host-key question, as the operator comparing with the console would."""

    def __init__(self) -> None:
        self.questions: list[str] = []

    def confirm(self, question: str, *, expect: str | None = None) -> bool:
        self.questions.append(question)
        return True

    def checklist(self, title: str, instructions: str, items: list[str]) -> ChecklistAnswer | None:
        raise AssertionError("the lab rehearsal confirms checklists automatically")

    def choose(self, question: str, choices: list[str]) -> str:
        raise AssertionError("not asked here")

    def text(self, question: str) -> str:
        raise AssertionError("not asked here")


def manual_step(effect: str, *, expect_new_host_key: bool = False) -> Step:
    return Step.model_validate({
        "id": f"{effect}-off1", "title": f"{effect} off1", "kind": "manual", "host": "off1",
        "instructions": "from the iDRAC console", "lab_effect": effect, "estimate": "1m",
        "expect_new_host_key": expect_new_host_key,
    })  # fmt: skip


def test_reinstall_resets_the_host_and_the_new_key_is_pinned_on_confirmation(lab: RunningLab) -> None:
    assert lab.run("off1", "echo old > /srv/old-system && pveversion").exit_code == 127  # old Debian
    before = lab.lab.host_key_fingerprint("off1")

    note = LabHooks(lab.dir).apply(manual_step("reinstall"))

    after = lab.lab.host_key_fingerprint("off1")
    assert after != before and after in note
    lab.reconnect()
    with pytest.raises(HostKeyError):
        lab.run("off1", "true")  # the pinned key is the old one: refused, never trusted on first use

    prompter = YesPrompter()
    executors = Executors(lab.inventory, inventory_dir=lab.dir, prompter=prompter, redactor=Redactor(),
                          confirm_manual=True, connections=lab.connections)  # fmt: skip
    # What the registry does after a step with expect_new_host_key: show, confirm, pin, reconnect.
    pinned = executors.accept_new_host_key(manual_step("none", expect_new_host_key=True))
    assert pinned == after
    assert after in prompter.questions[0]
    new_key = (lab.lab.paths.host_dir("off1") / "host_ed25519.pub").read_text().split()[1]
    lines = [line.split() for line in lab.lab.paths.known_hosts.read_text().splitlines()]
    assert [line[2] for line in lines if line[0] == "[127.0.1.1]:2222"] == [new_key]

    lab.reconnect()
    assert lab.run("off1", "zpool list -H -o name").stdout == "rpool\n"
    assert lab.run("off1", "pveversion").ok
    assert "is this node part of a cluster" in lab.run("off1", "pvecm status").stderr
    assert [line.split()[0] for line in lab.run("off1", "pvesm status").stdout.splitlines()[1:]] == ["local"]
    assert lab.run("off1", "ls -A /srv").stdout == ""
    assert lab.check("off1", {"kind": "zpool_healthy", "pool": "rpool", "min_size": "60G"}).passed


def test_reboot_restarts_sshd_with_the_same_key(lab: RunningLab) -> None:
    before_pid = {p.key: p.pid for p in lab.lab.status()}["sshd:ovh2"]
    before_key = lab.lab.host_key_fingerprint("ovh2")
    step = manual_step("reboot").model_copy(update={"host": "ovh2"})
    note = LabHooks(lab.dir, reboot_pause=0.1).apply(step)
    assert "ovh2 rebooted" in note
    assert {p.key: p.pid for p in lab.lab.status()}["sshd:ovh2"] != before_pid
    assert lab.lab.host_key_fingerprint("ovh2") == before_key
    lab.reconnect()
    assert lab.run("ovh2", "true").ok


# A reinstall killed right after the old system's files went (the runner SIGKILLed there).
KILLED_REINSTALL = """
import os, signal, sys
from pathlib import Path
from migrator.lab import control
remove = control._remove_tree
def remove_then_die(root: Path) -> None:
    remove(root)
    os.kill(os.getpid(), signal.SIGKILL)
control._remove_tree = remove_then_die
control.Lab(Path(sys.argv[1])).reinstall("ovh2")
"""


def test_a_reinstall_killed_half_way_is_finished_by_the_retry(lab: RunningLab) -> None:
    """issue 16: every --retry of install-pve ended in FileNotFoundError .../state.json (exit 70)."""
    import signal
    import subprocess
    import sys

    killed = subprocess.run([sys.executable, "-c", KILLED_REINSTALL, str(lab.dir)], check=False)
    assert killed.returncode == -signal.SIGKILL
    assert not (lab.lab.paths.state_dir("ovh2") / "state.json").exists()  # what the retry meets

    step = manual_step("reinstall").model_copy(update={"host": "ovh2"})
    note = LabHooks(lab.dir).apply(step)  # the step's --retry

    assert "ovh2 reinstalled" in note
    assert not lab.lab.reinstall_pending("ovh2")
    lab.reconnect()
    lab.connections.close_all()
    fingerprint = lab.lab.host_key_fingerprint("ovh2")
    executors = Executors(lab.inventory, inventory_dir=lab.dir, prompter=YesPrompter(), redactor=Redactor(),
                          confirm_manual=True, connections=lab.connections)  # fmt: skip
    assert executors.accept_new_host_key(step.model_copy(update={"expect_new_host_key": True})) == fingerprint
    lab.reconnect()
    assert lab.run("ovh2", "pveversion").ok
    assert lab.run("ovh2", "zpool list -H -o name").stdout == "rpool\n"
