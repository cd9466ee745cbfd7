"""Truth on screen (issue 17, item 3): in-doubt steps shown on start before any key; an
observer sees the holder's heartbeat go stale and is told the take-over command;
"irreversible" written out; the list follows the running step unless the operator moved
away; every stop says what comes next. Each fails on c33c810."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from migrator.engine.events import StepChanged
from migrator.executors.scripted import Scripted, ScriptedExecutor
from migrator.store.db import Store
from tests.tui.conftest import (
    app_for,
    idle,
    plan_of,
    power_cut,
    press_and_idle,
    session_for,
    store_states,
    until,
)
from tests.tui.scenes import RUNNING, FrozenSession, _select, _settle, make_app, real_plan
from tests.tui.screen import shows
from tui.app import MigratorApp
from tui.messages import EngineEvent

SIZE = (80, 24)


async def test_in_doubt_step_shown_on_start_before_any_key(store: Store) -> None:
    steps = [
        {"id": "count", "command": "true", "post": [{"kind": "command", "command": "true"}]},
        {"id": "next", "command": "true"},
    ]
    crashing = ScriptedExecutor({"count": Scripted(raises=RuntimeError("cut"))})
    first = session_for(store, plan_of(steps), crashing, lease_ttl=0.05)
    with pytest.raises(RuntimeError, match="cut"):
        first.run("count")
    power_cut(first)  # kill -9: the store says running
    run_id = first.run_id or 0
    assert store_states(store, run_id)["count"] == "running"
    session = session_for(store, plan_of(steps), ScriptedExecutor(), take_over_reason="the first TUI died")
    app = app_for(session)
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot, app)
        assert app.statuses["count"].state == "in_doubt"
        assert app.selected_step() == "count"
        assert shows(app, app.status_line, "IN DOUBT: count")
        assert shows(app, app.status_line, "n reconciles it")
        assert "IN DOUBT" in str(app.table.get_cell("count", "state"))


async def test_observer_sees_the_heartbeat_go_stale_and_the_take_over_command(store: Store) -> None:
    steps = [{"id": "first", "command": "true"}]
    # A lease of 3 s, not less: on a busy machine (CI runs four workers on two cores) a live
    # holder's heartbeat can lag half a second, and the observer rightly calls that STALE.
    driver = session_for(store, plan_of(steps), ScriptedExecutor(), lease_ttl=3.0)
    watcher = session_for(store, plan_of(steps), ScriptedExecutor())
    assert watcher.observer
    app = MigratorApp(watcher, clock=lambda: datetime.now(UTC), poll_interval=0.05)
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot, app)
        assert "STALE" not in app.last_message
        lease = driver.lease
        assert lease is not None and lease._thread is not None
        lease._stop.set()  # the holder dies: no more heartbeats
        lease._thread.join()
        await until(pilot, lambda: "STALE" in app.last_message, "the observer to see the stale lease")
        command = f"migrator tui demo --run {watcher.run_id} --take-over --reason TEXT"
        assert command in app.last_message
        # The status line repaints on the next refresh after the message: wait for it, not a race.
        await until(pilot, lambda: shows(app, app.status_line, command), "the take-over command on screen")
        driver.lease = None


async def test_irreversible_written_out_in_detail_and_confirmation() -> None:
    app = make_app(FrozenSession(real_plan(), RUNNING))
    step = next(s for s in app.plan.steps if s.id == "install-pve")
    assert step.irreversible and step.destructive
    async with app.run_test(size=SIZE) as pilot:
        await _select(pilot, step.id)
        assert shows(app, app.detail.body, f"IRREVERSIBLE: {step.irreversible}")
        assert "!" in str(app.table.get_cell(step.id, "marks"))
        app.push_screen(
            app._confirm_modal("Step install-pve is destructive. Type the host name", "off1", step.id)
        )
        await _settle(pilot)
        assert shows(app, app.screen.query_one(".dialog-body"), f"IRREVERSIBLE: {step.irreversible}")


async def test_list_follows_the_running_step_unless_the_operator_moved_away() -> None:
    app = make_app(FrozenSession(real_plan(), RUNNING))
    ids = [s.id for s in app.plan.steps]

    def started(sid: str) -> EngineEvent:
        return EngineEvent(StepChanged(7, sid, "ready", "running", "launch", "", 1))

    async with app.run_test(size=SIZE) as pilot:
        await _select(pilot, ids[0])
        app.followed = ids[0]  # as "n" or "u" leave it
        for sid in ids[1:4]:
            app.post_message(started(sid))
            await _settle(pilot)
            assert app.selected_step() == sid
            assert shows(app, app.detail.body, sid)
        app.table.select_step(ids[10])  # the operator looks elsewhere
        await _settle(pilot)
        app.post_message(started(ids[4]))
        await _settle(pilot)
        assert app.selected_step() == ids[10]


async def test_a_stop_says_what_comes_next(store: Store) -> None:
    steps = [{"id": "first", "command": "true"}, {"id": "second", "command": "true"}]
    app = app_for(session_for(store, plan_of(steps), ScriptedExecutor()))
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot, app)
        await press_and_idle(pilot, app, "n")
        assert "Next: n runs second on" in app.last_message
        assert shows(app, app.status_line, "Next: n runs second on")
        await press_and_idle(pilot, app, "n")
        assert "nothing more to run" in app.last_message
