"""Resume: steps found active after a crash, the operator's resolutions, plan changes, the lease."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from migrator.engine.run_inputs import resume_command
from migrator.engine.runner import RunOptions, prepare_run, resume_run, start_run
from migrator.errors import LockHeldError, OperatorNeeded, PlanChangedError, RunStateError
from migrator.executors.base import ActionOutcome, StepContext
from migrator.plan.model import Step
from migrator.store.db import Store
from tests.engine.doubles import ScriptedPrompter, ShellRunner, check, loaded
from tests.engine.test_runner import chains_are_legal, states


class Crash(Exception):
    pass


class CrashAfterEffect(ShellRunner):
    """Runs the action for real, then 'crashes' before the outcome is recorded."""

    def __init__(self, workdir: Path, crash_on: str) -> None:
        super().__init__(workdir)
        self.crash_on = crash_on

    def execute(self, step: Step, ctx: StepContext) -> ActionOutcome:
        outcome = super().execute(step, ctx)
        if step.id == self.crash_on:
            raise Crash(step.id)
        return outcome


def crashed_run(store: Store, work: Path, steps: list[dict[str, Any]], crash_on: str) -> int:
    plan = loaded(steps)
    runner = prepare_run(store, plan, CrashAfterEffect(work, crash_on), None, RunOptions())
    with pytest.raises(Crash):
        runner.execute()
    assert states(store, runner.run_id)[crash_on] == "running"
    return runner.run_id


COUNTED = {"id": "count", "command": "echo x >> counter", "post": [check("test -s counter")]}


def test_in_doubt_step_whose_post_checks_pass_is_reconciled_not_rerun(store: Store, work: Path) -> None:
    run_id = crashed_run(store, work, [COUNTED, {"id": "next", "command": "true"}], "count")
    runner = ShellRunner(work)
    report = resume_run(
        store,
        loaded([COUNTED, {"id": "next", "command": "true"}]),
        run_id,
        runner,
        None,
        options=RunOptions(),
    )
    assert report.status == "completed"
    assert runner.executed == ["next"]
    assert (work / "counter").read_text() == "x\n"
    entries = store.journal(run_id, "count")
    assert [e.trigger for e in entries][-2:] == ["crash_found", "reconciled"]
    assert "reconciled" in entries[-1].reason
    chains_are_legal(store, run_id)


def test_in_doubt_step_whose_post_check_cannot_tell_is_not_reconciled(store: Store, work: Path) -> None:
    unknown = {"id": "count", "command": "echo x >> counter", "post": [check("no-such-program-here")]}
    run_id = crashed_run(store, work, [unknown], "count")
    runner = ShellRunner(work)
    with pytest.raises(OperatorNeeded, match="in doubt"):
        resume_run(store, loaded([unknown]), run_id, runner, None, options=RunOptions())
    assert runner.executed == []
    assert (work / "counter").read_text() == "x\n"
    assert states(store, run_id)["count"] != "succeeded"
    assert "reconciled" not in [e.trigger for e in store.journal(run_id, "count")]


def test_in_doubt_idempotent_step_is_rerun(store: Store, work: Path) -> None:
    steps = [{"id": "idem", "command": "echo x >> log", "idempotent": True, "post": [check("false")]}]
    run_id = crashed_run(store, work, steps, "idem")
    fixed = [{"id": "idem", "command": "echo x >> log", "idempotent": True}]
    runner = ShellRunner(work)
    report = resume_run(
        store,
        loaded(fixed),
        run_id,
        runner,
        None,
        options=RunOptions(accept_plan_change="post-check was wrong"),
    )
    assert report.status == "completed"
    assert runner.executed == ["idem"]
    assert store.steps(run_id)[0].attempt == 2
    chains_are_legal(store, run_id)


def test_in_doubt_non_idempotent_step_stops_for_the_operator(store: Store, work: Path) -> None:
    steps = [{"id": "once", "command": "echo x >> once"}, {"id": "after", "command": "true"}]
    run_id = crashed_run(store, work, steps, "once")
    runner = ShellRunner(work)
    with pytest.raises(OperatorNeeded) as info:
        resume_run(store, loaded(steps), run_id, runner, None, options=RunOptions())
    assert f"{resume_command(store, run_id)} --mark-done once --reason" in str(info.value)
    assert f"migrator abort {run_id} --db {store.path}" in str(info.value)
    assert runner.executed == []
    assert states(store, run_id)["once"] == "in_doubt"
    assert store.run(run_id).status == "paused"
    # The operator checked by hand and marks it done.
    report = resume_run(
        store,
        loaded(steps),
        run_id,
        runner,
        None,
        options=RunOptions(mark_done={"once": "saw the line in once"}),
    )
    assert report.status == "completed"
    assert runner.executed == ["after"]
    assert (work / "once").read_text() == "x\n"
    assert store.decisions(run_id)[-1].reason == "saw the line in once"
    chains_are_legal(store, run_id)


def test_in_doubt_interactive_choice_retry_and_skip(store: Store, work: Path) -> None:
    steps = [{"id": "once", "command": "echo x >> once"}, {"id": "after", "command": "touch after"}]
    run_id = crashed_run(store, work, steps, "once")
    prompter = ScriptedPrompter(choices=["skip"], texts=["will do it by hand"])
    report = resume_run(store, loaded(steps), run_id, ShellRunner(work), prompter, options=RunOptions())
    assert states(store, run_id) == {"once": "skipped", "after": "blocked"}
    assert report.status == "failed"
    run2 = crashed_run(store, work, steps, "once")
    prompter = ScriptedPrompter(choices=["retry"], texts=["it did not run, checked"])
    report = resume_run(store, loaded(steps), run2, ShellRunner(work), prompter, options=RunOptions())
    assert report.status == "completed"
    assert (work / "once").read_text() == "x\nx\nx\n"  # three real runs over both runs, as chosen
    chains_are_legal(store, run_id)
    chains_are_legal(store, run2)


def test_failed_step_is_retried_on_resume_and_dependents_unblocked(store: Store, work: Path) -> None:
    steps = [{"id": "a", "command": "test -f ok"}, {"id": "b", "command": "touch b"}]
    first = start_run(store, loaded(steps), ShellRunner(work), None, RunOptions())
    assert states(store, first.run_id) == {"a": "failed", "b": "blocked"}
    (work / "ok").touch()
    report = resume_run(store, loaded(steps), first.run_id, ShellRunner(work), None, options=RunOptions())
    assert report.status == "completed"
    chains_are_legal(store, first.run_id)


def test_changed_plan_shows_the_step_diff_and_needs_acceptance(store: Store, work: Path) -> None:
    steps = [{"id": "a", "command": "false"}, {"id": "b", "command": "true"}, {"id": "c", "command": "true"}]
    first = start_run(store, loaded(steps), ShellRunner(work), None, RunOptions())
    new = [{"id": "a", "command": "true"}, {"id": "c", "command": "true"}, {"id": "d", "command": "true"}]
    with pytest.raises(PlanChangedError) as info:
        resume_run(store, loaded(new), first.run_id, ShellRunner(work), None, options=RunOptions())
    assert (info.value.diff.added, info.value.diff.removed, info.value.diff.changed) == (["d"], ["b"], ["a"])
    assert "+ d (added)" in str(info.value)
    report = resume_run(
        store,
        loaded(new),
        first.run_id,
        ShellRunner(work),
        None,
        options=RunOptions(accept_plan_change="fixed step a"),
    )
    assert report.status == "completed"
    amendment = store.amendments(first.run_id)[0]
    assert (amendment.added, amendment.removed, amendment.changed, amendment.reason) == (
        ["d"],
        ["b"],
        ["a"],
        "fixed step a",
    )
    assert store.run(first.run_id).plan_fingerprint == loaded(new).fingerprint


def test_completed_run_cannot_be_resumed(store: Store, work: Path) -> None:
    steps = [{"id": "a", "command": "true"}]
    report = start_run(store, loaded(steps), ShellRunner(work), None, RunOptions())
    with pytest.raises(RunStateError, match="nothing to resume"):
        resume_run(store, loaded(steps), report.run_id, ShellRunner(work), None, options=RunOptions())


class Gate(ShellRunner):
    """Blocks inside the action until released: a run that is 'in progress'."""

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir)
        self.inside, self.release = threading.Event(), threading.Event()

    def execute(self, step: Step, ctx: StepContext) -> ActionOutcome:
        self.inside.set()
        assert self.release.wait(30)
        return super().execute(step, ctx)


def test_second_concurrent_run_is_refused_with_the_holder_named(
    store: Store, work: Path, tmp_path: Path
) -> None:
    steps = [{"id": "a", "command": "true"}]
    gate = Gate(work)
    results: list[object] = []
    first = threading.Thread(
        target=lambda: results.append(start_run(store, loaded(steps), gate, None, RunOptions(lease_ttl=5)))
    )
    first.start()
    try:
        assert gate.inside.wait(30)
        other = Store.open(str(tmp_path / "state.db"))  # a second operator on the same store
        with pytest.raises(LockHeldError, match=r"being run by \S+@\S+:\d+ since "):
            start_run(
                other,
                loaded(steps),
                ShellRunner(work),
                None,
                RunOptions(actor="bob@elsewhere", take_over_reason="impatient"),
            )
        other.close()
    finally:
        gate.release.set()
        first.join(30)
    assert results and getattr(results[0], "status", None) == "completed"


def test_pause_command_from_another_thread_stops_after_the_current_step(store: Store, work: Path) -> None:
    steps = [{"id": x, "command": f"touch {x}"} for x in "abc"]
    gate = Gate(work)
    runner = prepare_run(store, loaded(steps), gate, None, RunOptions())
    done: list[object] = []
    thread = threading.Thread(target=lambda: done.append(runner.execute()))
    thread.start()
    assert gate.inside.wait(30)
    runner.commands.pause()
    gate.release.set()
    thread.join(30)
    assert states(store, runner.run_id) == {"a": "succeeded", "b": "pending", "c": "pending"}
    assert getattr(done[0], "status", None) == "paused"
