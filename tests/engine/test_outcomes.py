"""The three outcomes at the executor boundary, in the engine (issue 12, item 5).

The StepRunner really runs each command (ShellRunner), then reports its outcome as unknown or
raises the way the real executors do: OutcomeUnknown after the start, ConnectError /
HostKeyError before it. The CLI and real-sshd versions are in test_unknown_outcomes.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from migrator.engine.runner import RunOptions, prepare_run, resume_run
from migrator.errors import ConnectError, ExitCode, HostKeyError, OperatorNeeded, OutcomeUnknown
from migrator.executors.base import ActionOutcome, Outcome, StepContext
from migrator.plan.model import Step
from migrator.store.db import Store
from tests.engine.doubles import ShellRunner, check, loaded
from tests.engine.test_runner import chains_are_legal, states


class LosesSight(ShellRunner):
    """Runs the command, then reports that its end was not seen (returned or raised)."""

    def __init__(self, workdir: Path, *, raise_it: bool) -> None:
        super().__init__(workdir)
        self.raise_it, self.lose = raise_it, True

    def execute(self, step: Step, ctx: StepContext) -> ActionOutcome:
        outcome = super().execute(step, ctx)
        if not self.lose:
            return outcome
        if self.raise_it:
            raise OutcomeUnknown("connection lost while the command ran", where="lab1")
        return ActionOutcome.unknown_outcome("channel closed without an exit status")


class CannotStart(ShellRunner):
    """Never starts the command: the host cannot be reached (or its key is refused)."""

    def __init__(self, workdir: Path, error: ConnectError) -> None:
        super().__init__(workdir)
        self.error, self.tries = error, 0

    def execute(self, step: Step, ctx: StepContext) -> ActionOutcome:
        self.tries += 1
        raise self.error


def test_unknown_outcome_is_its_own_value() -> None:
    assert ActionOutcome(ok=True, summary="").outcome is Outcome.SUCCEEDED
    assert ActionOutcome(ok=False, summary="").outcome is Outcome.FAILED
    unknown = ActionOutcome.unknown_outcome("lost")
    assert unknown.outcome is Outcome.UNKNOWN and not unknown.ok


@pytest.mark.parametrize("raise_it", [False, True], ids=["returned", "raised"])
def test_an_unknown_outcome_is_in_doubt_not_retried_and_resume_reconciles_it(
    store: Store, work: Path, raise_it: bool
) -> None:
    steps = [
        # retries and idempotent: a *failure* would be retried at once; unknown never is.
        {"id": "append", "command": "echo x >> count", "idempotent": True, "retries": 2,
         "post": [check("test -s count")]},
        {"id": "next", "command": "true"},
    ]  # fmt: skip
    runner = LosesSight(work, raise_it=raise_it)
    prepared = prepare_run(store, loaded(steps), runner, None, RunOptions())
    with pytest.raises(OperatorNeeded, match="step append is in doubt") as caught:
        prepared.execute()
    assert caught.value.exit_code is ExitCode.OPERATOR_NEEDED
    assert runner.executed == ["append"]
    assert states(store, prepared.run_id) == {"append": "in_doubt", "next": "pending"}
    assert store.run(prepared.run_id).status == "paused"

    runner.lose = False
    report = resume_run(store, loaded(steps), prepared.run_id, runner, None, options=RunOptions())
    assert report.status == "completed"
    assert (work / "count").read_text() == "x\n"  # reconciled by its post-check, not re-run
    assert runner.executed == ["append", "next"]
    triggers = [e.trigger for e in store.journal(prepared.run_id) if e.step_id == "append"]
    assert "outcome_unknown" in triggers and "reconciled" in triggers and "fail" not in triggers
    chains_are_legal(store, prepared.run_id)


@pytest.mark.parametrize(
    ("error", "retries", "tries"),
    [
        (ConnectError("cannot connect to lab1", where="lab1"), 1, 2),
        (HostKeyError("unknown host key for lab1", where="lab1"), 0, 1),
    ],
    ids=["unreachable-retried", "host-key"],
)
def test_an_action_that_cannot_start_leaves_the_step_pending_and_exits_3(
    store: Store, work: Path, error: ConnectError, retries: int, tries: int
) -> None:
    steps = [{"id": "append", "command": "echo x >> count", "retries": retries, "retry_delay": "0s"}]
    runner = CannotStart(work, error)
    prepared = prepare_run(store, loaded(steps), runner, None, RunOptions(sleep=lambda s: None))
    with pytest.raises(type(error)) as caught:
        prepared.execute()
    assert caught.value.exit_code is ExitCode.EXECUTOR
    assert runner.tries == tries
    assert states(store, prepared.run_id) == {"append": "pending"}  # nothing ran: not "failed"
    assert store.run(prepared.run_id).status == "paused"
    assert not (work / "count").exists()
    chains_are_legal(store, prepared.run_id)
