"""Summaries are derived, never read stale (issue 13, item 5), as an operator meets them:
`python -m migrator` in a subprocess on a real plan and a real SQLite file.

Each of these was seen on main before the fix: `status` said "needs a confirmation" while the
run was running again (and after it was interrupted by Ctrl-C); the change record said
"aborted: aborted: ...", "Inventory: lab (production)" once a lab inventory file was gone,
"08:00 UTC" for a window starting 08:00+01:00, "step X is in doubt" after X was marked done,
and "Confirmed by" under a checklist the operator left unticked.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from migrator.store.db import Store
from migrator.store.dto import Evidence, Move

ROOT = Path(__file__).resolve().parents[2]

PLAN = """\
name: stale
title: Stale summaries
inventory: prod.yaml
window: {{start: "2026-12-05T08:00:00+01:00", length: 4h}}
phases:
- id: ph
  title: Ph
  where: window
  steps:
  - id: first
    title: First
    kind: local
    destructive: true
    rollback: {{command: "true"}}
    command: "true"
    estimate: 1m
  - id: wait
    title: Wait for go
    kind: local
    command: "touch {work}/waiting; while [ ! -f {work}/go ]; do sleep 0.1; done"
    estimate: 1m
"""


def _setup(tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    work = tmp_path / "work"
    work.mkdir()
    (tmp_path / "lab.yaml").write_text("name: lab\nenvironment: lab\nhosts: {}\n")
    (tmp_path / "prod.yaml").write_text("name: prod\nenvironment: production\nhosts: {}\n")
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN.format(work=work))
    env = {k: v for k, v in os.environ.items() if k not in ("TTY_COMPATIBLE", "FORCE_COLOR")}
    env["MIGRATOR_DB"] = str(tmp_path / "state.db")
    return plan, work, env


def migrator(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "migrator", *args], cwd=ROOT, env=env, capture_output=True, text=True,
        stdin=subprocess.DEVNULL, timeout=120, check=False,
    )  # fmt: skip


def _background(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "migrator", *args], cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _wait_for(path: Path, proc: subprocess.Popen[str]) -> None:
    for _ in range(1200):  # a busy machine: up to 2 minutes
        if path.exists():
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.1)
    raise AssertionError(f"{path} never appeared")


def _paused_for_a_confirmation(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    plan, work, env = _setup(tmp_path)
    first = migrator("run", str(plan), "--inventory", str(tmp_path / "lab.yaml"), env=env)
    assert first.returncode != 0 and "needs a confirmation" in first.stderr, first.stdout + first.stderr
    assert "needs a confirmation" in migrator("status", "1", env=env).stdout.splitlines()[0]
    return work, env


def test_status_of_a_run_running_again_does_not_say_how_it_last_stopped(tmp_path: Path) -> None:
    work, env = _paused_for_a_confirmation(tmp_path)
    resume = _background("resume", "1", "--yes", env=env)
    try:
        _wait_for(work / "waiting", resume)
        headline = migrator("status", "1", env=env).stdout.splitlines()[0]
        assert " running " in headline and "needs a confirmation" not in headline
        assert headline.endswith("step wait running")
        runs = migrator("runs", env=env).stdout
        assert "needs a confirmation" not in runs
    finally:
        (work / "go").touch()
        out, err = resume.communicate(timeout=120)
    assert resume.returncode == 0, out + err


@pytest.mark.usefixtures("ctrl_c_reaches_children")  # else, run with SIGINT ignored, it hung (CI)
def test_status_after_ctrl_c_says_what_the_store_holds_not_the_last_question(tmp_path: Path) -> None:
    work, env = _paused_for_a_confirmation(tmp_path)
    resume = _background("resume", "1", "--yes", env=env)
    _wait_for(work / "waiting", resume)
    resume.send_signal(signal.SIGINT)  # the operator's Ctrl-C
    resume.communicate(timeout=120)
    assert resume.returncode == 130
    headline = migrator("status", "1", env=env).stdout.splitlines()[0]
    assert "needs a confirmation" not in headline


def test_the_change_record_of_an_aborted_lab_rehearsal(tmp_path: Path) -> None:
    _, env = _paused_for_a_confirmation(tmp_path)
    assert migrator("abort", "1", "--reason", "no more", env=env).returncode == 0
    (tmp_path / "lab.yaml").unlink()  # a lab's inventory is gone once the lab is torn down
    record = migrator("report", "1", env=env)
    assert record.returncode == 0, record.stderr
    rows = {line.split("|")[1].strip(): line.split("|")[2].strip() for line in record.stdout.splitlines()
            if line.startswith("| ") and line.count("|") == 3}  # fmt: skip
    assert rows["Status"] == "aborted: no more"
    assert rows["Inventory"] == "lab (lab)"
    assert rows["Window"] == "4h from 2026-12-05 08:00 +01:00 (2026-12-05 07:00:00 UTC)"
    assert migrator("status", "1", env=env).stdout.splitlines()[0].endswith("UTC no more")


def test_a_step_marked_done_since_is_no_longer_reported_in_doubt(tmp_path: Path) -> None:
    """A run paused on a step in doubt; the step was marked done since (the TUI marks it on a
    paused run without running anything): the stored summary names a settled step."""
    _, env = _paused_for_a_confirmation(tmp_path)
    store = Store.open(env["MIGRATOR_DB"])
    now = datetime.now(UTC)
    try:
        crashed = [
            Move(1, "first", "start", "pending", "prechecking", "op", now),
            Move(1, "first", "precheck_ok", "prechecking", "ready", "op", now),
            Move(1, "first", "launch", "ready", "running", "op", now, attempt=1),
            Move(1, "first", "crash_found", "running", "in_doubt", "op", now, attempt=1),
        ]
        store.record(crashed)
        store.update_run(1, summary="step first is in doubt (it has no post-checks); resolve it")
        assert "is in doubt" in migrator("status", "1", env=env).stdout.splitlines()[0]
        store.record([Move(1, "first", "mark_done", "in_doubt", "succeeded", "op", now, "checked by hand",
                           attempt=1)])  # fmt: skip
        store.add_evidence(Evidence(1, "first", 1, now, "op", "[x] one\n[ ] two", ["one", "two"]))
    finally:
        store.close()
    headline = migrator("status", "1", env=env).stdout.splitlines()[0]
    assert "in doubt" not in headline and headline.endswith("1 step(s) pending")
    record = migrator("report", "1", env=env).stdout
    status_row = next(line for line in record.splitlines() if line.startswith("| Status |"))
    assert "in doubt" not in status_row and "1 step(s) pending" in status_row
    # The evidence with an unticked item confirms nothing.
    assert "Confirmed by" not in record
    assert "NOT confirmed: two left unticked; recorded by op at" in record
