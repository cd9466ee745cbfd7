"""Rollback driven by the engine: real Executors (LocalTransport), real SQLite, real shell.

``rollback_step`` (the CLI's way in) and a ROLLBACK command queued to a running runner from
another thread; refusals (irreversible, no rollback, wrong state), a failing rollback, the
typed host name for a destructive step, and re-running a rolled-back step on resume.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from migrator.engine.commands import CommandKind, OperatorCommand
from migrator.engine.events import StepWarning
from migrator.engine.rollback import rollback_step
from migrator.engine.runner import RunOptions, prepare_run, resume_run, start_run
from migrator.errors import OperatorNeeded, RunStateError, UsageError
from migrator.executors.registry import Executors
from migrator.plan.inventory import Environment, Inventory
from migrator.secrets import Redactor
from migrator.store.db import Store
from tests.engine.doubles import Collector, ScriptedPrompter, loaded
from tests.engine.test_runner import chains_are_legal, states


@pytest.fixture
def executors(tmp_path: Path) -> Iterator[Executors]:
    ex = Executors(
        Inventory(name="lab", environment=Environment.LAB, known_hosts=None),
        inventory_dir=tmp_path,
        prompter=ScriptedPrompter(),
        redactor=Redactor(),
    )
    yield ex
    ex.close()


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def steps(work: Path, **overrides: dict[str, Any]) -> list[dict[str, Any]]:
    """a (reversible), b (needs a), c (independent of both)."""
    base: dict[str, dict[str, Any]] = {
        "a": {
            "id": "a",
            "command": f"echo did >> {work}/a.log",
            "rollback": {"command": f"echo undo-a; echo undone >> {work}/a.undo"},
        },
        "b": {"id": "b", "command": f"echo did >> {work}/b.log", "depends_on": ["a"]},
        "c": {"id": "c", "command": f"echo did >> {work}/c.log", "depends_on": []},
    }
    for sid, fields in overrides.items():
        base[sid] = {**base[sid], **fields}
    return list(base.values())


def journal(store: Store, run_id: int, sid: str) -> list[tuple[str, str]]:
    return [(e.kind, e.trigger) for e in store.journal(run_id, sid)]


def test_rollback_runs_the_rollback_once_writes_ahead_and_names_later_steps(
    store: Store, work: Path, executors: Executors
) -> None:
    plan = loaded(steps(work))
    run = start_run(store, plan, executors, None, RunOptions())
    assert run.status == "completed"
    events = Collector()
    prompter = ScriptedPrompter(confirms=[True])
    report = rollback_step(
        store,
        plan,
        run.run_id,
        "a",
        executors,
        prompter,
        reason="bad config",
        actor="ops",
        listeners=[events],
    )
    assert report.ok and report.state == "rolled_back"
    assert lines(work / "a.undo") == ["undone"]  # exactly once
    assert lines(work / "a.log") == ["did"]
    assert report.not_rolled_back == ["b"]  # b ran after a; c does not depend on it
    warnings = [w.message for w in events.of(StepWarning)]
    assert "these steps ran after it and were not rolled back: b" in warnings
    assert prompter.asked[0][1] is None and "will NOT be rolled back: b" in prompter.asked[0][0]
    assert states(store, run.run_id) == {"a": "rolled_back", "b": "succeeded", "c": "succeeded"}
    assert journal(store, run.run_id, "a")[-2:] == [("note", "rollback_started"), ("transition", "roll_back")]
    chains_are_legal(store, run.run_id)
    rolled = [c for c in store.output(run.run_id, "a") if c.stream.startswith("rollback:")]
    assert [(c.stream, c.lines) for c in rolled] == [("rollback:stdout", ["undo-a"])]
    decision = store.decisions(run.run_id)[-1]
    assert (decision.kind, decision.choice, decision.reason) == ("rollback", "yes", "bad config")
    assert store.lease("demo") is None
    # Rolled back already: a second rollback is refused, nothing runs again.
    with pytest.raises(RunStateError, match="is rolled_back"):
        rollback_step(
            store, plan, run.run_id, "a", executors, ScriptedPrompter(), reason="again", actor="ops"
        )
    assert lines(work / "a.undo") == ["undone"]


def test_irreversible_no_rollback_and_pending_steps_are_refused_before_anything_runs(
    store: Store, work: Path, executors: Executors
) -> None:
    plan = loaded(
        steps(
            work,
            a={"rollback": None, "irreversible": "the disks are wiped"},
            c={"command": "exit 1", "rollback": {"command": f"touch {work}/c.undo"}},
        )
    )
    run = start_run(store, plan, executors, None, RunOptions())
    assert states(store, run.run_id) == {"a": "succeeded", "b": "succeeded", "c": "failed"}
    with pytest.raises(RunStateError, match="step a is irreversible: the disks are wiped"):
        rollback_step(store, plan, run.run_id, "a", executors, ScriptedPrompter(), reason="x", actor="ops")
    with pytest.raises(RunStateError, match="step b has no rollback"):
        rollback_step(store, plan, run.run_id, "b", executors, ScriptedPrompter(), reason="x", actor="ops")
    with pytest.raises(UsageError, match="needs a reason"):
        rollback_step(store, plan, run.run_id, "c", executors, ScriptedPrompter(), reason=" ", actor="ops")
    with pytest.raises(UsageError, match="no step 'zz'"):
        rollback_step(store, plan, run.run_id, "zz", executors, ScriptedPrompter(), reason="x", actor="ops")
    assert [e.trigger for e in store.journal(run.run_id) if e.kind == "note"] == []
    assert store.lease("demo") is None
    # A pending step: not in a state that can be rolled back.
    fresh = loaded(steps(work, a={"command": "exit 1"}, b={"rollback": {"command": f"touch {work}/c.undo"}}))
    failed = start_run(store, fresh, executors, None, RunOptions())
    assert states(store, failed.run_id)["b"] == "blocked"
    with pytest.raises(RunStateError, match="step b is blocked: only a succeeded, failed or in-doubt"):
        rollback_step(
            store, fresh, failed.run_id, "b", executors, ScriptedPrompter(), reason="x", actor="ops"
        )
    assert not (work / "c.undo").exists()


def test_a_failing_rollback_leaves_the_step_where_it_was_and_records_why(
    store: Store, work: Path, executors: Executors
) -> None:
    plan = loaded(steps(work, a={"rollback": {"command": "echo trying; echo no such pool >&2; exit 7"}}))
    run = start_run(store, plan, executors, None, RunOptions())
    events = Collector()
    report = rollback_step(
        store,
        plan,
        run.run_id,
        "a",
        executors,
        ScriptedPrompter(confirms=[True]),
        reason="r",
        actor="ops",
        listeners=[events],
    )
    assert not report.ok and report.status == "failed" and report.state == "succeeded"
    assert "exit 7" in report.message and "no such pool" in report.message
    assert states(store, run.run_id)["a"] == "succeeded"
    assert journal(store, run.run_id, "a")[-2:] == [("note", "rollback_started"), ("note", "rollback_failed")]
    assert store.steps(run.run_id)[0].summary.startswith("rollback failed: exit 7")
    streams = {c.stream: c.lines for c in store.output(run.run_id, "a")}
    assert streams["rollback:stdout"] == ["trying"] and streams["rollback:stderr"] == ["no such pool"]
    assert any("the step stays succeeded" in w.message for w in events.of(StepWarning))
    chains_are_legal(store, run.run_id)


def test_destructive_rollback_asks_for_the_host_name_and_a_no_runs_nothing(
    store: Store, work: Path, executors: Executors
) -> None:
    plan = loaded(steps(work, a={"destructive": True}))
    run = start_run(store, plan, executors, None, RunOptions(yes=True))
    prompter = ScriptedPrompter(confirms=[False])
    report = rollback_step(store, plan, run.run_id, "a", executors, prompter, reason="r", actor="ops")
    assert report.status == "declined" and report.state == "succeeded"
    assert prompter.asked[0][1] == "local"  # the step's host, typed
    assert not (work / "a.undo").exists()
    assert store.decisions(run.run_id)[-1].choice == "no"
    assert "rollback_started" not in [t for _, t in journal(store, run.run_id, "a")]
    # Nobody to ask (no terminal) and no --yes: stop for an operator, run nothing.
    with pytest.raises(OperatorNeeded, match="needs a confirmation"):
        rollback_step(
            store,
            plan,
            run.run_id,
            "a",
            executors,
            ScriptedPrompter(interactive=False),
            reason="r",
            actor="ops",
        )
    assert not (work / "a.undo").exists()


def test_rolled_back_step_is_not_rerun_by_resume_until_the_operator_retries_it(
    store: Store, work: Path, executors: Executors
) -> None:
    plan = loaded(steps(work, b={"command": f"test -f {work}/go && echo did >> {work}/b.log"}))
    run = start_run(store, plan, executors, None, RunOptions())
    assert states(store, run.run_id) == {"a": "succeeded", "b": "failed", "c": "pending"}
    rollback_step(
        store, plan, run.run_id, "a", executors, ScriptedPrompter(confirms=[True]), reason="r", actor="o"
    )
    assert lines(work / "a.undo") == ["undone"]
    (work / "go").touch()
    plain = resume_run(store, plan, run.run_id, executors, None, options=RunOptions())
    # A plain resume keeps the operator's rollback: a is not re-run, so b cannot run.
    assert plain.status == "failed"
    assert states(store, run.run_id) == {"a": "rolled_back", "b": "blocked", "c": "succeeded"}
    assert lines(work / "a.log") == ["did"]
    again = resume_run(
        store, plan, run.run_id, executors, None, options=RunOptions(retry={"a": "fixed the config"})
    )
    assert again.status == "completed"
    assert lines(work / "a.log") == ["did", "did"] and lines(work / "b.log") == ["did"]
    assert ("rolled_back", "retry", "pending") in [
        (e.from_state, e.trigger, e.to_state) for e in store.journal(run.run_id, "a")
    ]
    chains_are_legal(store, run.run_id)


def _wait_for(path: Path, deadline: float = 30.0) -> None:
    end = time.monotonic() + deadline
    while not path.exists():
        assert time.monotonic() < end, f"{path} never appeared"
        time.sleep(0.02)


def test_rollback_queued_from_another_thread_runs_between_steps_then_the_run_pauses(
    store: Store, work: Path, executors: Executors
) -> None:
    gate = f"touch {work}/b.started; while [ ! -f {work}/go ]; do sleep 0.02; done; echo did >> {work}/b.log"
    plan = loaded(
        [
            *steps(work, b={"command": gate}, c={"depends_on": ["b"]}),
            {"id": "d", "command": "true", "irreversible": "cannot", "depends_on": []},
        ]
    )
    events = Collector()
    runner = prepare_run(
        store, plan, executors, ScriptedPrompter(confirms=[True]), RunOptions(), listeners=[events]
    )
    result: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: result.update(report=runner.execute()))
    thread.start()
    try:
        _wait_for(work / "b.started")
        runner.commands.put(OperatorCommand(CommandKind.ROLLBACK, "d", "refused: irreversible"))
        runner.commands.rollback("a", "the operator saw a bad config")
        assert not (work / "a.undo").exists()  # never while a step runs
    finally:
        (work / "go").touch()
        thread.join(60)
    assert not thread.is_alive()
    report = result["report"]
    assert report.status == "paused"
    assert lines(work / "a.undo") == ["undone"]
    assert states(store, runner.run_id) == {
        "a": "rolled_back",
        "b": "succeeded",
        "c": "pending",
        "d": "pending",
    }
    messages = [w.message for w in events.of(StepWarning)]
    assert any(
        m.startswith("rollback refused: run") and "step d is irreversible: cannot" in m for m in messages
    )
    assert "these steps ran after it and were not rolled back: b" in messages
    chains_are_legal(store, runner.run_id)
    # The pause holds: resume continues; c needs b only, d was never refused into a state.
    resumed = resume_run(store, plan, runner.run_id, executors, None, options=RunOptions())
    assert resumed.status == "completed"
    assert lines(work / "a.undo") == ["undone"] and lines(work / "c.log") == ["did"]


CLI_PLAN = """\
name: rb-demo
title: Rollback demo
inventory: inventory.yaml
phases:
- id: ph
  title: Ph
  where: window
  steps:
  - id: first
    title: First
    kind: local
    command: echo one >> {work}/first
    rollback: {{command: "echo undo-first; rm {work}/first"}}
  - id: wipe
    title: Wipe
    kind: local
    command: "true"
    irreversible: the old pool is destroyed
    depends_on: []
  - id: second
    title: Second
    kind: local
    command: echo two >> {work}/second
    depends_on: [first]
    rollback: {{command: "echo cannot >&2; exit 3"}}
"""


def test_cli_rollback_end_to_end_with_exit_codes(tmp_path: Path) -> None:
    from migrator.engine.lease import LeaseKeeper
    from tests.engine.test_cli_run import migrator

    work = tmp_path / "work"
    work.mkdir()
    (tmp_path / "inventory.yaml").write_text("name: lab\nenvironment: lab\nhosts: {}\n")
    plan = tmp_path / "plan.yaml"
    plan.write_text(CLI_PLAN.format(work=work))
    env = {
        **os.environ,
        "COLUMNS": "200",  # one line per message: rich wraps at the terminal width
        "MIGRATOR_DB": str(tmp_path / "state.db"),
        "MIGRATOR_CRASH_DIR": str(tmp_path),
    }
    cwd = Path(__file__).parents[2]
    assert migrator("run", str(plan), env=env, cwd=cwd).returncode == 0
    no_reason = migrator("rollback", "1", "first", env=env, cwd=cwd)
    assert no_reason.returncode == 2 and "--reason" in no_reason.stderr
    nobody = migrator("rollback", "1", "first", "--reason", "r", env=env, cwd=cwd)
    assert nobody.returncode == 5 and "needs a confirmation" in nobody.stderr
    irreversible = migrator("rollback", "1", "wipe", "--reason", "r", "--yes", env=env, cwd=cwd)
    assert irreversible.returncode == 1
    assert "step wipe is irreversible: the old pool is destroyed" in irreversible.stderr
    failing = migrator("rollback", "1", "second", "--reason", "r", "--yes", env=env, cwd=cwd)
    assert failing.returncode == 1, failing.stdout + failing.stderr
    assert "not rolled back" in failing.stdout and "exit 3 in" in failing.stdout
    assert ": cannot (it stays succeeded)" in failing.stdout
    store = Store.open(str(tmp_path / "state.db"))
    try:
        holder = LeaseKeeper(store, "rb-demo", 1)
        holder.acquire()
        try:
            held = migrator("rollback", "1", "first", "--reason", "r", "--yes", env=env, cwd=cwd)
            assert held.returncode == 4, held.stdout + held.stderr
        finally:
            holder.release()
    finally:
        store.close()
    assert (work / "first").exists()
    done = migrator("rollback", "1", "first", "--reason", "bad config", "--yes", env=env, cwd=cwd)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "step first rolled back" in done.stdout and "undo-first" in done.stdout
    assert "these steps ran after it and were not rolled back: second" in done.stdout
    assert not (work / "first").exists()
    log = migrator("log", "1", "--step", "first", env=env, cwd=cwd)
    assert (
        "rollback_started" in log.stdout
        and "succeeded -> rolled_back (roll_back) rolled back: bad config" in (log.stdout)
    )
    assert "rollback:stdout | undo-first" in log.stdout
    second_log = migrator("log", "1", "--step", "second", env=env, cwd=cwd)
    assert "rollback_failed" in second_log.stdout
    status = migrator("status", "1", env=env, cwd=cwd)
    assert "rolled_back" in status.stdout
