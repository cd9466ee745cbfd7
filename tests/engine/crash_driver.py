"""Crash-injection driver: runs (or resumes) a plan of local steps with side-effect counters
and kills its own process with SIGKILL at the k-th engine event or action (k from argv/env).

Used in-process by tests/engine/test_crash.py (forked children) and as a script by
bench/crash_soak.py: ``python -m tests.engine.crash_driver DB WORKDIR KILL_AT [retry-id ...]``.
Exit codes: 0 run completed, 5 operator needed, other: a failure.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

from migrator.engine.runner import RunOptions, resume_run, start_run
from migrator.errors import OperatorNeeded
from migrator.executors.base import ActionOutcome, StepContext
from migrator.plan.model import Step
from migrator.store.db import Store
from tests.engine.doubles import ShellRunner, check, loaded

PLAN_NAME = "crash"


def crash_steps() -> list[dict[str, Any]]:
    """Non-idempotent appenders with post-checks that see their effect, idempotent touches,
    a step with a pre-check, a fan-in dependency."""
    return [
        {"id": "append-1", "command": "echo x >> count-1", "post": [check("test -s count-1")]},
        {"id": "touch-a", "command": "touch a", "idempotent": True},
        {
            "id": "append-2",
            "command": "echo x >> count-2",
            "post": [check("test -s count-2")],
            "pre": [check("test -f a")],
        },
        {
            "id": "append-3",
            "command": "echo x >> count-3; echo done",
            "post": [check("test -s count-3")],
            "depends_on": ["append-1", "append-2"],
        },
        {"id": "touch-b", "command": "touch b", "idempotent": True, "post": [check("test -f b")]},
    ]


NON_IDEMPOTENT = ["append-1", "append-2", "append-3"]


class KillSwitch:
    def __init__(self, kill_at: int) -> None:
        self.kill_at, self.count = kill_at, 0

    def tick(self) -> None:
        self.count += 1
        if self.count == self.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)


class KillingRunner(ShellRunner):
    """Ticks before and after the real action: the kill may land right after the effect."""

    def __init__(self, workdir: Path, switch: KillSwitch) -> None:
        super().__init__(workdir)
        self.switch = switch

    def execute(self, step: Step, ctx: StepContext) -> ActionOutcome:
        self.switch.tick()
        outcome = super().execute(step, ctx)
        self.switch.tick()
        return outcome


def drive(db: str, work: Path, kill_at: int, retry: list[str]) -> int:
    switch = KillSwitch(kill_at)
    store = Store.open(db)
    plan = loaded(crash_steps(), name=PLAN_NAME)
    runner = KillingRunner(work, switch)
    listeners = [lambda event: switch.tick()]
    runs = [r for r in store.runs(PLAN_NAME) if r.status not in ("completed", "aborted")]
    try:
        if runs:
            options = RunOptions(
                take_over_reason="crash test: the previous process was killed",
                retry={sid: "post-check shows it did not run" for sid in retry},
            )
            report = resume_run(store, plan, runs[0].id, runner, None, options=options, listeners=listeners)
        elif store.runs(PLAN_NAME):
            return 0
        else:
            report = start_run(store, plan, runner, None, RunOptions(), listeners=listeners)
    except OperatorNeeded:
        return 5
    finally:
        store.close()
    return 0 if report.status == "completed" else 1


if __name__ == "__main__":
    sys.exit(drive(sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]))
