"""Typing at 2 a.m. while a step runs (issue 17, item 2): an operator types text full of the
run keys (a, r, n, q, s, d, b, u, p) into every input and dialog, one key every 20 ms (the
pilot presses each key and pauses), while the real engine runs a step that reports its
progress several times a second. No run shortcut may fire (no ABORT opened by itself, no
quit, no second dialog) and no keystroke may be lost: what the journal records is exactly
what was typed. The issue saw an ABORT confirmation open by itself once on c33c810."""

from __future__ import annotations

import threading
import time
from typing import Any

from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Input

from migrator.executors.base import ActionOutcome, StepContext
from migrator.executors.progress import Progress
from migrator.executors.scripted import ScriptedExecutor
from migrator.plan.model import Step
from migrator.store.db import Store
from tests.tui.conftest import app_for, idle, plan_of, session_for, until
from tui.app import MigratorApp
from tui.facade import ChecklistReply
from tui.screens.modals import ChecklistModal, ReasonModal, TypeNameModal

SIZE = (80, 24)
GAP = 0.02
KEY_NAMES = {" ": "space", "\t": "tab", "-": "minus", ";": "semicolon", ",": "comma", ":": "colon"}
REASON = "ran a quick scan; nothing runs there any more, skip: apps were moved"
ABORT_REASON = "abort: run paused at a bad moment; narrow window, quit now"


class Copying(ScriptedExecutor):
    """A long step: reports its progress twice a second (messages keep reaching the app while
    the operator types) until the test lets it end."""

    def __init__(self) -> None:
        super().__init__()
        self.go_on = threading.Event()

    def execute(self, step: Step, ctx: StepContext) -> ActionOutcome:
        if step.id == "copy":
            deadline = time.monotonic() + 900  # a failed test must not leave it running
            done = 0
            while not self.go_on.wait(0.5) and time.monotonic() < deadline:
                done = min(done + 1, 999)
                ctx.on_progress(Progress(done / 1000, done * 1000, 1_000_000, 1000.0, 1000.0 - done))
        return super().execute(step, ctx)


async def type_slowly(pilot: Pilot[Any], text: str) -> None:
    """One key at a time, 20 ms apart, as the issue asks."""
    for char in text:
        await pilot.press(KEY_NAMES.get(char, char))
        await pilot.pause(GAP)


def _only_dialog(app: MigratorApp, modal: Screen[Any]) -> None:
    """The one dialog opened is still the one on top: no shortcut opened another or quit."""
    assert app.is_running and app.screen is modal and len(app.screen_stack) == 2, app.screen_stack


async def test_text_typed_in_dialogs_while_a_step_runs_fires_nothing_and_loses_nothing(
    store: Store,
) -> None:
    runner = Copying()
    steps = [
        {"id": "copy", "command": "rsync -a --info=progress2 /srv/ off2:/srv/"},
        {"id": "later", "command": "true"},
        {"id": "last", "command": "true"},
    ]
    session = session_for(store, plan_of(steps), runner)
    app = app_for(session)
    async with app.run_test(size=SIZE) as pilot:
        try:
            await _drive(pilot, app, runner)
        finally:
            runner.go_on.set()  # the step ends whatever happened (a failed test must not hang)
        await idle(pilot, app)
    _check_journal(store, app)


async def _drive(pilot: Pilot[Any], app: MigratorApp, runner: Copying) -> None:
    await pilot.press("n")
    await until(pilot, lambda: "copy" in app.progress, "the step to run and report progress")
    assert app.busy == "run_next"

    # Skip a later step: the reason dialog (an input) takes the typed text.
    app.table.select_step("later")
    await pilot.pause()
    await pilot.press("s")
    await until(pilot, lambda: isinstance(app.screen, ReasonModal), "the reason dialog")
    modal = app.screen
    await type_slowly(pilot, REASON)
    _only_dialog(app, modal)
    assert modal.query_one(Input).value == REASON
    await pilot.press("enter")
    await until(pilot, lambda: app.screen is app.screen_stack[0], "the dialog to close")

    # The engine's dialogs, as the bridge opens them while it runs: a destructive step's
    # host name, then a manual step's checklist with its evidence.
    answers: list[Any] = []
    host = "qa-run-box"  # a host name of run keys: each letter must reach the input
    typed = TypeNameModal(f"Step wipe is destructive. Type {host}", host)
    app.push_screen(typed, answers.append)
    await until(pilot, lambda: app.screen is typed, "the host name dialog")
    await type_slowly(pilot, host)
    _only_dialog(app, typed)
    assert typed.query_one(Input).value == host
    await pilot.press("enter")
    await until(pilot, lambda: answers == [True], "the host name accepted")

    checklist = ChecklistModal("hardware", "Unplug both PSUs.", ["PSUs unplugged", "cables photographed"])
    app.push_screen(checklist, answers.append)
    # A space ticks only once the operator is on an item (one typed before is no answer).
    await until(pilot, lambda: checklist.focused is not None, "the checklist's first item")
    evidence = "saw both psu leds dark; photo in ticket ops-42, a quick run"
    await type_slowly(pilot, " \t \t")  # tick, next item, tick, to the evidence
    await type_slowly(pilot, evidence)
    _only_dialog(app, checklist)
    await pilot.press("ctrl+s")
    await until(pilot, lambda: len(answers) == 2, "the checklist answered")
    assert answers[1] == ChecklistReply([True, True], evidence)

    # Abort after the current step: y confirms, then the reason is typed the same way.
    await pilot.press("a")
    await until(pilot, lambda: app.screen is not app.screen_stack[0], "the ABORT confirmation")
    await pilot.press("y")
    await until(pilot, lambda: isinstance(app.screen, ReasonModal), "the abort reason")
    modal = app.screen
    await type_slowly(pilot, ABORT_REASON)
    _only_dialog(app, modal)
    await pilot.press("enter")
    await until(pilot, lambda: app.screen is app.screen_stack[0], "the dialog to close")
    assert app.busy == "run_next" and "copy" in app.progress, "the step kept running throughout"


def _check_journal(store: Store, app: MigratorApp) -> None:
    run_id = app.run_id
    assert run_id is not None
    journal = store.journal(run_id)
    skipped = [e for e in journal if e.step_id == "later" and e.to_state == "skipped"]
    assert [e.reason for e in skipped] == [f"operator: {REASON}"], [(e.trigger, e.reason) for e in journal]
    assert store.run(run_id).status == "aborted"
    assert any(ABORT_REASON in e.reason for e in journal if e.step_id is None), [
        (e.trigger, e.reason) for e in journal if e.step_id is None
    ]
    assert [r.state for r in store.steps(run_id) if r.step_id == "copy"] == ["succeeded"]


async def test_keys_typed_as_a_dialog_opens_go_into_its_input() -> None:
    """The engine opens its dialog at a moment of its own, maybe mid-word: the first keys come
    before the focus lands on the dialog's input. They went nowhere (or to the app's keys: a
    "q" there quit from under the dialog); now they are the input's first characters."""
    from tests.tui.scenes import RUNNING, FrozenSession, _settle, make_app, real_plan

    app = make_app(FrozenSession(real_plan(), RUNNING))
    async with app.run_test(size=SIZE) as pilot:
        await _settle(pilot)
        for modal in (TypeNameModal("Step wipe is destructive. Type qa-run-box", "qa-run-box"),
                      ReasonModal("Skip step later: why?")):  # fmt: skip
            answers: list[Any] = []
            app.push_screen(modal, answers.append)
            await type_slowly(pilot, "qa-run-box")  # no wait for the dialog to settle first
            _only_dialog(app, modal)
            assert modal.query_one(Input).value == "qa-run-box"
            await pilot.press("enter")
            await _settle(pilot)
            assert answers == [True if isinstance(modal, TypeNameModal) else "qa-run-box"]
