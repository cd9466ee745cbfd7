"""A detached ``rsync --info=progress2`` on a lab host (real sshd in this module's netns), seen in
the TUI (issue 14): by an observer TUI while ``migrator run`` drives the run in another process
(the observer gets no events: it shows the engine's latest stored sample of the running step),
and by the TUI that drives the run itself. Both see the bar's percentage move, an ETA in the
detail pane, then the step done; the samples are in the store."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from migrator.cli.tui import open_tui_session
from migrator.engine.session.interactive import session_plan
from migrator.store.db import Store
from migrator.store.progress import samples
from tests.lab.conftest import RunningLab
from tests.tui.screen import squeezed, widget_lines
from tui.app import MigratorApp

REPO = Path(__file__).resolve().parents[2]
SIZE = (100, 30)

PLAN = """\
name: {name}
title: A detached rsync with progress, watched in the TUI
inventory: {inventory}
phases:
- id: ph
  title: Ph
  where: before
  steps:
  - id: make-data
    title: 150 MB of data to copy on off2
    kind: ssh
    host: off2
    idempotent: true
    command: >-
      rm -rf /srv/{name}-src /srv/{name}-dst && mkdir -p /srv/{name}-src /srv/{name}-dst &&
      for i in 1 2 3 4 5 6; do head -c 25M /dev/urandom > /srv/{name}-src/part$i; done
  - id: presync
    title: Copy it, detached, at 15 MB/s (about 10 s)
    kind: ssh
    host: off2
    detach: true
    timeout: 10m
    command: "rsync -a --info=progress2 --bwlimit=15m /srv/{name}-src/ /srv/{name}-dst/"
    post:
    - {{kind: command, command: "test -s /srv/{name}-dst/part6"}}
"""


def write_plan(lab: RunningLab, tmp_path: Path, name: str) -> Path:
    plan = tmp_path / f"{name}.yaml"
    plan.write_text(PLAN.format(name=name, inventory=lab.dir / "inventory.yaml"))
    return plan


class Seen:
    """What the TUI showed for ``presync`` each time the test looked: the percent in its row,
    and whether the detail pane (the step selected) showed an ETA."""

    def __init__(self, app: MigratorApp) -> None:
        self.app = app
        self.percents: list[int] = []
        self.eta_lines: list[str] = []

    def look(self) -> None:
        cell = str(self.app.table.get_cell("presync", "time"))
        found = re.search(r"(\d+)%", cell)
        if found and (not self.percents or self.percents[-1] != int(found.group(1))):
            self.percents.append(int(found.group(1)))
        if self.app.selected_step() == "presync":
            text = squeezed("".join(widget_lines(self.app, self.app.detail.body)))  # wrapped anywhere
            match = re.search(r"\][1-9]\d*%[^\]]*ETA\d+:\d\d", text)  # mid-copy, not the first 0%
            if match:
                self.eta_lines.append(match.group(0))

    def moving(self) -> bool:
        return len(set(self.percents)) >= 2 and bool(self.eta_lines)


async def watch(pilot: Any, app: MigratorApp, seen: Seen, done: Any, limit: float = 120.0) -> None:
    """Look at the screen every 50 ms until ``done()``; fail (not hang) after ``limit`` s."""
    deadline = time.monotonic() + limit
    while not done():
        if app.selected_step() != "presync" and app.statuses.get("presync") is not None:
            app.table.select_step("presync")  # the operator puts the cursor on the copy
        seen.look()
        status = app.statuses.get("presync")
        ended = status is not None and status.state in ("succeeded", "failed") and not done()
        assert not ended, f"presync ended first; seen {seen.percents} {seen.eta_lines}"
        assert time.monotonic() < deadline, f"never happened: {done}; seen {seen.percents} {seen.eta_lines}"
        await pilot.pause(0.05)


def check_samples(db: Path, run_id: int) -> None:
    store = Store.open(str(db))
    try:
        stored = samples(store, run_id, "presync")
    finally:
        store.close()
    fractions = [s.fraction for s in stored if s.fraction is not None]
    assert len(fractions) >= 3 and fractions == sorted(fractions) and fractions[-1] == 1.0
    assert any(s.eta for s in stored) and any(s.rate for s in stored)


async def test_an_observer_tui_sees_the_progress_of_a_step_another_process_runs(
    lab: RunningLab, tmp_path: Path
) -> None:
    plan = write_plan(lab, tmp_path, "observed")
    db = tmp_path / "state.db"
    env = {**os.environ, "MIGRATOR_CRASH_DIR": str(tmp_path)}
    argv = [sys.executable, "-m", "migrator", "run", str(plan), "--db", str(db), "--yes"]
    store = Store.open(str(db))  # the schema first: the CLI and the observer share the file
    driver = subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True)  # fmt: skip
    try:
        try:
            deadline = time.monotonic() + 120
            while not any(r.step_id == "presync" and r.state == "running" for r in store.steps(1)):
                assert driver.poll() is None, driver.communicate()[0][-3000:]
                assert time.monotonic() < deadline, "the CLI never started the copy"
                time.sleep(0.05)
            loaded = session_plan(store, str(plan), None, run_id=1, observe=True)
            session = open_tui_session(store, loaded, run_id=1, observe=True)
            try:
                assert session.observer
                app = MigratorApp(session, poll_interval=0.2)
                async with app.run_test(size=SIZE) as pilot:
                    seen = Seen(app)
                    await watch(pilot, app, seen, seen.moving)
                    # the CLI finishes the copy: the observer shows the step done, the bar gone
                    await watch(pilot, app, seen, lambda: app.statuses["presync"].state == "succeeded")
                    await pilot.pause(0.3)
                    assert "%" not in str(app.table.get_cell("presync", "time"))
                    assert "ETA" not in "".join(widget_lines(app, app.detail.body))
                    assert seen.percents == sorted(seen.percents), seen.percents
            finally:
                session.close()
        finally:
            store.close()
        out, _ = driver.communicate(timeout=120)
        assert driver.returncode == 0, out[-3000:]
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()
    check_samples(db, 1)


async def test_the_tui_that_runs_a_detached_rsync_shows_its_progress_moving(
    lab: RunningLab, tmp_path: Path
) -> None:
    plan = write_plan(lab, tmp_path, "driven")
    db = tmp_path / "state.db"
    store = Store.open(str(db))
    try:
        loaded = session_plan(store, str(plan), None, run_id=None, observe=False)
        session = open_tui_session(store, loaded)
        try:
            assert not session.observer
            app = MigratorApp(session)
            async with app.run_test(size=SIZE) as pilot:
                await pilot.pause()
                await pilot.press("u")  # run to the phase's end: make the data, then copy it
                seen = Seen(app)
                await watch(pilot, app, seen, seen.moving)
                await watch(pilot, app, seen, lambda: app.statuses["presync"].state == "succeeded")
                await watch(pilot, app, seen, lambda: app.busy is None)
                assert "%" not in str(app.table.get_cell("presync", "time"))
                assert "ETA" not in "".join(widget_lines(app, app.detail.body))
                assert seen.percents == sorted(seen.percents), seen.percents
                run_id = app.run_id
                assert run_id is not None
        finally:
            session.close()
    finally:
        store.close()
    check_samples(db, run_id)
