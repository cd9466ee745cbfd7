"""Helpers for the registry tests: a scripted operator, steps and inventories for the test sshd."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from migrator.executors.base import ChecklistAnswer, StepContext
from migrator.executors.connections import Connections
from migrator.executors.registry import Executors
from migrator.plan.inventory import Inventory
from migrator.plan.model import Step
from migrator.secrets import Redactor
from tests.fixtures.sshd import SshdServer


class ScriptedPrompter:
    """An operator double: canned answers, and a record of every question asked."""

    def __init__(
        self,
        *,
        confirm: list[bool] | None = None,
        checklist: list[ChecklistAnswer | None] | None = None,
    ) -> None:
        self.confirm_answers = list(confirm or [])
        self.checklist_answers = list(checklist or [])
        self.questions: list[str] = []
        self.checklists: list[tuple[str, str, list[str]]] = []

    def confirm(self, question: str, *, expect: str | None = None) -> bool:
        self.questions.append(question)
        if not self.confirm_answers:
            raise AssertionError(f"unexpected question: {question}")
        return self.confirm_answers.pop(0)

    def checklist(self, title: str, instructions: str, items: list[str]) -> ChecklistAnswer | None:
        self.checklists.append((title, instructions, items))
        if not self.checklist_answers:
            raise AssertionError(f"unexpected checklist: {title}")
        return self.checklist_answers.pop(0)

    def choose(self, question: str, choices: list[str]) -> str:
        raise AssertionError(f"unexpected choice: {question}")

    def text(self, question: str) -> str:
        raise AssertionError(f"unexpected text question: {question}")


class Lines:
    """A LineSink that keeps what it was given."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def __call__(self, stream: str, line: str) -> None:
        self.seen.append((stream, line))

    def text(self) -> str:
        return "\n".join(line for _, line in self.seen)


def step(**fields: Any) -> Step:
    """A step from keyword fields, validated like a plan's (durations as text work)."""
    return Step.model_validate({"id": "s1", "title": "a test step", **fields})


def context(lines: Lines | None = None, **fields: Any) -> StepContext:
    return StepContext(run_id=1, attempt=1, on_line=lines or Lines(), **fields)


def inventory_for(server: SshdServer, known_hosts: Path, **extra: Any) -> Inventory:
    """An inventory with one SSH host ``lab1`` (the test sshd) and the given known_hosts file."""
    return Inventory.model_validate(
        {
            "name": "registry-test",
            "environment": "lab",
            "known_hosts": str(known_hosts),
            "hosts": {
                "lab1": {
                    "address": server.host,
                    "port": server.port,
                    "user": server.user,
                    "key": str(server.key_path),
                    "agent": False,
                }
            },
            **extra,
        }
    )


@pytest.fixture
def redactor() -> Redactor:
    return Redactor()


@pytest.fixture
def lines() -> Iterator[Lines]:
    yield Lines()


LOCAL_ONLY = Inventory(name="local-only", environment="lab")


class ExecutorsFactory:
    """Builds Executors whose connections read only the test's known_hosts (never ~/.ssh)."""

    def __init__(self, tmp_path: Path, redactor: Redactor) -> None:
        self.tmp_path = tmp_path
        self.redactor = redactor
        self.built: list[Executors] = []

    def __call__(
        self,
        inventory: Inventory = LOCAL_ONLY,
        prompter: Any = None,
        **options: Any,
    ) -> Executors:
        connections = Connections(
            inventory,
            inventory_dir=self.tmp_path,
            redactor=self.redactor,
            user_known_hosts=None,
            ssh_config=None,
        )
        executors = Executors(
            inventory,
            inventory_dir=self.tmp_path,
            prompter=prompter or ScriptedPrompter(),
            redactor=self.redactor,
            connections=connections,
            **options,
        )
        self.built.append(executors)
        return executors


@pytest.fixture
def make_executors(tmp_path: Path, redactor: Redactor) -> Iterator[ExecutorsFactory]:
    factory = ExecutorsFactory(tmp_path, redactor)
    yield factory
    for executors in factory.built:
        executors.close()


PVE_TOKEN_ID = "root@pam!migrator"
PVE_SECRET = "5e0c7d1a-registry-token-secret"
PVE_SECRET_ENV = "MIGRATOR_TEST_REGISTRY_PVE_TOKEN"


@pytest.fixture
def pve(fakepve: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The fakepve with an API token whose secret is in the environment (as in production)."""
    fakepve.apitokens[PVE_TOKEN_ID] = PVE_SECRET
    monkeypatch.setenv(PVE_SECRET_ENV, PVE_SECRET)
    return fakepve


@pytest.fixture
def pve_inventory(pve: Any, fakepve_cafile: str) -> Inventory:
    """An inventory whose host ``pve`` is the fakepve's single node ``pve1``."""
    return Inventory.model_validate(
        {
            "name": "pve-test",
            "environment": "lab",
            "hosts": {"pve": {"address": "127.0.0.1"}},
            "proxmox": {
                "pve": {
                    "url": pve.url,
                    "node": "pve1",
                    "token_id": PVE_TOKEN_ID,
                    "token_secret": f"env:{PVE_SECRET_ENV}",
                    "ca_file": fakepve_cafile,
                }
            },
        }
    )
