"""Dry-run, preflight and verify: checks only, never an action; honest verdicts."""

from __future__ import annotations

from pathlib import Path

from migrator.engine.dryrun import dry_run, preflight, verify
from migrator.engine.runner import RunOptions, start_run
from migrator.store.db import Store
from tests.engine.doubles import ShellRunner, check, loaded

STEPS = [
    {"id": "made", "host": "a", "command": "touch made", "done_when": [check("test -f made")],
     "post": [check("test -f made")]},
    {"id": "make-dir", "host": "a", "command": "mkdir d", "done_when": [check("test -d d")],
     "post": [check("test -d d")]},
    {"id": "fill", "host": "a", "command": "touch d/f", "pre": [check("test -d d")],
     "post": [check("test -f d/f")]},
    {"id": "free", "host": "c", "command": "true", "depends_on": [], "pre": [check("true")]},
    {"id": "broken", "host": "b", "command": "true", "depends_on": [], "pre": [check("test -f never-there")]},
]  # fmt: skip


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
        "fill": ("cannot_know", "make-dir"),  # on the same host, before it, not done
        "free": ("would_run", None),
        "broken": ("would_fail", None),  # nothing before it acts on host b
    }
    assert "cannot know until step 2 (make-dir)" in report.verdicts[2].detail
    assert not report.go
    run = store.run(report.run_id)
    assert (run.mode, run.status) == ("dry-run", "completed")
    assert store.steps(report.run_id)[0].summary.startswith("already_done")
    assert not (work / "d").exists()


def test_post_checks_alone_never_make_a_step_already_done(store: Store, work: Path) -> None:
    """Without done_when a step is never already done, even when its post-checks hold now."""
    (work / "made").touch()
    steps = [{"id": "made", "command": "touch made", "post": [check("test -f made")]}]
    report = dry_run(store, loaded(steps), NoExecute(work))
    assert [v.verdict for v in report.verdicts] == ["would_run"]


def test_a_probe_that_cannot_tell_is_never_already_done(store: Store, work: Path) -> None:
    steps = [
        {"id": "create", "host": "a", "command": "true", "done_when": [check("no-such-pct status 102")]},
        {
            "id": "other",
            "host": "b",
            "command": "true",
            "depends_on": [],
            "pre": [check("no-such-zpool list")],
        },
    ]
    report = dry_run(store, loaded(steps), NoExecute(work))
    got = {v.step_id: v for v in report.verdicts}
    assert got["create"].verdict == "cannot_tell", got["create"]
    assert got["other"].verdict == "cannot_tell"
    assert got["create"].failing[0].outcome == "cannot_tell"
    assert "no-such-pct" in got["create"].detail
    assert not report.go
    outcomes = {c.outcome for c in store.checks(report.run_id)}
    assert outcomes == {"cannot_tell"}


def test_done_when_holding_before_an_earlier_step_is_not_already_done(store: Store, work: Path) -> None:
    """A reinstall (an earlier not-done step on the same host) can undo what holds now."""
    (work / "repo").touch()
    steps = [
        {"id": "reinstall", "host": "a", "command": "rm -f repo"},
        {"id": "clone", "host": "a", "command": "touch repo", "done_when": [check("test -f repo")]},
    ]
    report = dry_run(store, loaded(steps), NoExecute(work))
    clone = report.verdicts[1]
    assert (clone.verdict, clone.until) == ("cannot_know", "reinstall")


def test_cannot_know_names_the_step_that_acts_where_the_check_looks(store: Store, work: Path) -> None:
    steps = [
        {"id": "other-host", "host": "b", "command": "true"},
        {"id": "waits", "host": "local", "command": "true"},
        {"id": "install", "host": "a", "command": "true"},
        {"id": "uses", "host": "a/ct:102", "command": "true", "pre": [check("test -f never-there")]},
    ]
    report = dry_run(store, loaded(steps), NoExecute(work))
    uses = report.verdicts[3]
    assert (uses.verdict, uses.until) == ("cannot_know", "install"), uses
    assert "cannot know until step 3 (install)" in uses.detail


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


def test_a_reinstall_of_the_host_hides_the_steps_before_it(store: Store, work: Path) -> None:
    """cannot_know names the reinstall, not the first step that happens to act on the host."""
    steps = [
        {"id": "read-crontab", "host": "a", "command": "true"},
        {"id": "install", "host": "a", "kind": "manual", "instructions": "reinstall a",
         "lab_effect": "reinstall"},
        {"id": "vmbr1", "host": "a", "command": "true", "done_when": [check("no-such-grep vmbr1")]},
    ]
    report = dry_run(store, loaded(steps), NoExecute(work))
    vmbr1 = report.verdicts[2]
    assert (vmbr1.verdict, vmbr1.until) == ("cannot_know", "install"), vmbr1
    assert "cannot know until step 2 (install)" in vmbr1.detail


def test_a_failing_check_nothing_can_change_decides(store: Store, work: Path) -> None:
    """One pre-check waits for an earlier step, another fails where nothing acts: would_fail."""
    steps = [
        {"id": "make", "host": "a", "command": "true"},
        {"id": "use", "host": "a", "command": "true",
         "pre": [check("test -f never-there"),
                 check("test -f nor-this", probe_from="b", description="nor-this is there")]},
    ]  # fmt: skip
    report = dry_run(store, loaded(steps), NoExecute(work))
    assert report.verdicts[1].verdict == "would_fail", report.verdicts[1]
    assert "nor-this" in report.verdicts[1].detail
