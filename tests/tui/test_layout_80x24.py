"""The window screen at 80x24 on the team's real plans: nothing the operator must read is
cut (issue 17, item 1). Each test fails on c33c810, where ids were cut to 17 characters,
the host column sat behind a scrollbar, the footer dropped Quit, and modals had a fixed
width with one-line checklist items."""

from __future__ import annotations

from typing import Any

import pytest
from textual.widgets import Footer

from tests.tui.scenes import RUNNING, FrozenSession, _select, _settle, make_app, real_plan
from tests.tui.screen import screen_lines, shows, squeezed, widget_lines
from tui.app import MigratorApp
from tui.facade import RunView, StepStatus
from tui.screens.modals import ChecklistModal

SIZE = (80, 24)


def _app(name: str = "off1", view: RunView | None = None, **kw: Any) -> MigratorApp:
    return make_app(FrozenSession(real_plan(name), view or RunView(3, "running"), **kw))


def _shown(app: MigratorApp, step_id: str) -> str:
    """The id as the list shows it (c33c810 had no abbreviation: the id itself, maybe cut)."""
    return app.table.shown_id(step_id) if hasattr(app.table, "shown_id") else step_id


def _row_of(app: MigratorApp, step_id: str) -> str:
    """The screen row of the step list that shows ``step_id`` (the cursor is put on it)."""
    shown = _shown(app, step_id)
    rows = [line for line in widget_lines(app, app.table) if f" {shown} " in f"{line} "]
    assert len(rows) == 1, f"{step_id} shown as {shown!r} in {len(rows)} rows"
    return rows[0]


@pytest.mark.parametrize("name", ["off1", "stunnel"])
async def test_every_step_id_and_host_visible_at_80x24(name: str) -> None:
    app = _app(name)
    async with app.run_test(size=SIZE) as pilot:
        await _settle(pilot)
        for step in app.plan.steps:
            app.table.select_step(step.id)
            await pilot.pause()
            row = _row_of(app, step.id)
            assert f" {step.host} " in row, f"host of {step.id} not on its row: {row!r}"
        shown = [_shown(app, s.id) for s in app.plan.steps]
        assert len(set(shown)) == len(shown), "two steps look the same"


def test_abbreviation_keeps_the_distinguishing_end() -> None:
    from tui.widgets.steps import abbreviate

    ids = [
        "stunnel-installed-off2-ct101",
        "stunnel-installed-off2-ct103",
        "stunnel-installed-moji-ct101",
        "mongodb-client-ovh1-ct113-config",
        "mongodb-client-ovh1-ct113-verify",
        "short",
    ]
    for width in range(8, 30):
        shown = abbreviate(ids, width)
        assert len(set(shown.values())) == len(ids), (width, shown)
        assert all(len(v) <= width for v in shown.values()), (width, shown)
        assert shown["short"] == "short"
    assert abbreviate(ids, 16)["stunnel-installed-off2-ct101"].endswith("off2-ct101")


async def test_ids_abbreviated_not_cut_when_the_list_is_narrow() -> None:
    """At 130 columns the list shares the width with the detail pane: ids no longer fit whole,
    and the six stunnel-installed-* rows must still be told apart."""
    app = _app("stunnel")
    async with app.run_test(size=(130, 40)) as pilot:
        await _settle(pilot)
        rows = widget_lines(app, app.table)
        installed = [r for r in rows if "installed" in r]
        ids = [s.id for s in app.plan.steps if s.id.startswith("stunnel-installed-")]
        assert len(installed) >= len(ids)
        cells = [_shown(app, sid) for sid in ids]
        assert len(set(cells)) == len(ids), cells
        for sid, cell in zip(ids, cells, strict=True):
            host = app.plan.step(sid).host
            assert any(cell in r and f" {host} " in r for r in installed), f"{sid} and {host} not on one row"


async def _footer(app: MigratorApp) -> str:
    footer = app.screen.query_one(Footer)
    return "".join(widget_lines(app, footer))


async def test_footer_shows_quit_abort_help_idle_and_running() -> None:
    app = _app()
    async with app.run_test(size=SIZE) as pilot:
        await _settle(pilot)
        text = await _footer(app)
        for key in ("q Quit", "a Abort", "? Help"):
            assert key in text, text
        app.busy = "run_next"  # as while the runner works
        app.refresh_bindings()
        await pilot.pause()
        text = await _footer(app)
        for key in ("q Quit", "a Abort", "? Help"):
            assert key in text, text


@pytest.mark.parametrize("scene", ["destructive", "go-no-go", "checklist", "in-doubt", "reason", "help"])
async def test_footer_shows_quit_abort_help_under_a_dialog(scene: str) -> None:
    """Under every dialog of the real off1 plan at 80x24 the footer still shows Quit, Abort and
    Help, greyed: the dialog's own keys answer it, so none of them fires (on main before this,
    the footer showed only Quit under a dialog, and q quit from under it)."""
    from tests.tui.scenes import SCENES
    from tui.screens.modals import HelpModal, ReasonModal

    if scene == "reason":
        app = _app(view=RUNNING)
        build: Any = lambda: ReasonModal("Skip step hardware: why?")  # noqa: E731
    elif scene == "help":
        app = _app(view=RUNNING)
        build = lambda: HelpModal(["[b]q[/]  Quit"])  # noqa: E731
    else:
        app, before = SCENES[scene]()
        build = None
    async with app.run_test(size=SIZE) as pilot:
        if build is None:
            await before(pilot)
        else:
            await _settle(pilot)
            app.push_screen(build())
            await _settle(pilot)
        modal = app.screen
        assert modal is not app.screen_stack[0]
        text = "".join(widget_lines(app, app.screen_stack[0].query_one(Footer)))
        assert "".join(screen_lines(app)).count("q Quit") == 1  # on screen, not only in the tree
        for key in ("q Quit", "a Abort", "? Help"):
            assert key in text, text
        # Greyed: what the footer draws from says each is shown and disabled.
        shown = app.screen_stack[0].active_bindings
        assert [shown[k].enabled for k in ("q", "a", "question_mark")] == [False] * 3
        if scene != "help":  # the help closes on q and ? (its own keys)
            await pilot.press("q", "a", "question_mark")
            await _settle(pilot)
            assert app.is_running and app.screen is modal and len(app.screen_stack) == 2


async def test_help_lists_the_keys() -> None:
    app = _app()
    async with app.run_test(size=SIZE) as pilot:
        await _settle(pilot)
        await pilot.press("question_mark")
        await _settle(pilot)
        dialog = app.screen.query_one(".dialog")
        assert shows(app, dialog, "Abort the run")
        await pilot.press("escape")
        await _settle(pilot)
        assert app.screen is app.screen_stack[0]


async def test_long_banner_and_status_wrap() -> None:
    reason = "the lease of ops2@bastion:4242 went stale: migrator tui --take-over --reason TEXT"
    app = _app(observer=True, observer_reason=reason)
    async with app.run_test(size=SIZE) as pilot:
        await _settle(pilot)
        text = squeezed("".join(screen_lines(app)))
        assert squeezed("--take-over --reason TEXT") in text
        message = (
            "stopped as selected after step pools-healthy-before; 70 step(s) pending; "
            "next: n runs off2-cluster-ready on off2, u runs to the next manual step"
        )
        app._say(message)
        await pilot.pause()
        assert shows(app, app.status_line, message)


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
async def test_checklist_items_wrap_at_any_size(size: tuple[int, int]) -> None:
    app = _app()
    step = next(s for s in app.plan.steps if s.id == "repoint-consumers")
    items = [line[4:] for line in step.action.splitlines() if line.startswith("[ ] ")]
    assert max(len(i) for i in items) > 100  # the real plan's items are long
    async with app.run_test(size=size) as pilot:
        await _select(pilot, step.id)
        app.push_screen(ChecklistModal(f"{step.id}: {step.title}", step.action.splitlines()[0], items))
        await _settle(pilot)
        dialog = app.screen.query_one(".dialog")
        assert dialog.region.right <= size[0]
        for item in items:
            assert shows(app, dialog, item), item


async def test_destructive_confirmation_shows_the_command_at_80x24() -> None:
    app = _app()
    step = next(s for s in app.plan.steps if s.id == "nvme-partitions")
    assert len(step.action) > 200
    async with app.run_test(size=SIZE) as pilot:
        await _select(pilot, step.id)
        question = f"Step {step.id} is destructive: {step.title}. Type the host name to go on"
        app.push_screen(app._confirm_modal(question, step.host, step.id))
        await _settle(pilot)
        dialog = app.screen.query_one(".dialog")
        body = app.screen.query_one(".dialog-body")
        first = step.action.splitlines()[0]
        assert shows(app, body, first[:60]), widget_lines(app, body)
        assert shows(app, dialog, f"Type {step.host} and press enter")
        assert app.screen.query_one("#typed").region.bottom <= SIZE[1]


async def test_main_scene_fits_80x24_with_running_view() -> None:
    """The made-up scene still renders at 80x24 (regression guard for the narrow layout)."""
    app = make_app(FrozenSession(real_plan(), RUNNING))
    async with app.run_test(size=SIZE) as pilot:
        await _settle(pilot)
        assert app.screen.has_class("narrow")
        assert app.table.region.width == SIZE[0]
        _ = StepStatus
