"""Step estimates and the window arithmetic: how long each step takes and whether the plan fits.

An estimate is either *written* in the plan (``estimate: 10m``) or *learned* from earlier
runs of the same plan (the median of the measured durations, with how many runs it rests
on). Learned estimates replace written ones: the team's Dec 2023 off1 move took far longer
than written for the hardware work, and the next window should be planned on what happened.

Planned downtime is the critical path through the in-window steps only (dependencies on
steps before the window are already satisfied when it opens), not the sum of their
estimates: steps on parallel branches overlap. Everything here is pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from migrator.plan.durations import format_duration
from migrator.plan.graph import critical_path
from migrator.plan.model import Plan, Where


@dataclass(frozen=True)
class Estimate:
    """How long a step is expected to take; ``seconds`` is None when nobody knows."""

    seconds: int | None
    measured: bool = False
    count: int = 0
    """How many measured runs the estimate rests on (0 for a written one)."""

    def label(self) -> str:
        """``10m`` written, ``12m (measured, n=3)`` measured, ``?`` unknown."""
        if self.seconds is None:
            return "?"
        text = format_duration(self.seconds)
        return f"{text} (measured, n={self.count})" if self.measured else text

    def short(self) -> str:
        """``10m``, ``12m*`` when measured (the star is explained in a legend), ``?``."""
        if self.seconds is None:
            return "?"
        return format_duration(self.seconds) + ("*" if self.measured else "")


def written(plan: Plan) -> dict[str, Estimate]:
    """The estimates written in the plan, for every step (``Estimate(None)`` where missing)."""
    return {step.id: Estimate(step.estimate) for step in plan.steps()}


def learned(plan: Plan, durations: Mapping[str, Sequence[float]]) -> dict[str, Estimate]:
    """Written estimates, replaced by the median of measured durations where there are any.

    ``durations`` maps a step id to the seconds its action took in earlier runs of this plan;
    ids that are not in the plan (a step removed since) are ignored.
    """
    estimates = written(plan)
    for step_id, measured in durations.items():
        if step_id in estimates and len(measured) > 0:
            median = round(_median(measured))
            estimates[step_id] = Estimate(median, measured=True, count=len(measured))
    return estimates


class PlanWithDeps(Protocol):
    """What :func:`summarize` needs of a loaded plan (``LoadedPlan`` fits)."""

    @property
    def plan(self) -> Plan: ...

    @property
    def deps(self) -> dict[str, list[str]]: ...


@dataclass(frozen=True)
class WindowSummary:
    """The window arithmetic of a plan under a set of estimates."""

    downtime_seconds: int
    """Length of the critical path through the in-window steps (unestimated ones count 0)."""
    critical_path: list[str]
    unestimated: list[str]
    """In-window steps without an estimate: the downtime figure is too low by their length."""
    per_phase: dict[str, int]
    """Phase id -> sum of its steps' known estimates (work, not elapsed time)."""
    total_seconds: int
    window_seconds: int | None
    slack_seconds: int | None
    """Window length minus planned downtime; negative when the plan does not fit."""


def summarize(loaded: PlanWithDeps, estimates: Mapping[str, Estimate]) -> WindowSummary:
    """Planned downtime, per-phase totals and slack of ``loaded`` under ``estimates``."""
    plan = loaded.plan
    seconds = {step.id: _seconds(estimates, step.id) for step in plan.steps()}
    in_window = [step.id for phase in plan.phases if phase.where is Where.WINDOW for step in phase.steps]
    path = critical_path(in_window, loaded.deps, seconds)
    per_phase = {phase.id: sum(seconds[s.id] or 0 for s in phase.steps) for phase in plan.phases}
    window = plan.window.length if plan.window is not None else None
    return WindowSummary(
        downtime_seconds=path.seconds,
        # A zero-length "path" through unestimated steps says nothing: leave it empty.
        critical_path=path.steps if path.seconds > 0 else [],
        unestimated=path.unestimated,
        per_phase=per_phase,
        total_seconds=sum(per_phase.values()),
        window_seconds=window,
        slack_seconds=window - path.seconds if window is not None else None,
    )


def _median(values: Sequence[float]) -> float:
    # statistics.median would do, but importing statistics costs more than this.
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def _seconds(estimates: Mapping[str, Estimate], step_id: str) -> int | None:
    estimate = estimates.get(step_id)
    return estimate.seconds if estimate is not None else None
