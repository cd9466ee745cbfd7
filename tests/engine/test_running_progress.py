"""The one rule a front end without events (the observer TUI) shows progress by: the latest
stored sample of each step that is running now, of its current attempt (real SQLite)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from migrator.engine.progress import running_progress
from migrator.store import dto
from migrator.store.db import Store
from migrator.store.progress import ProgressSample, add_sample

T0 = datetime(2026, 12, 2, 22, 0, tzinfo=UTC)


def sample(step: str, attempt: int, fraction: float, minute: int) -> ProgressSample:
    return ProgressSample(
        step, attempt, T0 + timedelta(minutes=minute), fraction, None, None, None, 60.0 - minute
    )


def move(store: Store, run: int, step: str, source: str, dest: str, *, attempt: int) -> None:
    store.record([dto.Move(run, step, "t", source, dest, "me@box", T0, attempt=attempt)])


def test_only_running_steps_current_attempt_latest_sample(tmp_path: Path) -> None:
    store = Store.open(str(tmp_path / "state.db"))
    try:
        run = store.create_run(plan_name="p", plan_path="p.yaml", plan_fingerprint="f", step_hashes={},
                               inventory_name="lab", mode="rehearsal", operator="me",
                               steps=["copy", "other"]).id  # fmt: skip
        move(store, run, "copy", "pending", "running", attempt=1)
        add_sample(store, run, sample("copy", 1, 0.2, 1))
        add_sample(store, run, sample("copy", 1, 0.4, 2))
        add_sample(store, run, sample("other", 1, 0.9, 2))  # not running: not shown
        shown = running_progress(store, run)
        assert list(shown) == ["copy"]
        event, at = shown["copy"]
        assert (event.fraction, event.attempt, event.eta, at) == (0.4, 1, 58.0, T0 + timedelta(minutes=2))

        move(store, run, "copy", "running", "failed", attempt=1)
        assert running_progress(store, run) == {}  # ended: no bar
        move(store, run, "copy", "failed", "running", attempt=2)
        assert running_progress(store, run) == {}  # attempt 1's 40% is not how far attempt 2 is
        add_sample(store, run, sample("copy", 2, 0.1, 3))
        assert running_progress(store, run)["copy"][0].fraction == 0.1
    finally:
        store.close()
