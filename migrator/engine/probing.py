"""Probing a step's checks and recording what they found: shared by the step driver (done_when,
pre, post, reconcile checks) and the dry-run, so both store and announce a check the same way.

A probe that raised (host down, transport or API error) is a check that cannot tell, never one
that does not hold: the three outcomes come from :mod:`migrator.checks` and are kept as they are.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from migrator.checks.base import CheckResult, Outcome
from migrator.engine.events import CheckDone
from migrator.errors import MigratorError
from migrator.executors.base import StepContext, StepRunner
from migrator.plan.checks import OnFail
from migrator.plan.model import Step
from migrator.store.dto import CheckRecord


def probe_all(
    runner: StepRunner, step: Step, checks: Sequence[Any], *, run_id: int, attempt: int, dry_run: bool = False
) -> list[CheckResult]:
    """Probe each check; a check that cannot be probed (host down) cannot tell."""
    ctx = StepContext(run_id=run_id, attempt=attempt, dry_run=dry_run)
    results = []
    for check in checks:
        try:
            results.append(runner.check(check, step, ctx))
        except MigratorError as exc:
            results.append(CheckResult.cannot_tell(observed="could not probe", expected="", message=str(exc)))
    return results


def cannot_evaluate(checks: Sequence[Any], reason: str) -> list[CheckResult]:
    """Checks that could not even be built (a value they read is not there yet): cannot tell."""
    return [CheckResult.cannot_tell("not probed", "", reason) for _ in checks]


@dataclass(frozen=True)
class Judged:
    """One probed check with its result, as judged for a step: the text names the check."""

    check: Any
    result: CheckResult
    text: str

    @property
    def outcome(self) -> Outcome:
        return self.result.outcome

    @property
    def halts(self) -> bool:
        """A halt check that does not hold or cannot tell: the step must not go on."""
        return self.check.on_fail is not OnFail.WARN and not self.result.passed


def check_outcome(  # noqa: PLR0917 - one check result's coordinates, as stored
    run_id: int,
    step_id: str,
    attempt: int,
    stage: str,
    index: int,
    check: Any,
    result: CheckResult,
    redact: Callable[[str], str],
    at: datetime,
) -> tuple[CheckRecord, CheckDone]:
    """One probed check as the store records it and as listeners are told (redacted)."""
    message = redact(result.message)
    record = CheckRecord(
        run_id,
        step_id,
        attempt,
        stage,
        index,
        check.kind,
        check.description or "",
        check.on_fail.value,
        result.passed,
        redact(result.observed),
        redact(result.expected),
        message,
        at,
        result.outcome.value,
    )
    label = check.description or check.kind
    event = CheckDone(
        run_id,
        step_id,
        stage,
        index,
        label,
        result.passed,
        message,
        check.on_fail.value,
        result.outcome.value,
    )
    return record, event


def judged_text(event: CheckDone, *, where: str = "") -> str:
    """``description on HOST: message``, saying "cannot tell" when the check could not answer
    (the host, when given, is where the check was probed: a failure names it)."""
    label = f"{event.description} on {where}" if where else event.description
    if event.outcome == Outcome.CANNOT_TELL and not event.message.startswith("cannot tell"):
        return f"{label}: cannot tell - {event.message}"
    return f"{label}: {event.message}"


def halting_text(judged: Sequence[Judged]) -> str:
    """The first halt check that does not hold or cannot tell ("" when none): the step stops."""
    return next((j.text for j in judged if j.halts), "")


def first_text(judged: Sequence[Judged], outcome: Outcome) -> str:
    return next((j.text for j in judged if j.outcome is outcome), "")


def done_verdict(judged: Sequence[Judged]) -> Outcome:
    """``done_when`` (all must hold): holds when every check holds; does not hold as soon as one
    does not (whatever the others say); else, with one that cannot tell, cannot tell."""
    outcomes = {j.outcome for j in judged}
    if Outcome.DOES_NOT_HOLD in outcomes:
        return Outcome.DOES_NOT_HOLD
    if Outcome.CANNOT_TELL in outcomes:
        return Outcome.CANNOT_TELL
    return Outcome.HOLDS
