"""Where "run next" and "run until" stop: the runner's own rule
(:func:`migrator.engine.states.next_action`), read on the plan as the TUI has it."""

from __future__ import annotations

from collections.abc import Mapping

from migrator.engine.states import next_action
from tui.facade import PlanInfo


def next_step(plan: PlanInfo, states: Mapping[str, str]) -> str | None:
    """The step the runner would take up next (a failed or in-doubt step first: it must be
    settled before anything after it runs); blocked and done steps are passed over."""
    return next_action([s.id for s in plan.steps], plan.deps, states).step_id


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
