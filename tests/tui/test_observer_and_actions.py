"""Observer mode (a second TUI on the same store), pause while a step runs, rollback, the
command palette, and a step on the real loopback sshd."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from textual.widgets import OptionList

from migrator.cli.tui import PrompterProxy
from migrator.executors.scripted import Scripted, ScriptedExecutor
from migrator.plan.inventory import Inventory
from migrator.store.db import Store
from tests.fixtures.sshd import SshdServer
from tests.tui.conftest import (
    app_for,
    enter_text,
    idle,
    local_executors,
    plan_of,
    press_and_idle,
    screen_text,
    session_for,
    store_states,
    until,
)
from tui.screens.modals import ConfirmModal, ReasonModal

STEPS = [{"id": "long", "command": "true"}, {"id": "after", "command": "true"}]


async def test_observer_watches_a_run_driven_elsewhere_and_cannot_act(store: Store) -> None:
    hold = threading.Event()
    lines = [("stdout", f"copy {i}") for i in range(500)]  # the recorder stores every 500 lines
    driver = session_for(store, plan_of(STEPS), ScriptedExecutor({"long": Scripted(lines=lines, hold=hold)}))
    thread = threading.Thread(target=driver.run, args=(None,))
    thread.start()
    try:
        for _ in range(1000):  # until the driver holds the lease and the step runs (<= 10 s)
            if store_states(store, driver.run_id or 0)["long"] == "running":
                break
            time.sleep(0.01)
        # Another operator's runner holds the lease: this TUI becomes an observer by itself.
        watcher = session_for(store, plan_of(STEPS), ScriptedExecutor())
        assert watcher.observer and "holds the lease" in watcher.observer_reason
        app = app_for(watcher, poll_interval=0.05)
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: "copy 499" in app.output_log.lines, "the observed output")
            assert "OBSERVER, read-only" in screen_text(app)
            assert app.statuses["long"].state == "running"
            for key in ("n", "s", "a", "r"):
                assert (
                    app.check_action({"n": "run_next", "s": "skip", "a": "abort", "r": "retry"}[key], ())
                    is False
                )
                await pilot.press(key)
            assert not isinstance(app.screen, ConfirmModal | ReasonModal)
            hold.set()
            await until(pilot, lambda: app.statuses.get("after", None) is not None
                        and app.statuses["after"].state == "succeeded", "the observed end")  # fmt: skip
    finally:
        hold.set()
        thread.join()
    assert store.run(driver.run_id or 0).status == "completed"


async def test_observe_flag_and_finished_runs_are_read_only(store: Store) -> None:
    session = session_for(store, plan_of(STEPS), ScriptedExecutor(), observe=False)
    session.run(None)
    assert store.run(session.run_id or 0).status == "completed"
    again = session_for(store, plan_of(STEPS), ScriptedExecutor(), run_id=session.run_id)
    assert again.observer and "completed" in again.observer_reason
    flagged = session_for(store, plan_of(STEPS), ScriptedExecutor(), run_id=session.run_id, observe=True)
    assert flagged.observer_reason == "--observe"


async def test_pause_while_a_step_runs_stops_after_it(store: Store) -> None:
    hold = threading.Event()
    session = session_for(store, plan_of(STEPS), ScriptedExecutor({"long": Scripted(hold=hold)}))
    app = app_for(session)
    async with app.run_test(size=(80, 24)) as pilot:
        await idle(pilot, app)
        await pilot.press("u")  # both steps
        await until(pilot, lambda: app.statuses.get("long") is not None
                    and app.statuses["long"].state == "running", "the step to run")  # fmt: skip
        assert app.check_action("run_next", ()) is None  # greyed out while running
        await pilot.press("p")
        await until(pilot, lambda: "pausing" in app.last_message, "the pause to be queued")
        hold.set()
        await idle(pilot, app)
        assert app.run_status == "paused"
    assert store_states(store, session.run_id or 0) == {"long": "succeeded", "after": "pending"}


async def test_roll_back_a_step_runs_its_rollback_for_real(store: Store, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    proxy = PrompterProxy()
    steps = [{"id": "make", "command": f"touch {work}/made", "rollback": {"command": f"rm {work}/made"}}]
    session = session_for(store, plan_of(steps), local_executors(tmp_path, proxy), proxy)
    app = app_for(session)
    async with app.run_test(size=(80, 24)) as pilot:
        await idle(pilot, app)
        await press_and_idle(pilot, app, "n")
        assert (work / "made").exists()
        # The reason first, then the engine's own confirmation (rollback_step asks it).
        await pilot.press("b")
        assert isinstance(app.screen, ReasonModal)
        await enter_text(pilot, app, "rehearse the way back")
        await until(pilot, lambda: isinstance(app.screen, ConfirmModal), "the engine's confirmation")
        assert f"rm {work}/made" in screen_text(app)
        await press_and_idle(pilot, app, "y")
        assert app.statuses["make"].state == "rolled_back"
    assert not (work / "made").exists()
    entry = store.journal(session.run_id or 0, "make")[-1]
    assert entry.trigger == "roll_back" and "rehearse the way back" in entry.reason


async def test_a_rollback_asked_while_a_step_runs_is_applied_after_it_then_the_run_pauses(
    store: Store,
) -> None:
    hold = threading.Event()
    steps = [
        {"id": "make", "command": "true", "rollback": {"command": "undo"}},
        {"id": "long", "command": "true"},
        {"id": "after", "command": "true"},
    ]
    runner = ScriptedExecutor({"long": Scripted(hold=hold)})
    session = session_for(store, plan_of(steps), runner)
    run_id = session.run_id or 0
    app = app_for(session)
    async with app.run_test(size=(80, 24)) as pilot:
        await idle(pilot, app)
        await press_and_idle(pilot, app, "n")
        await pilot.press("u")  # long and after
        await until(pilot, lambda: app.statuses.get("long") is not None
                    and app.statuses["long"].state == "running", "the step to run")  # fmt: skip
        app.table.select_step("make")
        assert app.check_action("rollback", ()) is True  # allowed while running: it is queued
        await pilot.press("b")
        await enter_text(pilot, app, "undo before going on")
        await until(pilot, lambda: "queued" in app.last_message, "the rollback to be queued")
        assert runner.rolled_back["make"] == 0
        hold.set()  # long ends; the runner applies the rollback, whose confirmation comes up
        await until(pilot, lambda: isinstance(app.screen, ConfirmModal), "the engine's confirmation")
        await press_and_idle(pilot, app, "y")
        assert app.run_status == "paused"
    assert runner.rolled_back["make"] == 1
    assert store_states(store, run_id) == {"make": "rolled_back", "long": "succeeded", "after": "pending"}


async def test_every_action_is_in_the_command_palette(store: Store) -> None:
    session = session_for(store, plan_of(STEPS), ScriptedExecutor())
    app = app_for(session)
    async with app.run_test(size=(80, 24)) as pilot:
        await idle(pilot, app)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"run the next")

        def hits() -> list[str]:
            return [str(o.prompt) for ol in app.screen.query(OptionList) for o in ol.options]

        await until(pilot, lambda: any("Run the next step" in h for h in hits()), "the palette hit")
        assert not any("Pause" in h for h in hits())  # not possible when idle: not offered
        await press_and_idle(pilot, app, "enter")
    assert store_states(store, session.run_id or 0) == {"long": "succeeded", "after": "pending"}


async def test_a_step_on_the_loopback_sshd_streams_its_output(
    store: Store, tmp_path: Path, sshd: SshdServer
) -> None:
    inventory = Inventory.model_validate(
        {
            "name": "tui-lab",
            "environment": "lab",
            "known_hosts": str(sshd.known_hosts_path),
            "hosts": {
                "lab1": {
                    "address": sshd.host,
                    "port": sshd.port,
                    "user": sshd.user,
                    "key": str(sshd.key_path),
                    "agent": False,
                }
            },
        }
    )
    steps = [
        {"id": "remote", "kind": "ssh", "host": "lab1", "command": "for i in 1 2 3; do echo remote-$i; done"},
        {"id": "broken", "kind": "ssh", "host": "lab1", "command": "echo oops >&2; exit 4"},
    ]
    proxy = PrompterProxy()
    plan = plan_of(steps, inventory=inventory)
    session = session_for(store, plan, local_executors(tmp_path, proxy, inventory), proxy)
    app = app_for(session)
    async with app.run_test(size=(100, 30)) as pilot:
        await idle(pilot, app)
        await press_and_idle(pilot, app, "u")
        assert app.statuses["remote"].state == "succeeded"
        assert app.statuses["broken"].state == "failed"
        shown = "\n".join(app.output_log.lines)
        assert "oops" in shown
        app.query_one("#steps").focus()
        await pilot.press("down", "up")  # off and back to `remote`: its stored output is loaded
        await until(pilot, lambda: "remote-3" in "\n".join(app.output_log.lines), "stored output")
    session.close()
