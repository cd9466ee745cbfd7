"""The runner against a real SQLite store and real local commands."""

from __future__ import annotations

from pathlib import Path

import pytest

from migrator.engine.events import CheckDone, RunFinished, StepOutput, StepWarning
from migrator.engine.run_inputs import resume_command
from migrator.engine.runner import RunOptions, start_run
from migrator.engine.states import STEP_TABLE, illegal_chain_reason
from migrator.errors import OperatorNeeded, UsageError
from migrator.executors.base import ActionOutcome, StepContext
from migrator.plan.model import Step
from migrator.store.db import Store
from tests.engine.doubles import Collector, ScriptedPrompter, ShellRunner, check, loaded


def chains_are_legal(store: Store, run_id: int) -> None:
    by_step: dict[str, list[tuple[str, str, str]]] = {}
    for e in store.journal(run_id):
        if e.step_id is not None and e.kind == "transition":
            by_step.setdefault(e.step_id, []).append((e.from_state, e.trigger, e.to_state))
    for sid, chain in by_step.items():
        assert illegal_chain_reason(chain, table=STEP_TABLE, initial="pending") is None, (sid, chain)


def states(store: Store, run_id: int) -> dict[str, str]:
    return {s.step_id: s.state for s in store.steps(run_id)}


def test_happy_path_runs_in_order_records_output_and_journal(store: Store, work: Path) -> None:
    plan = loaded(
        [
            {"id": "a", "command": "echo one > a; echo hello", "post": [check("test -f a")]},
            {"id": "b", "command": "cat a >&2", "pre": [check("test -f a")]},
        ]
    )
    events = Collector()
    report = start_run(store, plan, ShellRunner(work), None, RunOptions(), listeners=[events])
    assert report.status == "completed" and report.next_command is None
    assert states(store, report.run_id) == {"a": "succeeded", "b": "succeeded"}
    assert [(c.step_id, c.stream, c.lines) for c in store.output(report.run_id)] == [
        ("a", "stdout", ["hello"]),
        ("b", "stderr", ["one"]),
    ]
    assert [e.line for e in events.of(StepOutput)] == ["hello", "one"]
    assert [(c.step_id, c.stage, c.passed) for c in store.checks(report.run_id)] == [
        ("a", "post", True),
        ("b", "pre", True),
    ]
    assert len(events.of(CheckDone)) == 2
    assert store.run(report.run_id).status == "completed"
    assert store.lease("demo") is None
    chains_are_legal(store, report.run_id)


def test_failure_stops_blocks_dependents_and_names_the_resume_command(store: Store, work: Path) -> None:
    plan = loaded(
        [
            {"id": "a", "command": "exit 3"},
            {"id": "b", "command": "touch b"},
            {"id": "c", "command": "touch c", "depends_on": []},
        ]
    )
    report = start_run(store, plan, ShellRunner(work), None, RunOptions())
    assert report.status == "failed"
    assert report.next_command == resume_command(store, report.run_id)
    assert states(store, report.run_id) == {"a": "failed", "b": "blocked", "c": "pending"}
    assert store.steps(report.run_id)[0].exit_code == 3
    assert not (work / "b").exists()
    chains_are_legal(store, report.run_id)


def test_retries_until_success(store: Store, work: Path) -> None:
    plan = loaded(
        [
            {
                "id": "a",
                "command": "echo x >> tries; test $(wc -l < tries) -ge 3",
                "retries": 3,
                "retry_delay": 7,
            }
        ]
    )
    waits: list[float] = []
    report = start_run(store, plan, ShellRunner(work), None, RunOptions(sleep=waits.append))
    assert report.status == "completed"
    assert waits == [7, 7]
    assert store.steps(report.run_id)[0].attempt == 3
    assert [e.trigger for e in store.journal(report.run_id, "a")].count("again") == 2
    chains_are_legal(store, report.run_id)


def test_retries_exhausted_fail(store: Store, work: Path) -> None:
    plan = loaded([{"id": "a", "command": "false", "retries": 1, "retry_delay": 0}])
    report = start_run(store, plan, ShellRunner(work), None, RunOptions(sleep=lambda s: None))
    assert report.status == "failed"
    assert store.steps(report.run_id)[0].attempt == 2


def test_precheck_on_fail_halt_and_warn(store: Store, work: Path) -> None:
    runner = ShellRunner(work)
    plan = loaded(
        [
            {"id": "warned", "command": "touch w", "pre": [check("false", on_fail="warn")]},
            {"id": "halted", "command": "touch h", "pre": [check("false")]},
        ]
    )
    events = Collector()
    report = start_run(store, plan, runner, None, RunOptions(), listeners=[events])
    assert states(store, report.run_id) == {"warned": "succeeded", "halted": "failed"}
    assert runner.executed == ["warned"]
    assert any("warning" in w.message for w in events.of(StepWarning))
    assert not (work / "h").exists()
    chains_are_legal(store, report.run_id)


def test_a_pre_check_that_cannot_tell_halts_the_step(store: Store, work: Path) -> None:
    plan = loaded([{"id": "a", "command": "touch a", "pre": [check("no-such-program-here", exit_code=1)]}])
    events = Collector()
    report = start_run(store, plan, ShellRunner(work), None, RunOptions(), listeners=[events])
    assert states(store, report.run_id) == {"a": "failed"}
    assert not (work / "a").exists()
    assert "cannot tell" in store.steps(report.run_id)[0].summary
    (done,) = events.of(CheckDone)
    assert done.outcome == "cannot_tell" and not done.passed
    (record,) = store.checks(report.run_id, "a")
    assert record.outcome == "cannot_tell" and "no-such-program-here" in record.message


DONE_WHEN_STEPS = [
    # done_when holds, post-checks hold: already done, not run
    {"id": "done", "command": "touch never", "done_when": [check("true")], "post": [check("true")]},
    # one done_when check does not hold: not done, it runs (whatever the other says)
    {
        "id": "not-done",
        "command": "touch ran",
        "done_when": [check("false"), check("no-such-program-here")],
        "depends_on": [],
    },
    # done_when holds but a post-check does not: halt, both shown, not run
    {
        "id": "half-done",
        "command": "touch never2",
        "done_when": [check("true", description="the pool exists")],
        "post": [check("false", description="the pool is healthy")],
        "depends_on": [],
    },
    # done_when cannot tell: never done by default, never run blind either: halt
    {
        "id": "unknown",
        "command": "touch never3",
        "done_when": [check("no-such-program-here")],
        "depends_on": [],
    },
]


def test_done_when_decides_already_done(store: Store, work: Path) -> None:
    runner = ShellRunner(work)
    report = start_run(store, loaded(DONE_WHEN_STEPS[:2]), runner, None, RunOptions())
    assert states(store, report.run_id) == {"done": "succeeded", "not-done": "succeeded"}
    assert runner.executed == ["not-done"]
    assert not (work / "never").exists() and (work / "ran").exists()
    assert store.steps(report.run_id)[0].summary.startswith("already done")
    chains_are_legal(store, report.run_id)


def test_done_when_holding_with_a_post_check_not_holding_halts_showing_both(store: Store, work: Path) -> None:
    runner = ShellRunner(work)
    report = start_run(store, loaded([DONE_WHEN_STEPS[2]]), runner, None, RunOptions())
    assert states(store, report.run_id) == {"half-done": "failed"}
    assert runner.executed == []
    half = store.steps(report.run_id)[0].summary
    assert "the pool exists" in half and "the pool is healthy" in half, half
    chains_are_legal(store, report.run_id)


def test_done_when_that_cannot_tell_halts_and_never_marks_done(store: Store, work: Path) -> None:
    runner = ShellRunner(work)
    report = start_run(store, loaded([DONE_WHEN_STEPS[3]]), runner, None, RunOptions())
    assert states(store, report.run_id) == {"unknown": "failed"}
    assert runner.executed == []
    assert "cannot tell whether it is already done" in store.steps(report.run_id)[0].summary
    chains_are_legal(store, report.run_id)


def test_post_check_failure_fails_the_step(store: Store, work: Path) -> None:
    plan = loaded([{"id": "a", "command": "true", "post": [check("test -f nothing")]}])
    report = start_run(store, plan, ShellRunner(work), None, RunOptions())
    assert states(store, report.run_id) == {"a": "failed"}
    assert "post-check failed" in store.steps(report.run_id)[0].summary


def test_a_failed_check_names_the_host_it_was_probed_on(store: Store, work: Path) -> None:
    """issue 16: "file: /etc/hosts: it lacks the expected text" said neither where nor what."""
    for on, where in ({}, "off1"), ({"probe_from": "off2"}, "off2"):
        post = [{**check("test -f nothing"), **on}]
        plan = loaded([{"id": "a", "command": "true", "host": "off1", "post": post}])
        report = start_run(store, plan, ShellRunner(work), None, RunOptions())
        assert f" on {where}: " in store.steps(report.run_id)[0].summary


def test_from_until_only_and_skip_select_steps(store: Store, work: Path) -> None:
    steps = [{"id": x, "command": f"touch {x}", "depends_on": []} for x in "abcde"]
    runner = ShellRunner(work)
    report = start_run(
        store, loaded(steps), runner, None, RunOptions(from_step="b", until_step="d", skip={"c": "not today"})
    )
    assert runner.executed == ["b", "d"]
    assert states(store, report.run_id) == {
        "a": "pending",
        "b": "succeeded",
        "c": "skipped",
        "d": "succeeded",
        "e": "pending",
    }
    assert report.status == "paused" and report.next_command == resume_command(store, report.run_id)
    assert store.steps(report.run_id)[2].reason == "not today"
    runner2 = ShellRunner(work)
    report2 = start_run(store, loaded(steps), runner2, None, RunOptions(only=("e", "a")))
    assert runner2.executed == ["a", "e"]
    with pytest.raises(UsageError, match="no step 'zz'"):
        start_run(store, loaded(steps), runner2, None, RunOptions(only=("zz",)))
    assert report2.status == "paused"


def test_destructive_step_asks_for_the_host_name(store: Store, work: Path) -> None:
    plan = loaded([{"id": "wipe", "command": "touch wiped", "destructive": True, "host": "local"}])
    prompter = ScriptedPrompter(confirms=[True])
    report = start_run(store, plan, ShellRunner(work), prompter, RunOptions())
    assert report.status == "completed"
    assert prompter.asked[0][1] == "local"
    assert [(d.kind, d.choice) for d in store.decisions(report.run_id)] == [("confirm_destructive", "yes")]


def test_declined_or_unattended_destructive_step_pauses_without_running(store: Store, work: Path) -> None:
    plan = loaded([{"id": "wipe", "command": "touch wiped", "destructive": True}])
    runner = ShellRunner(work)
    with pytest.raises(OperatorNeeded, match="declined"):
        start_run(store, plan, runner, ScriptedPrompter(confirms=[False]), RunOptions())
    with pytest.raises(OperatorNeeded, match="confirmation"):
        start_run(store, plan, runner, None, RunOptions())
    assert runner.executed == []
    for run in store.runs("demo"):
        assert run.status == "paused"
        assert states(store, run.id) == {"wipe": "pending"}
        chains_are_legal(store, run.id)
    report = start_run(store, plan, runner, None, RunOptions(yes=True))
    assert report.status == "completed"
    assert store.decisions(report.run_id)[0].reason == "--yes"


def test_outputs_are_captured_and_substituted_secrets_only_fingerprinted(store: Store, work: Path) -> None:
    plan = loaded(
        [
            {
                "id": "make",
                "command": "echo 'vmid=101'; echo 'token=s3cr3tvalue'",
                "outputs": {
                    "vmid": {"regex": "vmid=(\\d+)"},
                    "token": {"regex": "token=(\\S+)", "secret": True},
                },
            },
            {"id": "use", "command": "echo got {{ outputs.make.vmid }} > used"},
        ]
    )
    events = Collector()
    report = start_run(store, plan, ShellRunner(work), None, RunOptions(), listeners=[events])
    assert report.status == "completed"
    assert (work / "used").read_text() == "got 101\n"
    values = {v.name: v for v in store.values(report.run_id)}
    assert values["vmid"].value == "101"
    assert values["token"].value is None and values["token"].fingerprint.startswith("sha256:")
    assert isinstance(events.of(RunFinished)[0].summary.counts, dict)


class DecidingRunner(ShellRunner):
    """An executor whose action asks the operator something (as a new host key does)."""

    def execute(self, step: Step, ctx: StepContext) -> ActionOutcome:
        ctx.decide("host_key", "accept", f"{step.id}: ssh-ed25519 SHA256:abc confirmed")
        return super().execute(step, ctx)


def test_a_decision_taken_in_an_action_is_in_the_decisions_and_the_journal(store: Store, work: Path) -> None:
    from migrator.report import render_run
    from migrator.report.facts import collect

    plan = loaded([{"id": "reinstalled", "command": "true"}])
    report = start_run(store, plan, DecidingRunner(work), None, RunOptions(actor="alice@box"))
    assert report.status == "completed"
    [decision] = store.decisions(report.run_id)
    assert (decision.step_id, decision.kind, decision.choice, decision.actor) == (
        "reinstalled", "host_key", "accept", "alice@box"
    )  # fmt: skip
    assert "SHA256:abc" in decision.reason and decision.at is not None
    [note] = [e for e in store.journal(report.run_id, "reinstalled") if e.kind == "note"]
    assert note.trigger == "host_key" and "SHA256:abc" in note.reason and note.actor == "alice@box"
    record = render_run(collect(store, report.run_id, plan), "markdown")
    assert "| host key | accept | reinstalled: ssh-ed25519 SHA256:abc confirmed | alice@box |" in record
