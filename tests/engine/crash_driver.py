"""Crash-injection driver: runs (or resumes) a plan of local steps with side-effect counters
and kills its own process with SIGKILL at the k-th engine event or action (k from argv/env).

Used in-process by tests/engine/test_crash.py (forked children) and as a script by
bench/crash_soak.py: ``python -m tests.engine.crash_driver DB WORKDIR KILL_AT [retry-id ...]``.
Both also share the operator's in-doubt check and the end-of-run invariants defined here.
Exit codes: 0 run completed, 5 operator needed, other: a failure.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

from migrator.engine.runner import RunOptions, resume_run, start_run
from migrator.engine.states import STEP_TABLE, illegal_chain_reason
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


def in_doubt_retries(db: str, work: Path) -> list[str]:
    """The operator's check after exit code 5: an in-doubt append whose effect is absent did
    not run, so it may be retried. Returns the step ids to pass as ``retry``."""
    store = Store.open(db)
    try:
        retry = []
        for s in store.steps(store.runs(PLAN_NAME)[0].id):
            if s.state == "in_doubt":
                assert not (work / f"count-{s.step_id[-1]}").exists(), s
                retry.append(s.step_id)
        return retry
    finally:
        store.close()


def after_exit(code: int | None, db: str, work: Path) -> list[str] | None:
    """What one driver process's exit code means for the next round: ``None`` when the run
    completed, else the steps to retry (in-doubt ones whose effect is absent; none after a
    SIGKILL, code -9). Any other code is a failure."""
    if code == 0:
        return None
    if code == 5:
        return in_doubt_retries(db, work)
    assert code == -9, f"driver exited {code}"
    return []


def assert_run_invariants(db: str, work: Path) -> None:
    """After the last resume: one completed run, every step succeeded, every non-idempotent
    action ran exactly once, and every step's journal chain is a legal lifecycle path."""
    store = Store.open(db)
    try:
        runs = store.runs(PLAN_NAME)
        assert len(runs) == 1 and runs[0].status == "completed"
        steps = store.steps(runs[0].id)
        assert {s.state for s in steps} == {"succeeded"}, steps
        for sid in NON_IDEMPOTENT:
            assert (work / f"count-{sid[-1]}").read_text() == "x\n", f"{sid} ran more than once"
        chains: dict[str, list[tuple[str, str, str]]] = {}
        for e in store.journal(runs[0].id):
            if e.step_id and e.kind == "transition":
                chains.setdefault(e.step_id, []).append((e.from_state, e.trigger, e.to_state))
        assert set(chains) == {s["id"] for s in crash_steps()}
        for sid, chain in chains.items():
            assert illegal_chain_reason(chain, table=STEP_TABLE, initial="pending") is None, (sid, chain)
            assert chain[-1][2] == "succeeded"
    finally:
        store.close()


if __name__ == "__main__":
    sys.exit(drive(sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]))
