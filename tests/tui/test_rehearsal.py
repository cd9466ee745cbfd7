"""A whole rehearsal driven through the UI with the real engine, real SQLite and real local
commands: run until a manual step, the checklist, a destructive confirmation, a failure and
its retry, a skip with a reason, the go/no-go arithmetic, abort; and a resume with an
in-doubt step (ScriptedExecutor)."""

from __future__ import annotations

from pathlib import Path

import pytest

from migrator.cli.tui import PrompterProxy
from migrator.executors.scripted import Scripted, ScriptedExecutor
from migrator.store.db import Store
from tests.tui.conftest import (
    app_for,
    enter_text,
    idle,
    local_executors,
    plan_of,
    power_cut,
    press_and_idle,
    screen_text,
    session_for,
    store_states,
    until,
)
from tui.screens.modals import (
    ChecklistModal,
    ChoiceModal,
    ConfirmModal,
    GoNoGoModal,
    ReasonModal,
    TypeNameModal,
)


def rehearsal_steps(work: Path) -> list[dict[str, object]]:
    return [
        {"id": "prep", "command": f"echo prepared > {work}/prep"},
        {
            "id": "console",
            "kind": "manual",
            "instructions": "Open the iDRAC console",
            "checklist": ["console reachable", "disk ordered"],
        },
        {
            "id": "wipe",
            "phase": "window",
            "destructive": True,
            "command": f"rm {work}/prep && echo wiped",
            "rollback": {"command": f"echo prepared > {work}/prep", "estimate": "20m"},
            "estimate": "10m",
        },
        {"id": "flaky", "phase": "window", "command": f"test -f {work}/fixed", "estimate": "5m"},
        {"id": "optional", "phase": "window", "command": "exit 3", "depends_on": []},
        {
            "id": "gate",
            "phase": "window",
            "point_of_no_return": True,
            "command": "true",
            "estimate": "30m",
            "depends_on": ["flaky"],
        },
        {"id": "last", "phase": "window", "command": f"echo done > {work}/last", "estimate": "15m"},
    ]


async def test_a_whole_rehearsal_through_the_ui(store: Store, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    proxy = PrompterProxy()
    session = session_for(store, plan_of(rehearsal_steps(work)), local_executors(tmp_path, proxy), proxy)
    run_id = session.run_id
    assert run_id is not None
    app = app_for(session)
    async with app.run_test(size=(100, 30)) as pilot:
        await idle(pilot, app)
        assert "REHEARSAL on the lab" in screen_text(app)

        # Run until the next manual step: only `prep` runs.
        await press_and_idle(pilot, app, "u")
        assert store_states(store, run_id)["prep"] == "succeeded"
        assert store_states(store, run_id)["console"] == "pending"

        # The manual step: tick both items, write the evidence, enter.
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, ChecklistModal), "the checklist")
        await pilot.press("space", "tab", "space", "tab")
        await enter_text(pilot, app, "seen on the console")
        await idle(pilot, app)
        assert store_states(store, run_id)["console"] == "succeeded"
        assert "seen on the console" in store.evidence(run_id)[0].text

        # The destructive step: a wrong name is refused, the host name runs it.
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, TypeNameModal), "the destructive confirmation")
        await pilot.press(*"off1", "enter")
        assert isinstance(app.screen, TypeNameModal)
        assert "'off1' is not local" in screen_text(app)
        await press_and_idle(pilot, app, *["backspace"] * 4, *"local", "enter")
        assert store_states(store, run_id)["wipe"] == "succeeded"
        assert not (work / "prep").exists()
        assert "wiped" in "\n".join(app.output_log.lines)

        # A failure, then a retry once the cause is fixed.
        await press_and_idle(pilot, app, "n")
        assert app.statuses["flaky"].state == "failed"
        assert "failed" in app.last_message
        (work / "fixed").touch()
        await pilot.press("r")
        assert isinstance(app.screen, ReasonModal)
        await pilot.press("enter")  # the prefilled reason
        await idle(pilot, app)
        assert store_states(store, run_id)["flaky"] == "succeeded"

        # A failure skipped with a reason (an empty reason is refused).
        await press_and_idle(pilot, app, "n")
        assert app.statuses["optional"].state == "failed"
        app.query_one("#steps").focus()
        await pilot.press("s")
        assert isinstance(app.screen, ReasonModal)
        await pilot.press("enter")
        assert isinstance(app.screen, ReasonModal) and "a reason is required" in screen_text(app)
        await enter_text(pilot, app, "not needed in the lab")
        await idle(pilot, app)
        assert store_states(store, run_id)["optional"] == "skipped"
        skipped = [e for e in store.journal(run_id, "optional") if e.trigger == "skip"]
        assert "not needed in the lab" in skipped[-1].reason

        # The point of no return shows the window arithmetic; yes goes on.
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, GoNoGoModal), "the go/no-go")
        text = screen_text(app)
        assert "time left in the window" in text and "in-window work left      : 45m" in text
        assert "rolling back what is done: 20m" in text
        await press_and_idle(pilot, app, "y")
        assert store_states(store, run_id)["gate"] == "succeeded"

        # Abort: confirm, then a reason; the run ends for good and actions grey out.
        await pilot.press("a")
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("y")
        await until(pilot, lambda: isinstance(app.screen, ReasonModal), "the abort reason")
        await enter_text(pilot, app, "window closed")
        await idle(pilot, app)
        assert store.run(run_id).status == "aborted"
        assert app.check_action("run_next", ()) is False
    assert store_states(store, run_id)["last"] == "pending"
    assert not (work / "last").exists()


async def test_declining_a_destructive_step_runs_nothing_and_pauses(store: Store, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "prep").touch()
    proxy = PrompterProxy()
    steps = [{"id": "wipe", "destructive": True, "command": f"rm {work}/prep"}]
    session = session_for(store, plan_of(steps), local_executors(tmp_path, proxy), proxy)
    app = app_for(session)
    async with app.run_test(size=(80, 24)) as pilot:
        await idle(pilot, app)
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, TypeNameModal), "the destructive confirmation")
        await press_and_idle(pilot, app, "escape")
        assert "declined" in app.last_message
    assert (work / "prep").exists()
    assert store_states(store, session.run_id or 0)["wipe"] == "pending"


async def test_resume_with_an_in_doubt_step_shows_what_reconciling_found(store: Store) -> None:
    steps = [
        {"id": "count", "command": "true", "post": [{"kind": "command", "command": "true"}]},
        {"id": "next", "command": "true"},
    ]
    crashing = ScriptedExecutor({"count": Scripted(raises=RuntimeError("power cut"))})
    first = session_for(store, plan_of(steps), crashing, lease_ttl=0.05)
    run_id = first.run_id
    assert run_id is not None
    with pytest.raises(RuntimeError, match="power cut"):  # the crash we staged
        first.run("count")
    power_cut(first)
    assert store_states(store, run_id)["count"] == "running"

    # The dead session's lease is stale: the next one takes it over, with a reason.
    runner = ScriptedExecutor(checks={"count": False})
    session = session_for(store, plan_of(steps), runner, take_over_reason="the first TUI died")
    assert not session.observer
    app = app_for(session)
    async with app.run_test(size=(100, 30)) as pilot:
        await idle(pilot, app)
        # Shown in doubt on start, before any key (the store still says running).
        assert app.statuses["count"].state == "in_doubt"
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, ChoiceModal), "the in-doubt decision")
        text = screen_text(app)
        assert "in doubt" in text and "what reconciling found" in text and "FAIL reconcile" in text
        await pilot.press("down", "enter")  # "mark done"
        await until(pilot, lambda: isinstance(app.screen, ReasonModal), "the reason")
        await pilot.press("escape")  # the engine needs a reason: escape does not cancel it
        assert isinstance(app.screen, ReasonModal)
        await enter_text(pilot, app, "checked the counter by hand")
        await idle(pilot, app)
        assert store_states(store, run_id)["count"] == "succeeded"
    assert runner.executed["count"] == 0
    decisions = [d for d in store.decisions(run_id) if d.kind == "in_doubt"]
    assert decisions[-1].choice == "mark done" and decisions[-1].reason == "checked the counter by hand"
