"""The window clock: elapsed, time left in the window, work left, ETA and slack; and the
go/no-go arithmetic shown before a point of no return. Pure functions of the plan, the run
and "now" (a clock is injected into the app so snapshots never see the real time)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tui.facade import PlanInfo, RunView

Clock = Callable[[], datetime]

DONE = frozenset({"succeeded", "skipped", "rolled_back"})


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ClockReading:
    elapsed: int
    """Seconds since the first step of the run started (0 before)."""
    window_left: int | None
    """Window length minus elapsed; None when the plan has no window."""
    work_left: int
    """Estimated seconds of the steps still to do (the running one: its estimate minus its time)."""
    unestimated: int
    """Steps still to do that have no estimate (work_left is too low by their length)."""
    eta: datetime
    slack: int | None
    """window_left - work_left: negative when the rest does not fit."""


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def reading(plan: PlanInfo, run: RunView, now: datetime) -> ClockReading:
    started = run.started_at
    elapsed = max(0, int((now - _aware(started)).total_seconds())) if started is not None else 0
    work_left, unestimated = 0, 0
    for step in plan.steps:
        status = run.steps.get(step.id)
        state = status.state if status is not None else "pending"
        if state in DONE:
            continue
        if step.estimate_seconds is None:
            unestimated += 1
            continue
        spent = 0
        if state in ("running", "verifying") and status is not None and status.started_at is not None:
            spent = max(0, int((now - _aware(status.started_at)).total_seconds()))
        work_left += max(0, step.estimate_seconds - spent)
    window_left = plan.window_seconds - elapsed if plan.window_seconds is not None else None
    slack = window_left - work_left if window_left is not None else None
    return ClockReading(
        elapsed, window_left, work_left, unestimated, now + timedelta(seconds=work_left), slack
    )


def span(seconds: int | None) -> str:
    """``1h05m``, ``12m``, ``45s``, ``-20m``; ``-`` for unknown."""
    if seconds is None:
        return "-"
    sign, rest = ("-", -seconds) if seconds < 0 else ("", seconds)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{sign}{hours}h{minutes:02d}m"
    if minutes:
        return f"{sign}{minutes}m{secs:02d}s" if minutes < 10 and secs else f"{sign}{minutes}m"
    return f"{sign}{secs}s"


def clock_line(r: ClockReading) -> str:
    slack = "-" if r.slack is None else ("+" if r.slack >= 0 else "") + span(r.slack)
    unknown = f" +{r.unestimated}?" if r.unestimated else ""  # steps with no estimate
    return (
        f"elapsed {span(r.elapsed)}  window left {span(r.window_left)}  "
        f"work left {span(r.work_left)}{unknown}  ETA {r.eta:%H:%M}  slack {slack}"
    )


@dataclass(frozen=True)
class GoNoGo:
    """What the operator weighs at a point of no return."""

    time_left: int | None
    work_left: int
    rollback_cost: int
    """Estimated time to undo what was done so far (steps done that have a rollback estimate)."""

    @property
    def fits(self) -> bool | None:
        return None if self.time_left is None else self.work_left <= self.time_left

    @property
    def can_go_back(self) -> bool | None:
        return None if self.time_left is None else self.rollback_cost <= self.time_left

    def lines(self) -> list[str]:
        left = span(self.time_left) if self.time_left is not None else "no window set"
        out = [
            f"time left in the window : {left}",
            f"work left (estimate)    : {span(self.work_left)}",
            f"rolling back what is done: {span(self.rollback_cost)}",
        ]
        if self.fits is not None:
            out.append("the rest FITS in the window" if self.fits else "the rest does NOT fit in the window")
        if self.can_go_back is not None and not self.can_go_back:
            out.append("going back no longer fits either")
        return out


def go_no_go(plan: PlanInfo, run: RunView, now: datetime) -> GoNoGo:
    r = reading(plan, run, now)
    cost = 0
    for step in plan.steps:
        status = run.steps.get(step.id)
        if status is not None and status.state == "succeeded" and step.rollback_seconds:
            cost += step.rollback_seconds
    return GoNoGo(r.window_left, r.work_left, cost)
