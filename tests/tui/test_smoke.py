from __future__ import annotations

from pathlib import Path

from migrator.executors.scripted import Scripted, ScriptedExecutor
from migrator.store.db import Store
from tests.tui.conftest import app_for, idle, plan_of, press_and_idle, session_for, store_states


async def test_run_next_runs_one_step(store: Store, tmp_path: Path) -> None:
    plan = plan_of([{"id": "a", "command": "true"}, {"id": "b", "command": "true"}])
    runner = ScriptedExecutor({"a": Scripted(lines=[("stdout", "hello")])})
    session = session_for(store, plan, runner)
    app = app_for(session)
    async with app.run_test(size=(80, 24)) as pilot:
        await idle(pilot, app)
        await press_and_idle(pilot, app, "n")
        assert store_states(store, session.run_id or 0) == {"a": "succeeded", "b": "pending"}
        assert app.statuses["a"].state == "succeeded"
        app.save_screenshot("smoke.svg", str(tmp_path))  # not /tmp: parallel runs
