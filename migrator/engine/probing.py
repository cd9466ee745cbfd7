"""Probing a step's checks and recording what they found: shared by the step driver (pre,
post, reconcile checks) and the dry-run, so both store and announce a check the same way."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from migrator.checks.base import CheckResult
from migrator.engine.events import CheckDone
from migrator.errors import MigratorError
from migrator.executors.base import StepContext, StepRunner
from migrator.plan.model import Step
from migrator.store.dto import CheckRecord


def probe_all(
    runner: StepRunner, step: Step, checks: Sequence[Any], *, run_id: int, attempt: int, dry_run: bool = False
) -> list[CheckResult]:
    """Probe each check; a check that cannot be probed (host down) is a failed check."""
    ctx = StepContext(run_id=run_id, attempt=attempt, dry_run=dry_run)
    results = []
    for check in checks:
        try:
            results.append(runner.check(check, step, ctx))
        except MigratorError as exc:
            results.append(
                CheckResult(passed=False, observed="could not probe", expected="", message=str(exc))
            )
    return results


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
    )
    label = check.description or check.kind
    event = CheckDone(run_id, step_id, stage, index, label, result.passed, message, check.on_fail.value)
    return record, event
