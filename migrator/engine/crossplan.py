"""Cross-plan preconditions: a step's ``requires: [{plan, step}]``, read from the same store.

The order between plans (the stunnel plan's MongoDB tunnel needs off1's CT 102 serving; off1's
``repoint-consumers`` needs that tunnel) lives in the plans, not in operators' heads. A required
step is done when, among the other plan's live and rehearsal runs on the same inventory (newest
first), the first one that settled it (succeeded or rolled back) has it succeeded. Anything
else is "not done", said with why; the runner blocks the step (a resume tries again) and the
preflight sheet says it cannot know yet. Dry-runs and preflights of the other plan never count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from migrator.plan.model import PlanStep, Step
    from migrator.store.db import Store

COUNTING_MODES = ("live", "rehearsal")


@dataclass(frozen=True)
class Unmet:
    plan: str
    step: str
    why: str

    def text(self) -> str:
        return f"needs step {self.step} of plan {self.plan} done ({self.why})"


def unmet(store: Store, step: Step, *, inventory_name: str) -> list[Unmet]:
    """The step's requirements that are not done now, each with why."""
    missing = []
    for required in step.requires:
        why = not_done(store, required, inventory_name=inventory_name)
        if why is not None:
            missing.append(Unmet(required.plan, required.step, why))
    return missing


def not_done(store: Store, required: PlanStep, *, inventory_name: str) -> str | None:
    """None when ``required`` is done; else why not (no run, pending, failed, rolled back...)."""
    runs = [
        r for r in store.runs(required.plan)
        if r.mode in COUNTING_MODES and r.inventory_name == inventory_name
    ]  # fmt: skip
    if not runs:
        return f"no live or rehearsal run of {required.plan} on inventory {inventory_name}"
    newest: tuple[int, str] | None = None
    for run in runs:  # newest first
        record = next((s for s in store.steps(run.id) if s.step_id == required.step), None)
        if record is None:
            continue
        if newest is None:
            newest = (run.id, record.state)
        if record.state == "succeeded":
            return None
        if record.state == "rolled_back":
            return f"rolled back in run {run.id}"
    if newest is None:
        return f"no run of {required.plan} has a step {required.step}"
    return f"{newest[1]} in run {newest[0]}"
