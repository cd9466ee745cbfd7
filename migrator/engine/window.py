"""Window arithmetic during a run: ETA, slack, and the gate before a point of no return.

Before a point-of-no-return or irreversible step, the time left in the maintenance window
must cover what is still to do in the window (the critical path of the in-window steps not
done yet, the step at hand included) *plus* the cost of going back: the rollback estimates
of the done steps that have a rollback. If it does not, going on risks ending the window
half-way with no time to undo: the engine stops for an explicit go/no-go with a reason.

The team's Dec 2023 off1 move is the lesson: hardware work took far longer than written,
and the window was stretched instead of decided. Everything here is pure: the runner passes
``now`` and reads the store.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from migrator.estimates import Estimate, PlanWithDeps
from migrator.plan.durations import format_duration
from migrator.plan.graph import critical_path
from migrator.plan.model import Plan, Step, Where


@dataclass(frozen=True)
class GateVerdict:
    """Whether the window still holds before a point of no return (seconds throughout)."""

    ok: bool
    time_left: int | None
    """Seconds until the window ends (negative: it already ended); None without a window."""
    needed: int
    """``remaining_estimate + rollback_cost``."""
    remaining_estimate: int
    rollback_cost: int
    message: str
    unestimated: tuple[str, ...] = ()
    """Remaining in-window steps with no estimate: ``needed`` is too low by their length."""


@dataclass(frozen=True)
class WindowProgress:
    """Where a run stands against its window: for the TUI header and the CLI printer."""

    window_end: datetime | None
    remaining_estimate: int
    eta: datetime
    """When the in-window work should end at the estimated pace."""
    slack: int | None
    """Seconds between ``eta`` and the end of the window (negative: late); None without a window."""


def needs_gate(step: Step) -> bool:
    """Steps before which the window is checked: points of no return and irreversible steps."""
    return bool(step.point_of_no_return or step.irreversible)


def rollback_costs(plan: Plan) -> dict[str, int]:
    """Step id -> rollback estimate (seconds), for the steps whose rollback has one."""
    return {
        step.id: int(step.rollback.estimate)
        for step in plan.steps()
        if step.rollback is not None and step.rollback.estimate is not None
    }


def window_end(plan: Plan, window_start: datetime) -> datetime | None:
    if plan.window is None:
        return None
    return window_start + timedelta(seconds=int(plan.window.length))


def remaining(
    loaded: PlanWithDeps, estimates: Mapping[str, Estimate], done: Iterable[str]
) -> tuple[int, list[str]]:
    """Critical path (seconds) through the in-window steps not done, and those unestimated."""
    finished = set(done)
    plan = loaded.plan
    todo = [s.id for p in plan.phases if p.where is Where.WINDOW for s in p.steps if s.id not in finished]
    seconds = {sid: (estimates[sid].seconds if sid in estimates else None) for sid in todo}
    path = critical_path(todo, loaded.deps, seconds)
    return path.seconds, list(path.unestimated)


def progress(
    loaded: PlanWithDeps,
    estimates: Mapping[str, Estimate],
    *,
    now: datetime,
    window_start: datetime,
    done: Iterable[str],
) -> WindowProgress:
    left, _ = remaining(loaded, estimates, done)
    end = window_end(loaded.plan, window_start)
    eta = now + timedelta(seconds=left)
    slack = int((end - eta).total_seconds()) if end is not None else None
    return WindowProgress(end, left, eta, slack)


def gate(
    loaded: PlanWithDeps,
    estimates: Mapping[str, Estimate],
    *,
    now: datetime,
    window_start: datetime,
    done: set[str],
    rollback_cost: Mapping[str, int],
) -> GateVerdict:
    """Does the time left cover the remaining in-window work plus rolling back what is done?

    ``rollback_cost`` maps step ids to rollback estimates (:func:`rollback_costs`); only the
    ``done`` ones count. Without a window there is nothing to hold: the verdict is ok.
    """
    left_work, unestimated = remaining(loaded, estimates, done)
    back = sum(cost for sid, cost in rollback_cost.items() if sid in done)
    needed = left_work + back
    end = window_end(loaded.plan, window_start)
    if end is None:
        return GateVerdict(
            True, None, needed, left_work, back, "no window set: nothing to check", tuple(unestimated)
        )
    time_left = int((end - now).total_seconds())
    ok = time_left >= needed
    unknown = f"; {len(unestimated)} step(s) without an estimate count 0" if unestimated else ""
    if ok:
        message = (
            f"{_span(time_left)} left in the window covers {_span(left_work)} of remaining work "
            f"+ {_span(back)} to roll back (slack {_span(time_left - needed)}){unknown}"
        )
    else:
        message = (
            f"only {_span(time_left)} left in the window (ends {end.isoformat(timespec='minutes')}), "
            f"needed {_span(needed)}: {_span(left_work)} of remaining work + {_span(back)} to roll "
            f"back what is done; short by {_span(needed - time_left)}{unknown}"
        )
    return GateVerdict(ok, time_left, needed, left_work, back, message, tuple(unestimated))


def _span(seconds: int) -> str:
    return ("-" + format_duration(-seconds)) if seconds < 0 else format_duration(seconds)
