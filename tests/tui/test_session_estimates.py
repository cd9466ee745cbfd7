"""The TUI shows the same learned estimates as `migrator plan`, the runner's window gate and the
report: the median of succeeded attempts in earlier executed runs (store/durations.py)."""

from __future__ import annotations

from migrator.executors.scripted import ScriptedExecutor
from migrator.store.db import Store
from tests.report.test_durations import inject_run
from tests.tui.conftest import plan_of, session_for


def test_a_session_shows_estimates_learned_from_earlier_runs(store: Store) -> None:
    for seconds, mode in ((60, "rehearsal"), (100, "live"), (5000, "dry-run")):
        earlier = inject_run(store, "demo", {"a": seconds}, mode=mode)
        store.update_run(earlier, status="completed")
    plan = plan_of([{"id": "a", "command": "true", "estimate": "10m"}, {"id": "b", "command": "true"}])
    session = session_for(store, plan, ScriptedExecutor())
    steps = {s.id: s for s in session.plan.steps}
    assert (steps["a"].estimate_seconds, steps["a"].estimate_measured) == (80, True)  # median of 60, 100
    assert (steps["b"].estimate_seconds, steps["b"].estimate_measured) == (None, False)
