"""The plan's lease belongs to a TUI session from open to quit, and a session's partial runs
leave the journal quiet (no pause/resume pair per keypress): real engine, real SQLite."""

from __future__ import annotations

import pytest

from migrator.engine.runner import RunOptions, prepare_resume, prepare_run, resume_run
from migrator.errors import LockHeldError, RunStateError
from migrator.executors.scripted import FAIL, ScriptedExecutor
from migrator.store.db import Store
from tests.tui.conftest import app_for, idle, plan_of, press_and_idle, screen_text, session_for, store_states

STEPS = [{"id": "first", "command": "true"}, {"id": "second", "command": "true"}]


def run_moves(store: Store, run_id: int) -> list[str]:
    """The run-level moves of the journal (start, pause, resume, complete ...)."""
    return [e.trigger for e in store.journal(run_id, all_steps=False) if e.kind == "transition"]


async def test_a_second_session_observes_until_the_first_quits(store: Store) -> None:
    driver = session_for(store, plan_of(STEPS), ScriptedExecutor())
    run_id = driver.run_id
    assert run_id is not None and driver.lease is not None
    holder = driver.lease.holder
    app = app_for(driver)
    async with app.run_test(size=(80, 24)) as pilot:
        await idle(pilot, app)
        await press_and_idle(pilot, app, "n")
        assert store_states(store, run_id) == {"first": "succeeded", "second": "pending"}

        # Idle between actions, the session still holds the lease (heartbeat) ...
        lease = store.lease("demo")
        assert lease is not None and lease.holder == holder
        # ... so a second TUI only watches, naming the holder, and cannot act.
        watcher = session_for(store, plan_of(STEPS), ScriptedExecutor())
        assert watcher.observer and watcher.observer_reason == f"{holder} holds the lease"
        with pytest.raises(RunStateError, match="only watches"):
            watcher.run(None)
        watcher_app = app_for(watcher)
        async with watcher_app.run_test(size=(80, 24)) as watching:
            await idle(watching, watcher_app)
            assert f"OBSERVER, read-only: {holder} holds the lease" in screen_text(watcher_app)
        # A headless `migrator resume` is refused with the holder named; nothing ran.
        with pytest.raises(LockHeldError, match=holder):
            resume_run(store, plan_of(STEPS), run_id, ScriptedExecutor(), None, options=RunOptions())
        assert store_states(store, run_id)["second"] == "pending"
        await pilot.press("q")
    driver.close()  # what `migrator tui` does once the app has exited

    assert store.lease("demo") is None
    assert store.run(run_id).status == "paused"
    assert run_moves(store, run_id) == ["start", "pause"]
    assert "TUI session of tester@lab ended" in store.journal(run_id, all_steps=False)[-1].reason
    successor = session_for(store, plan_of(STEPS), ScriptedExecutor())
    assert not successor.observer
    assert "all steps done" in successor.run(None)
    assert store.run(run_id).status == "completed"
    assert store.lease("demo") is None  # a finished run needs no lease: released at once


async def test_run_next_three_times_journals_the_run_once(store: Store) -> None:
    steps = [{"id": sid, "command": "true"} for sid in ("a", "b", "c", "d")]
    session = session_for(store, plan_of(steps), ScriptedExecutor())
    run_id = session.run_id
    assert run_id is not None
    app = app_for(session)
    async with app.run_test(size=(80, 24)) as pilot:
        await idle(pilot, app)
        for _ in range(3):
            await press_and_idle(pilot, app, "n")
        assert app.run_status == "running"
        assert "not selected" not in app.last_message and "1 step(s) pending" in app.last_message
    assert store_states(store, run_id) == {
        "a": "succeeded",
        "b": "succeeded",
        "c": "succeeded",
        "d": "pending",
    }
    assert run_moves(store, run_id) == ["start"]
    session.close()
    assert run_moves(store, run_id) == ["start", "pause"]


def test_keep_running_leaves_a_partial_run_running_and_unjournalled(store: Store) -> None:
    plan = plan_of([{"id": sid, "command": "true"} for sid in ("a", "b", "c")])
    quiet = RunOptions(mode="rehearsal", actor="tester@lab", until_step="a", keep_running=True)
    report = prepare_run(store, plan, ScriptedExecutor(), None, quiet).execute()
    run_id = report.run_id
    assert (report.status, report.next_command) == ("running", None)
    again = RunOptions(mode="rehearsal", actor="tester@lab", until_step="b", keep_running=True)
    assert (
        prepare_resume(store, plan, run_id, ScriptedExecutor(), None, options=again).execute().status
        == "running"
    )
    assert run_moves(store, run_id) == ["start"]
    rest = RunOptions(mode="rehearsal", actor="tester@lab", keep_running=True)
    assert (
        prepare_resume(store, plan, run_id, ScriptedExecutor(), None, options=rest).execute().status
        == "completed"
    )
    assert run_moves(store, run_id) == ["start", "complete"]

    # Without the flag (headless `migrator run --until`), each partial run pauses and resumes.
    loud = prepare_run(store, plan, ScriptedExecutor(), None, RunOptions(until_step="a")).execute()
    prepare_resume(
        store, plan, loud.run_id, ScriptedExecutor(), None, options=RunOptions(until_step="b")
    ).execute()
    assert run_moves(store, loud.run_id) == ["start", "pause", "resume", "pause"]


def test_keep_running_still_records_a_failure_and_never_retries_it_silently(store: Store) -> None:
    plan = plan_of([{"id": "a", "command": "false"}, {"id": "b", "command": "true"}])
    runner = ScriptedExecutor({"a": FAIL})
    session_like = RunOptions(mode="rehearsal", actor="tester@lab", keep_running=True, retry_failed=False)
    report = prepare_run(store, plan, runner, None, session_like).execute()
    assert report.status == "failed"
    again = RunOptions(mode="rehearsal", actor="tester@lab", keep_running=True, retry_failed=False)
    report = prepare_resume(store, plan, report.run_id, runner, None, options=again).execute()
    assert report.status == "failed" and "a" in report.message
    assert runner.executed["a"] == 1  # not re-run without the operator's reason
    assert not [e for e in store.journal(report.run_id, "a") if e.trigger == "retry"]
