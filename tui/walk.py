"""Where "run next" and "run until" stop: pure functions of the plan and the step states."""

from __future__ import annotations

from collections.abc import Mapping

from tui.facade import PlanInfo

DONE = frozenset({"succeeded", "skipped", "rolled_back", "already_done"})
WAITING = frozenset({"blocked"})
"""Cannot run until the operator settles what blocks it; the runner passes over it."""


def next_step(plan: PlanInfo, states: Mapping[str, str]) -> str | None:
    """The first step that is not done (a failed or in-doubt step comes first: it must be
    settled before anything after it runs); blocked steps are passed over, as the runner does."""
    for step in plan.steps:
        if states.get(step.id, "pending") not in DONE | WAITING:
            return step.id
    return None


def until_stop(plan: PlanInfo, states: Mapping[str, str]) -> str | None:
    """The last step to run for "run until the next manual step, gate or phase end": from the
    next step on, stop before a later manual step or point of no return, or at the end of the
    next step's phase, whichever comes first."""
    first = next_step(plan, states)
    if first is None:
        return None
    steps = list(plan.steps)
    start = next(i for i, s in enumerate(steps) if s.id == first)
    for i in range(start, len(steps)):
        step = steps[i]
        if i > start and (step.manual or step.point_of_no_return):
            return steps[i - 1].id
        last_of_phase = i + 1 == len(steps) or steps[i + 1].phase_id != step.phase_id
        if last_of_phase:
            return step.id
    return steps[-1].id
