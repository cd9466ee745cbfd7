"""Wait steps (probe until a check passes, or give up), manual steps and rollbacks via the registry."""

from __future__ import annotations

from pathlib import Path

import pytest

from migrator.errors import RunStateError
from migrator.executors.base import ChecklistAnswer
from migrator.executors.manual import AUTO_CONFIRMED
from migrator.plan.model import Step
from tests.registry.conftest import ExecutorsFactory, Lines, ScriptedPrompter, context, step


def test_a_wait_step_passes_once_the_file_appears(make_executors: ExecutorsFactory, tmp_path: Path) -> None:
    flag = tmp_path / "booted"

    class CreateAfterFirstProbe(Lines):
        def __call__(self, stream: str, line: str) -> None:
            super().__call__(stream, line)
            flag.touch()  # the "host" finishes booting between two probes

    lines = CreateAfterFirstProbe()
    wait = step(kind="wait", until={"kind": "file", "path": str(flag)}, interval="1s", timeout="1m")
    outcome = make_executors().execute(wait, context(lines))
    assert outcome.ok, outcome.summary
    assert "after 2 probe" in outcome.summary
    assert lines.seen[0][1].startswith("probe 1: not yet")


def test_a_wait_step_gives_up_at_its_timeout(make_executors: ExecutorsFactory, tmp_path: Path) -> None:
    wait = step(
        kind="wait", until={"kind": "file", "path": str(tmp_path / "never")}, interval="1s", timeout="1s"
    )
    outcome = make_executors().execute(wait, context())
    assert not outcome.ok
    assert "gave up after 1s" in outcome.summary


def test_a_wait_step_stops_when_cancelled(make_executors: ExecutorsFactory, tmp_path: Path) -> None:
    lines = Lines()
    wait = step(kind="wait", until={"kind": "file", "path": str(tmp_path / "never")}, interval="1m")
    outcome = make_executors().execute(wait, context(lines, cancel=lambda: bool(lines.seen)))
    assert not outcome.ok and "cancelled" in outcome.summary
    assert len(lines.seen) == 1


def manual_step(**fields: object) -> Step:
    return step(
        kind="manual",
        title="Reinstall off2",
        instructions="Install PVE from the iDRAC console.",
        checklist=["installed", "rebooted"],
        **fields,
    )


def test_a_manual_step_is_walked_through_the_prompter(make_executors: ExecutorsFactory) -> None:
    prompter = ScriptedPrompter(checklist=[ChecklistAnswer([True, True], evidence="done at 10:42")])
    outcome = make_executors(prompter=prompter).execute(manual_step(), context())
    assert outcome.ok
    assert prompter.checklists[0][2] == ["installed", "rebooted"]
    assert outcome.evidence is not None and "done at 10:42" in outcome.evidence


def test_confirm_manual_confirms_and_applies_the_lab_effect(make_executors: ExecutorsFactory) -> None:
    applied: list[str] = []

    class Lab:
        def apply(self, step: Step) -> str:
            applied.append(step.id)
            return "lab2 reinstalled from the golden image"

    prompter = ScriptedPrompter()
    executors = make_executors(prompter=prompter, confirm_manual=True, lab=Lab())
    outcome = executors.execute(manual_step(lab_effect="reinstall"), context())
    assert outcome.ok and prompter.checklists == []
    assert applied == ["s1"]
    assert outcome.evidence is not None
    assert AUTO_CONFIRMED in outcome.evidence and "golden image" in outcome.evidence


def test_a_rollback_with_instructions_is_a_manual_confirmation(make_executors: ExecutorsFactory) -> None:
    prompter = ScriptedPrompter(checklist=[ChecklistAnswer([True])])
    s = step(kind="local", command="true", rollback={"instructions": "Re-import the pool by hand."})
    outcome = make_executors(prompter=prompter).rollback(s, context())
    assert outcome.ok
    title, instructions, _ = prompter.checklists[0]
    assert "Roll back s1" in title and instructions == "Re-import the pool by hand."
    auto = make_executors(confirm_manual=True).rollback(s, context())
    assert auto.ok and AUTO_CONFIRMED in auto.summary


def test_a_dry_run_context_never_acts(make_executors: ExecutorsFactory, tmp_path: Path) -> None:
    marker = tmp_path / "acted"
    s = step(kind="local", command=f"touch {marker}", rollback={"command": f"touch {marker}"})
    executors = make_executors()
    with pytest.raises(RunStateError, match="dry-run"):
        executors.execute(s, context(dry_run=True))
    with pytest.raises(RunStateError, match="dry-run"):
        executors.rollback(s, context(dry_run=True))
    assert not marker.exists()
