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

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from migrator.engine.states import STEP_DONE
from migrator.estimates import Estimate, PlanWithDeps
from migrator.plan.durations import format_duration as span
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


@dataclass(frozen=True)
class WindowReading:
    """The window clock at one moment: what every front end shows (the TUI header, the
    go/no-go, the CLI printer). Seconds throughout; None where there is no window."""

    at: datetime
    """The moment read: ``now``, or the run's end once it ended (the clock stops)."""
    stopped: bool
    opened: datetime | None
    """When the window's clock started (None: the run has not started)."""
    elapsed: int
    window_end: datetime | None
    time_left: int | None
    work_left: int
    """Critical path through the in-window steps not done; a running step counts what its
    own progress says is left (its tool's ETA) when it says so, else what is left of its
    estimate."""
    unestimated: tuple[str, ...]
    eta: datetime
    slack: int | None
    """``time_left - work_left``: negative when the rest of the window's work does not fit."""
    rollback_cost: int
    """Rollback estimates of the steps done that have one: the price of going back now."""

    @property
    def fits(self) -> bool | None:
        return None if self.slack is None else self.slack >= 0

    @property
    def can_go_back(self) -> bool | None:
        return None if self.time_left is None else self.rollback_cost <= self.time_left


def read(
    *,
    order: Sequence[str],
    deps: Mapping[str, Sequence[str]],
    in_window: Iterable[str],
    estimates: Mapping[str, int | None],
    states: Mapping[str, str],
    window_length: int | None,
    opened: datetime | None,
    now: datetime,
    spent: Mapping[str, int] | None = None,
    ended_at: datetime | None = None,
    rollback_cost: Mapping[str, int] | None = None,
    eta_left: Mapping[str, int] | None = None,
) -> WindowReading:
    """The one window arithmetic, on plain data (``plan`` before a run gives the same slack:
    nothing done, nothing elapsed). ``spent``: seconds already spent on running steps.

    ``eta_left``: seconds left of running steps by their own progress (rsync's, zfs send's
    ETA: :class:`migrator.engine.events.StepProgress`). The tool measures this run on this
    data; the estimate was written (or learned) before, so a step that says how far it is
    counts what it says, even past its estimate or without one."""
    at = ended_at if ended_at is not None else now
    elapsed = max(0, int((at - opened).total_seconds())) if opened is not None else 0
    finished = {sid for sid in order if states.get(sid, "pending") in STEP_DONE}
    window_ids = set(in_window)
    todo = [sid for sid in order if sid in window_ids and sid not in finished]
    used, told = spent or {}, eta_left or {}
    seconds = {sid: _left(estimates.get(sid), used.get(sid, 0), told.get(sid)) for sid in todo}
    path = critical_path(todo, deps, seconds)
    time_left = window_length - elapsed if window_length is not None else None
    end = (
        opened + timedelta(seconds=window_length)
        if opened is not None and window_length is not None
        else None
    )
    back = sum(cost for sid, cost in (rollback_cost or {}).items() if states.get(sid) == "succeeded")
    return WindowReading(
        at=at,
        stopped=ended_at is not None,
        opened=opened,
        elapsed=elapsed,
        window_end=end,
        time_left=time_left,
        work_left=path.seconds,
        unestimated=tuple(path.unestimated),
        eta=at + timedelta(seconds=path.seconds),
        slack=time_left - path.seconds if time_left is not None else None,
        rollback_cost=back,
    )


def _left(estimate: int | None, spent: int, eta: int | None) -> int | None:
    """What is left of one step: its own ETA when it has one, else its estimate less the time
    already spent on it (never below 0: a late step is not done early); None: unknown."""
    if eta is not None:
        return max(0, eta)
    return max(0, estimate - spent) if estimate is not None else None


def clock_time(at: datetime, *, now: datetime, zone: tzinfo | None) -> str:
    """A time as the operator reads it: ``23:20 UTC`` today, ``Wed 04 Dec 23:20 UTC`` another
    day (48 h of work never shows as a bare time of day), in the plan's time zone."""
    zone = zone or UTC
    local, today = at.astimezone(zone), now.astimezone(zone)
    name = local.tzname() or local.strftime("%z")
    if name.startswith(("UTC+", "UTC-")) or not name.isalpha():
        name = local.strftime("%z")
        name = f"{name[:3]}:{name[3:]}" if len(name) == 5 else name
    if local.date() == today.date():
        return f"{local:%H:%M} {name}"
    return f"{local:%a %d %b %H:%M} {name}"


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
            f"{span(time_left)} left in the window covers {span(left_work)} of remaining work "
            f"+ {span(back)} to roll back (slack {span(time_left - needed)}){unknown}"
        )
    else:
        message = (
            f"only {span(time_left)} left in the window (ends {end.isoformat(timespec='minutes')}), "
            f"needed {span(needed)}: {span(left_work)} of remaining work + {span(back)} to roll "
            f"back what is done; short by {span(needed - time_left)}{unknown}"
        )
    return GateVerdict(ok, time_left, needed, left_work, back, message, tuple(unestimated))
