"""Manual steps: a person does the work (reinstall from the iDRAC console, order a disk ...).

The executor shows the instructions, walks the checklist item by item through the
:class:`~migrator.executors.base.Prompter`, and records what was confirmed as evidence. An
operator who stops the checklist stops the run (:class:`~migrator.errors.OperatorNeeded`);
an item left unconfirmed fails the step.

For lab rehearsals the registry may be told to confirm manual steps automatically; the
evidence then says so, so a rehearsal report can never pass for a real run. A lab may also
give :class:`LabHooks` that carry out a manual step's ``lab_effect`` (reinstall or reboot a
lab host); nothing else here knows about labs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from migrator.errors import OperatorNeeded
from migrator.executors.base import ActionOutcome, ChecklistAnswer, Prompter
from migrator.plan.model import LabEffect

if TYPE_CHECKING:
    from migrator.plan.model import Step

AUTO_CONFIRMED = "confirmed automatically for a lab rehearsal"


class LabHooks(Protocol):
    """Carries out what a manual step does to a lab host; returns a line for the evidence."""

    def apply(self, step: Step) -> str: ...


def checklist_items(step: Step) -> list[str]:
    """The items to confirm; a step without a checklist is confirmed as a whole."""
    return list(step.checklist) or [f"Done: {step.title}"]


def run_manual_step(
    step: Step,
    prompter: Prompter,
    *,
    confirm_manual: bool = False,
    lab: LabHooks | None = None,
) -> ActionOutcome:
    """Walk the manual step once; apply its lab effect (if any) only after it was confirmed."""
    items = checklist_items(step)
    outcome = confirm_checklist(
        title=f"{step.id}: {step.title}",
        instructions=step.instructions or step.description or step.title,
        items=items,
        prompter=prompter,
        auto=confirm_manual,
        where=f"manual step {step.id}",
    )
    # The lab effect stands in for what the person did, so it happens only once they said so.
    effect = LabEffect(step.lab_effect)
    if outcome.ok and lab is not None and effect is not LabEffect.NONE:
        note = lab.apply(step)
        outcome.evidence = f"{outcome.evidence}\nlab effect {effect.value}: {note}"
        outcome.summary = f"{outcome.summary}; lab effect {effect.value} applied"
    return outcome


def confirm_checklist(
    *,
    title: str,
    instructions: str,
    items: list[str],
    prompter: Prompter,
    auto: bool,
    where: str,
) -> ActionOutcome:
    """Have ``items`` confirmed (by the operator, or automatically for a lab rehearsal)."""
    if auto:
        evidence = "\n".join([AUTO_CONFIRMED, *(f"[x] {item}" for item in items)])
        return ActionOutcome(ok=True, summary=f"{len(items)} item(s) {AUTO_CONFIRMED}", evidence=evidence)
    answer = prompter.checklist(title, instructions, items)
    if answer is None:
        raise OperatorNeeded(
            "the operator stopped at the checklist",
            where=where,
            hint="resume the run once the work is done (or skip the step with a reason)",
        )
    return _outcome_of(answer, items)


def _outcome_of(answer: ChecklistAnswer, items: list[str]) -> ActionOutcome:
    confirmed = list(answer.confirmed) + [False] * (len(items) - len(answer.confirmed))
    lines = [f"[{'x' if done else ' '}] {item}" for item, done in zip(items, confirmed, strict=False)]
    if answer.evidence:
        lines.append(f"operator notes: {answer.evidence}")
    missing = [item for item, done in zip(items, confirmed, strict=False) if not done]
    if missing:
        return ActionOutcome(
            ok=False,
            summary=f"{len(missing)} of {len(items)} item(s) not confirmed: {'; '.join(missing)}",
            evidence="\n".join(lines),
        )
    return ActionOutcome(
        ok=True, summary=f"{len(items)} item(s) confirmed by the operator", evidence="\n".join(lines)
    )
