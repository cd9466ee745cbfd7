"""Manual steps: the checklist walked by an operator, or confirmed automatically in a lab."""

from __future__ import annotations

import pytest

from migrator.errors import OperatorNeeded
from migrator.executors.base import ChecklistAnswer
from migrator.executors.manual import AUTO_CONFIRMED, run_manual_step
from migrator.plan.model import Step
from tests.registry.conftest import ScriptedPrompter, step

REINSTALL = step(
    id="off2-reinstall",
    kind="manual",
    title="Reinstall off2 with Proxmox VE",
    instructions="Boot the PVE ISO from the iDRAC virtual console and install on the rpool mirror.",
    checklist=["ISO booted", "ZFS RAID1 chosen", "root password set"],
    lab_effect="reinstall",
)


class RecordingLab:
    def __init__(self) -> None:
        self.applied: list[str] = []

    def apply(self, step: Step) -> str:
        self.applied.append(step.id)
        return "lab host lab2 reinstalled"


def test_the_operator_confirms_every_item_and_the_evidence_is_kept() -> None:
    prompter = ScriptedPrompter(
        checklist=[ChecklistAnswer([True, True, True], evidence="photo in ticket #42")]
    )
    outcome = run_manual_step(REINSTALL, prompter)
    assert outcome.ok
    title, instructions, items = prompter.checklists[0]
    assert "off2-reinstall" in title and "iDRAC" in instructions
    assert items == ["ISO booted", "ZFS RAID1 chosen", "root password set"]
    assert outcome.evidence is not None
    assert "[x] ZFS RAID1 chosen" in outcome.evidence and "photo in ticket #42" in outcome.evidence
    assert AUTO_CONFIRMED not in outcome.evidence


def test_an_unconfirmed_item_fails_the_step_and_is_named() -> None:
    prompter = ScriptedPrompter(checklist=[ChecklistAnswer([True, False, True])])
    outcome = run_manual_step(REINSTALL, prompter)
    assert not outcome.ok
    assert "ZFS RAID1 chosen" in outcome.summary
    assert outcome.evidence is not None and "[ ] ZFS RAID1 chosen" in outcome.evidence


def test_stopping_at_the_checklist_stops_the_run() -> None:
    with pytest.raises(OperatorNeeded, match="stopped"):
        run_manual_step(REINSTALL, ScriptedPrompter(checklist=[None]))


def test_confirm_manual_confirms_without_asking_and_says_so() -> None:
    prompter = ScriptedPrompter()
    outcome = run_manual_step(REINSTALL, prompter, confirm_manual=True)
    assert outcome.ok
    assert prompter.checklists == []
    assert AUTO_CONFIRMED in outcome.summary
    assert outcome.evidence is not None and outcome.evidence.startswith(AUTO_CONFIRMED)


def test_the_lab_effect_is_applied_after_confirmation_only() -> None:
    lab = RecordingLab()
    outcome = run_manual_step(REINSTALL, ScriptedPrompter(), confirm_manual=True, lab=lab)
    assert lab.applied == ["off2-reinstall"]
    assert outcome.evidence is not None and "lab host lab2 reinstalled" in outcome.evidence

    refused = RecordingLab()
    failed = run_manual_step(
        REINSTALL, ScriptedPrompter(checklist=[ChecklistAnswer([False, False, False])]), lab=refused
    )
    assert not failed.ok and refused.applied == []


def test_a_step_without_lab_effect_never_calls_the_lab() -> None:
    lab = RecordingLab()
    plain = Step.model_validate({**REINSTALL.model_dump(), "lab_effect": "none"})
    run_manual_step(plain, ScriptedPrompter(), confirm_manual=True, lab=lab)
    assert lab.applied == []


def test_a_step_without_checklist_is_confirmed_as_a_whole() -> None:
    prompter = ScriptedPrompter(checklist=[ChecklistAnswer([True])])
    bare = step(kind="manual", title="Order the Optane", instructions="Ask Free for a replacement.")
    assert run_manual_step(bare, prompter).ok
    assert prompter.checklists[0][2] == ["Done: Order the Optane"]
