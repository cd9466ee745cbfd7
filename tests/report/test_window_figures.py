"""One window model (issue 13, item 2), shown three ways on one run: `migrator plan --format
json` before the run, the TUI's clock (pilot) before the first step, and the change record of
the run (`migrator report`, JSON and markdown) give the same window length, in-window work,
slack and ETA. The plan has an after-window phase (the TUI once counted it: "slack -34h") and
two in-window branches (the work is the critical path, not the sum).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from migrator.engine.window import clock_time
from tests.tui.scenes import FrozenSession, _settle
from tests.tui.screen import shows
from tui.app import MigratorApp
from tui.clock import span
from tui.facade import RunView

ROOT = Path(__file__).resolve().parents[2]
WINDOW_START = "2026-12-05T08:00:00+01:00"

PLAN = """\
name: figures
title: Window figures
inventory: lab.yaml
window: {start: "%s", length: 3h}
phases:
- id: before
  title: Before
  where: before
  steps:
  - {id: prepare, title: Prepare, kind: local, command: "true", estimate: 2h}
- id: window
  title: Window
  where: window
  steps:
  - {id: stop, title: Stop, kind: local, command: "true", estimate: 20m}
  - {id: copy-a, title: Copy A, kind: local, command: "true", estimate: 1h, depends_on: [stop]}
  - {id: copy-b, title: Copy B, kind: local, command: "true", estimate: 30m, depends_on: [stop]}
  - {id: start, title: Start, kind: local, command: "true", estimate: 10m, depends_on: [copy-a, copy-b]}
- id: after
  title: After
  where: after
  steps:
  - {id: watch, title: Watch a day, kind: local, command: "true", estimate: 24h}
"""


def migrator(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "migrator", *args], cwd=ROOT, env=env, capture_output=True, text=True,
        stdin=subprocess.DEVNULL, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done


async def test_plan_tui_and_report_give_the_same_window_figures(tmp_path: Path) -> None:
    (tmp_path / "lab.yaml").write_text("name: lab\nenvironment: lab\nhosts: {}\n")
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN % WINDOW_START)
    env = {k: v for k, v in os.environ.items() if k not in ("TTY_COMPATIBLE", "FORCE_COLOR")}
    env["MIGRATOR_DB"] = str(tmp_path / "state.db")

    planned = json.loads(migrator("plan", str(plan), "--format", "json", env=env).stdout)["summary"]
    assert (planned["window_seconds"], planned["downtime_seconds"]) == (3 * 3600, 90 * 60)
    migrator("run", str(plan), env=env)
    doc = json.loads(migrator("report", "1", "--format", "json", env=env).stdout)
    start = doc["window_at_start"]
    assert start["time_left"] == planned["window_seconds"]
    assert start["work_left"] == planned["downtime_seconds"]
    assert start["slack"] == planned["slack_seconds"] == 90 * 60
    opened = datetime.fromisoformat(start["opened"])
    eta = datetime.fromisoformat(start["eta"])
    assert (eta - opened).total_seconds() == planned["downtime_seconds"]
    end = doc["window_at_end"]
    assert end["stopped"] and end["work_left"] == 0  # every step done: the clock stopped at the end

    # The change record's markdown words the same reading.
    zone = datetime.fromisoformat(WINDOW_START).tzinfo
    record = migrator("report", "1", env=env).stdout
    row = next(line for line in record.splitlines() if line.startswith("| Window at the start |"))
    assert "window left 3h" in row and "in-window work left 1h30m" in row and "slack +1h30m" in row
    assert f"ETA {clock_time(eta, now=opened, zone=zone)}" in row

    # The TUI on the same plan before its first step, its clock at the run's start.
    from migrator.estimates import written
    from migrator.plan.load import load_plan
    from tui.planinfo import plan_info

    loaded = load_plan(plan, inventory=tmp_path / "lab.yaml")
    info = plan_info(loaded, mode="rehearsal", operator="op", estimates=written(loaded.plan))
    app = MigratorApp(
        FrozenSession(info, RunView(1, "created")),  # type: ignore[arg-type]
        clock=lambda: opened, tick_interval=3600, flush_interval=3600,
    )  # fmt: skip
    async with app.run_test(size=(160, 40)) as pilot:
        await _settle(pilot)
        for shown in (
            f"window left {span(start['time_left'])}",
            f"in-window work left {span(start['work_left'])}",
            f"ETA {clock_time(eta, now=opened, zone=zone)}",
            f"slack +{span(start['slack'])}",
        ):
            assert shows(app, app.clock_widget, shown), shown
