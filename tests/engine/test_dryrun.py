"""Dry-run, preflight and verify: checks only, never an action; honest verdicts."""

from __future__ import annotations

from pathlib import Path

from migrator.engine.dryrun import dry_run, preflight, verify
from migrator.engine.runner import RunOptions, start_run
from migrator.store.db import Store
from tests.engine.doubles import ShellRunner, check, loaded

STEPS = [
    {"id": "made", "command": "touch made", "post": [check("test -f made")]},
    {"id": "make-dir", "command": "mkdir d", "post": [check("test -d d")]},
    {"id": "fill", "command": "touch d/f", "pre": [check("test -d d")], "post": [check("test -f d/f")]},
    {"id": "free", "command": "true", "depends_on": [], "pre": [check("true")]},
    {"id": "broken", "command": "true", "depends_on": [], "pre": [check("test -f never-there")]},
]


class NoExecute(ShellRunner):
    def execute(self, step, ctx):  # type: ignore[no-untyped-def]
        raise AssertionError("dry-run executed an action")


def test_dry_run_classifies_and_never_executes(store: Store, work: Path) -> None:
    (work / "made").touch()
    runner = NoExecute(work)
    report = dry_run(store, loaded(STEPS), runner)
    verdicts = {v.step_id: (v.verdict, v.until) for v in report.verdicts}
    assert verdicts == {
        "made": ("already_done", None),
        "make-dir": ("would_run", None),
        "fill": ("cannot_know", "make-dir"),
        "free": ("would_run", None),
        "broken": ("would_fail", None),
    }
    assert "cannot know until step 2 (make-dir)" in report.verdicts[2].detail
    assert not report.go
    run = store.run(report.run_id)
    assert (run.mode, run.status) == ("dry-run", "completed")
    assert store.steps(report.run_id)[0].summary.startswith("already_done")
    assert not (work / "d").exists()


def test_preflight_uses_the_latest_run_for_done_steps(store: Store, work: Path) -> None:
    steps = STEPS[:4]
    start_run(store, loaded(steps), ShellRunner(work), None, RunOptions(until_step="make-dir"))
    report = preflight(store, loaded(steps), NoExecute(work))
    verdicts = {v.step_id: v.verdict for v in report.verdicts}
    assert verdicts == {
        "made": "already_done",
        "make-dir": "already_done",
        "fill": "would_run",
        "free": "would_run",
    }
    assert report.go
    assert store.run(report.run_id).mode == "preflight"


def test_verify_detects_drift(store: Store, work: Path) -> None:
    steps = STEPS[:2]
    start_run(store, loaded(steps), ShellRunner(work), None, RunOptions())
    (work / "made").unlink()
    report = verify(store, loaded(steps), NoExecute(work))
    assert [(v.step_id, v.verdict) for v in report.verdicts] == [
        ("made", "drift"),
        ("make-dir", "still_done"),
    ]
    assert not report.go
