"""The window clock as the TUI shows it: the figures come from
:func:`migrator.engine.window.read` (the one window arithmetic, shared with ``plan``, the
runner's gate and the report); this module only gathers the TUI's view of the run for it and
words the result. A clock is injected into the app so snapshots never see the real time."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from migrator.engine.states import RUN_FINAL, STEP_WORKING
from migrator.engine.window import WindowReading, clock_time, read
from migrator.plan.durations import format_duration
from tui.facade import PlanInfo, RunView

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def reading(
    plan: PlanInfo, run: RunView, now: datetime, eta_left: Mapping[str, int] | None = None
) -> WindowReading:
    """The window clock for ``run`` at ``now``. A live run's window opens at the plan's start
    (as the runner's gate has it); otherwise at the run's first step. ``eta_left``: seconds
    left of running steps by their own progress (:func:`eta_left`)."""
    started = _aware(run.started_at) if run.started_at is not None else None
    opened = plan.window_start if plan.mode == "live" and plan.window_start is not None else started
    states = {s.id: (run.steps[s.id].state if s.id in run.steps else "pending") for s in plan.steps}
    spent = {
        sid: max(0, int((now - _aware(status.started_at)).total_seconds()))
        for sid, status in run.steps.items()
        if status.state in STEP_WORKING and status.started_at is not None
    }
    ended = run.ended_at
    if ended is None and run.status in RUN_FINAL:  # no end time known: stop at the last step's end
        ends = [_aware(s.ended_at) for s in run.steps.values() if s.ended_at is not None]
        ended = max(ends, default=now)
    return read(
        order=[s.id for s in plan.steps],
        deps=plan.deps,
        in_window=[s.id for s in plan.steps if s.in_window],
        estimates={s.id: s.estimate_seconds for s in plan.steps},
        states=states,
        window_length=plan.window_seconds,
        opened=opened,
        now=now,
        spent=spent,
        ended_at=_aware(ended) if ended is not None else None,
        rollback_cost={s.id: s.rollback_seconds for s in plan.steps if s.rollback_seconds},
        eta_left={sid: eta for sid, eta in (eta_left or {}).items() if states.get(sid) in STEP_WORKING},
    )


def eta_left(progress: Mapping[str, tuple[float | None, datetime]], now: datetime) -> dict[str, int]:
    """Seconds left of each step that said so: ``progress`` maps a step to its tool's last ETA
    and when it came. The time since counts down from it: a tool that stops redrawing (a
    stalled copy) does not hold the clock still."""
    return {
        sid: max(0, round(eta - (now - _aware(seen)).total_seconds()))
        for sid, (eta, seen) in progress.items()
        if eta is not None
    }


def span(seconds: int | None) -> str:
    """A duration as every reader sees it (:func:`migrator.plan.durations.format_duration`);
    the TUI's cells show ``-`` for unknown."""
    return format_duration(seconds, unknown="-")


def clock_line(plan: PlanInfo, r: WindowReading, now: datetime) -> str:
    slack = "-" if r.slack is None else ("+" if r.slack >= 0 else "") + span(r.slack)
    unknown = f" +{len(r.unestimated)}?" if r.unestimated else ""  # steps with no estimate
    zone = plan.window_start.tzinfo if plan.window_start is not None else None
    eta = clock_time(r.eta, now=now, zone=zone)
    stopped = "  (run ended: clock stopped)" if r.stopped else ""
    return (
        f"elapsed {span(r.elapsed)}  window left {span(r.time_left)}  "
        f"in-window work left {span(r.work_left)}{unknown}  ETA {eta}  slack {slack}{stopped}"
    )


@dataclass(frozen=True)
class GoNoGo:
    """What the operator weighs at a point of no return (figures from the window reading)."""

    reading: WindowReading

    def lines(self) -> list[str]:
        r = self.reading
        left = span(r.time_left) if r.time_left is not None else "no window set"
        out = [
            f"time left in the window  : {left}",
            f"in-window work left      : {span(r.work_left)}"
            + (f" (+{len(r.unestimated)} step(s) without an estimate)" if r.unestimated else ""),
            f"rolling back what is done: {span(r.rollback_cost)}",
        ]
        if r.fits is not None:
            out.append(
                f"the rest FITS in the window (slack {span(r.slack)})"
                if r.fits
                else f"the rest does NOT fit in the window (short by {span(-(r.slack or 0))})"
            )
        if r.can_go_back is not None and not r.can_go_back:
            out.append("going back no longer fits either")
        return out


def go_no_go(
    plan: PlanInfo, run: RunView, now: datetime, eta_left: Mapping[str, int] | None = None
) -> GoNoGo:
    return GoNoGo(reading(plan, run, now, eta_left))
