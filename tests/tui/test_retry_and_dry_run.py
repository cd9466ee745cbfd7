""" "run next" on a failed step asks for the reason as ``r`` does; the dry-run mode shows its
verdicts in the state column and never acts (ScriptedExecutor counts every call)."""

from __future__ import annotations

from migrator.executors.scripted import FAIL, OK, ScriptedExecutor
from migrator.store.db import Store
from tests.tui.conftest import (
    app_for,
    enter_text,
    idle,
    plan_of,
    press_and_idle,
    screen_text,
    session_for,
    store_states,
    until,
)
from tui.app import MigratorApp
from tui.screens.modals import ReasonModal


async def test_run_next_on_a_failed_step_asks_for_the_retry_reason(store: Store) -> None:
    steps = [{"id": "flaky", "command": "probe"}, {"id": "after", "command": "true"}]
    runner = ScriptedExecutor({"flaky": [FAIL, OK]})
    session = session_for(store, plan_of(steps), runner)
    run_id = session.run_id
    assert run_id is not None
    app = app_for(session)
    async with app.run_test(size=(80, 24)) as pilot:
        await idle(pilot, app)
        await press_and_idle(pilot, app, "n")
        assert app.statuses["flaky"].state == "failed"

        # The same question as `r`; cancelling it runs nothing.
        await pilot.press("n")
        assert isinstance(app.screen, ReasonModal)
        assert "Retry step flaky: why is it safe to run it again?" in screen_text(app)
        await press_and_idle(pilot, app, "escape")
        assert runner.executed["flaky"] == 1 and store_states(store, run_id)["flaky"] == "failed"

        # With a reason: recorded as the operator's retry, then the step runs again.
        await pilot.press("n")
        await enter_text(pilot, app, "the disk was remounted")
        await idle(pilot, app)
        assert store_states(store, run_id) == {"flaky": "succeeded", "after": "pending"}
    assert runner.executed["flaky"] == 2
    retries = [d for d in store.decisions(run_id) if d.kind == "retry"]
    assert [(d.step_id, d.reason) for d in retries] == [("flaky", "the disk was remounted")]
    reasons = [e.reason for e in store.journal(run_id, "flaky") if e.trigger == "retry"]
    assert reasons == ["operator: the disk was remounted"]


def state_column(app: MigratorApp, step_id: str) -> str:
    return str(app.table.get_cell(step_id, "state"))


async def test_dry_run_shows_verdicts_and_executes_nothing(store: Store) -> None:
    steps = [
        {"id": "backup", "command": "zfs snapshot", "done_when": [{"kind": "command", "command": "ls snap"}]},
        {"id": "stop", "command": "systemctl stop mongod", "rollback": {"command": "systemctl start mongod"}},
        {
            "id": "wipe",
            "command": "sgdisk --zap-all",
            "pre": [{"kind": "command", "command": "! pidof mongod"}],
        },
        {
            "id": "alone",
            "host": "elsewhere",  # nothing before it acts there: its failing pre-check is final
            "command": "true",
            "depends_on": [],
            "pre": [{"kind": "command", "command": "false"}],
        },
    ]
    # backup's done_when check holds now; wipe's and alone's pre-checks do not hold now.
    runner = ScriptedExecutor(checks={"backup": True, "wipe": False, "alone": False})
    session = session_for(store, plan_of(steps), runner, dry_run=True)
    app = app_for(session)
    async with app.run_test(size=(100, 30)) as pilot:
        await idle(pilot, app)
        assert "DRY-RUN" in screen_text(app).upper()
        assert app.check_action("rollback", ()) is False and app.check_action("skip", ()) is False
        await press_and_idle(pilot, app, "n")
        assert "dry-run recorded as run" in app.last_message and "NO-GO" in app.last_message
        assert {sid: state_column(app, sid) for sid in ("backup", "stop", "wipe", "alone")} == {
            "backup": "already done",
            "stop": "would run",
            "wipe": "until step 2",  # cannot know before `stop` (step 2) ran
            "alone": "would fail",
        }
        app.table.select_step("wipe")
        await until(
            pilot, lambda: "cannot know until step 2 (stop)" in screen_text(app), "the verdict detail"
        )
    assert runner.executed == {} and runner.rolled_back == {}
    assert {kind for kind, _ in runner.calls} == {"check"}
    assert [r.mode for r in store.runs("demo")] == ["dry-run"]
