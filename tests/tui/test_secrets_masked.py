"""What ``migrator tui`` opens (``open_session``: a real plan file, the executors built as for
``migrator run``) masks an ``env:`` secret that the action and its rollback echo: on screen,
in the stored output and journal, and in the raw SQLite files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from migrator.cli.tui import open_tui_session
from migrator.engine.session.compose import load
from migrator.secrets import MASK
from migrator.store.db import Store
from tests.tui.conftest import OPEN_SESSIONS, app_for, enter_text, idle, press_and_idle, until
from tests.tui.screen import shows, widget_lines
from tui.screens.modals import ConfirmModal

PLAN = """\
name: secret-tui
title: A secret echoed by a step and by its rollback
inventory: inventory.yaml
phases:
- id: ph
  title: Ph
  where: window
  steps:
  - id: login
    title: Log in with the token
    kind: local
    secrets: {{TOKEN: "env:MIGRATOR_TUI_TOKEN"}}
    command: 'echo "logged in with $TOKEN" > {work}/login; cat {work}/login'
    rollback:
      command: 'echo "logging out $TOKEN"; rm {work}/login'
"""


async def test_a_secret_echoed_by_the_action_and_the_rollback_is_masked(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = "tok-" + os.urandom(12).hex()
    monkeypatch.setenv("MIGRATOR_TUI_TOKEN", token)
    work = tmp_path / "work"
    work.mkdir()
    (tmp_path / "inventory.yaml").write_text("name: lab\nenvironment: lab\nhosts: {}\n")
    (tmp_path / "plan.yaml").write_text(PLAN.format(work=work))
    session = open_tui_session(store, load(str(tmp_path / "plan.yaml"), None))
    OPEN_SESSIONS.append(session)
    run_id = session.run_id
    assert run_id is not None
    app = app_for(session)
    async with app.run_test(size=(100, 30)) as pilot:
        await idle(pilot, app)
        await press_and_idle(pilot, app, "n")
        assert store.run(run_id).status == "completed"
        assert (work / "login").read_text() == f"logged in with {token}\n"  # the real value was used
        await pilot.press("b")
        await enter_text(pilot, app, "rehearse logging out")
        await until(pilot, lambda: isinstance(app.screen, ConfirmModal), "the engine's confirmation")
        await press_and_idle(pilot, app, "y")
        assert app.statuses["login"].state == "rolled_back"
        shown = "\n".join(app.output_log.lines)
    assert not (work / "login").exists()
    session.close()

    assert token not in shown and f"logging out {MASK}" in shown
    stored = [line for chunk in store.output(run_id, "login") for line in chunk.lines]
    assert f"logged in with {MASK}" in stored and f"logging out {MASK}" in stored
    assert not any(token in line for line in stored)
    assert not any(token in e.reason for e in store.journal(run_id))
    # The engine masks with the executors' Redactor: text it records later knows the value too.
    assert session.redactor(f"summary {token}") == f"summary {MASK}"
    store.close()
    for suffix in ("", "-wal", "-shm"):
        path = tmp_path / f"state.db{suffix}"
        if path.exists():
            assert token.encode() not in path.read_bytes()


COMMAND_PLAN = """\
name: command-tui
title: The command as run, in the detail pane
inventory: inventory.yaml
phases:
- id: ph
  title: Ph
  where: window
  steps:
  - id: mint
    title: Name a host and mint a token
    kind: local
    command: 'echo "host: web-$(echo 42)"; echo "token: $(cat {work}/token_source)"'
    outputs:
      host: {{regex: "host: (\\\\S+)"}}
      token: {{regex: "token: (\\\\S+)", secret: true}}
  - id: use
    title: Use both
    kind: local
    secrets: {{TOKEN: "env:MIGRATOR_TUI_TOKEN"}}
    command: >-
      printf '%s %s %s' {{{{ outputs.mint.host }}}} "$TOKEN" "{{{{ outputs.mint.token }}}}" > {work}/got
"""


async def test_the_detail_pane_shows_the_command_as_run_with_secrets_masked(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not the plan's text with ``{{ outputs... }}`` unresolved: the command the engine
    rendered for the attempt, the plain output's value in it, the secret output as ***."""
    token, minted = "tok-" + os.urandom(12).hex(), "min-" + os.urandom(12).hex()
    monkeypatch.setenv("MIGRATOR_TUI_TOKEN", token)
    work = tmp_path / "work"
    work.mkdir()
    (work / "token_source").write_text(minted)
    (tmp_path / "inventory.yaml").write_text("name: lab\nenvironment: lab\nhosts: {}\n")
    (tmp_path / "plan.yaml").write_text(COMMAND_PLAN.format(work=work))
    session = open_tui_session(store, load(str(tmp_path / "plan.yaml"), None))
    OPEN_SESSIONS.append(session)
    app = app_for(session)
    async with app.run_test(size=(160, 48)) as pilot:
        await idle(pilot, app)
        await press_and_idle(pilot, app, "n")
        await press_and_idle(pilot, app, "n")
        assert app.statuses["use"].state == "succeeded"
        app.table.select_step("use")
        await idle(pilot, app)
        ran = f"""printf '%s %s %s' web-42 "$TOKEN" "{MASK}" > {work}/got"""
        assert shows(app, app.detail, "action as run (attempt 1)")
        assert shows(app, app.detail, ran)
        pane = "".join(widget_lines(app, app.detail))
    session.close()
    assert (work / "got").read_text() == f"web-42 {token} {minted}"
    assert "{{ outputs" not in pane and token not in pane and minted not in pane
    store.close()
