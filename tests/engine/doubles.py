"""Test doubles for the engine: a StepRunner that runs local shell commands for real, a
scripted Prompter, a LoadedPlan built from models, and an event collector."""

from __future__ import annotations

import hashlib
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from migrator.checks import evaluate
from migrator.checks.base import CheckResult, ProbeOutput
from migrator.engine.events import Event
from migrator.executors.base import ActionOutcome, ChecklistAnswer, StepContext, to_shell
from migrator.plan.checks import CommandCheck
from migrator.plan.inventory import Environment, Inventory
from migrator.plan.model import Phase, Plan, Step, Where


class ShellRunner:
    """Runs a step's command with ``sh -c`` in ``workdir``; checks must be command checks."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.executed: list[str] = []
        self.checked: list[str] = []

    def execute(self, step: Step, ctx: StepContext) -> ActionOutcome:
        self.executed.append(step.id)
        assert step.command is not None
        proc = self._sh(step.command)
        for line in proc.stdout.splitlines():
            ctx.on_line("stdout", line)
        for line in proc.stderr.splitlines():
            ctx.on_line("stderr", line)
        return ActionOutcome(
            ok=proc.returncode == 0,
            summary=f"exit {proc.returncode}",
            exit_code=proc.returncode,
            stdout=proc.stdout,
        )

    def rollback(self, step: Step, ctx: StepContext) -> ActionOutcome:
        raise AssertionError("not used")

    def check(self, check: Any, step: Step, ctx: StepContext) -> CheckResult:
        """The real evaluator on the real output of ``sh -c`` (a missing program cannot tell)."""
        assert isinstance(check, CommandCheck)
        self.checked.append(step.id)
        proc = self._sh(check.command)
        return evaluate(check, ProbeOutput(proc.returncode, proc.stdout, proc.stderr))

    def close(self) -> None:
        pass

    def _sh(self, command: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["sh", "-c", to_shell(command)], cwd=self.workdir, capture_output=True, text=True, check=False
        )


class NoopRunner:
    """Does nothing, successfully (engine overhead, dry-run assertions)."""

    def __init__(self) -> None:
        self.executed = 0

    def execute(self, step: Step, ctx: StepContext) -> ActionOutcome:
        self.executed += 1
        return ActionOutcome(ok=True, summary="ok", exit_code=0)

    def rollback(self, step: Step, ctx: StepContext) -> ActionOutcome:
        return ActionOutcome(ok=True, summary="ok")

    def check(self, check: Any, step: Step, ctx: StepContext) -> CheckResult:
        return CheckResult(True, "", "", "ok")

    def close(self) -> None:
        pass


@dataclass
class ScriptedPrompter:
    """Answers from lists; records the questions."""

    confirms: list[bool] = field(default_factory=list)
    choices: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    interactive: bool = True
    asked: list[tuple[str, str | None]] = field(default_factory=list)

    def confirm(self, question: str, *, expect: str | None = None) -> bool:
        self.asked.append((question, expect))
        return self.confirms.pop(0)

    def checklist(self, title: str, instructions: str, items: list[str]) -> ChecklistAnswer | None:
        return ChecklistAnswer([True] * len(items))

    def choose(self, question: str, choices: list[str]) -> str:
        self.asked.append((question, None))
        return self.choices.pop(0)

    def text(self, question: str) -> str:
        return self.texts.pop(0)


@dataclass
class FakeLoaded:
    """Duck-types migrator.plan.load.LoadedPlan for engine tests."""

    plan: Plan
    inventory: Inventory
    path: Path
    fingerprint: str
    order: list[str]
    deps: dict[str, list[str]]
    step_fingerprints: dict[str, str]

    def step(self, step_id: str) -> Step:
        if not hasattr(self, "_by_id"):
            self._by_id = {s.id: s for s in self.plan.steps()}
        return self._by_id[step_id]

    def phase(self, step_id: str) -> Phase:
        return self.plan.phase_of()[step_id]


def loaded(steps: list[dict[str, Any]], *, name: str = "demo") -> FakeLoaded:
    """A plan of ``steps`` (dicts of Step fields; kind defaults to local) in one phase."""
    models = [Step.model_validate({"kind": "local", "title": s["id"], **s}) for s in steps]
    plan = Plan(
        name=name,
        title=name,
        inventory="lab.yaml",
        phases=[Phase(id="p", title="p", where=Where.WINDOW, steps=models)],
    )
    order = [s.id for s in models]
    deps = {
        s.id: (list(s.depends_on) if s.depends_on is not None else order[i - 1 : i])
        for i, s in enumerate(models)
    }
    prints = {s.id: hashlib.sha256(s.model_dump_json().encode()).hexdigest() for s in models}
    fp = hashlib.sha256("".join(prints.values()).encode()).hexdigest()
    return FakeLoaded(
        plan,
        Inventory(name="lab", environment=Environment.LAB),
        Path(f"plans/{name}.yaml"),
        fp,
        order,
        deps,
        prints,
    )


class Collector:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def __call__(self, event: Event) -> None:
        self.events.append(event)

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]


def check(command: str, **kw: Any) -> dict[str, Any]:
    return {"kind": "command", "command": command, **kw}
