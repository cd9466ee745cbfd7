"""Window arithmetic during a run (pure): the gate before a point of no return, ETA and slack."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from migrator.engine.window import gate, needs_gate, progress, rollback_costs
from migrator.estimates import Estimate, written
from migrator.plan.load import LoadedPlan, load_plan
from tests.report.scenario import INVENTORY

START = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def window_plan(tmp_path: Path, *, length: str | None = "1h", parallel: bool = False) -> LoadedPlan:
    steps: list[dict[str, Any]] = [
        {"id": "copy", "title": "Copy", "kind": "local", "command": "true", "estimate": "10m",
         "rollback": {"command": "true", "estimate": "15m"}},
        {"id": "wipe", "title": "Wipe", "kind": "local", "command": "true", "estimate": "20m",
         "point_of_no_return": True, "rollback": {"instructions": "restore from ovh3", "estimate": "3h"}},
        {"id": "start", "title": "Start", "kind": "local", "command": "true", "estimate": "5m"},
        {"id": "dns", "title": "DNS", "kind": "local", "command": "true", "irreversible": "TTL"},
        {"id": "tidy", "title": "Tidy", "kind": "local", "command": "true", "estimate": "1h"},
    ]  # fmt: skip
    if parallel:
        steps[3]["depends_on"] = ["copy"]
    plan: dict[str, Any] = {
        "name": "gated",
        "title": "Gated",
        "inventory": "inventory.yaml",
        "phases": [
            {"id": "down", "title": "Down", "where": "window", "steps": steps[:4]},
            {"id": "later", "title": "Later", "where": "after", "steps": steps[4:]},
        ],
    }
    if length is not None:
        plan["window"] = {"length": length}
    (tmp_path / "inventory.yaml").write_text(yaml.safe_dump(INVENTORY))
    path = tmp_path / "gated.yaml"
    path.write_text(yaml.safe_dump(plan, sort_keys=False))
    return load_plan(path)


def test_which_steps_are_gated(tmp_path: Path) -> None:
    loaded = window_plan(tmp_path)
    assert [s.id for s in loaded.plan.steps() if needs_gate(s)] == ["wipe", "dns"]
    assert rollback_costs(loaded.plan) == {"copy": 900, "wipe": 3 * 3600}


def test_gate_passes_when_time_left_covers_remaining_work_and_rollback(tmp_path: Path) -> None:
    loaded = window_plan(tmp_path)
    verdict = gate(loaded, written(loaded.plan), now=START + timedelta(minutes=10), window_start=START,
                   done={"copy"}, rollback_cost=rollback_costs(loaded.plan))  # fmt: skip
    # 50m left; wipe 20m + start 5m + dns (no estimate) = 25m; rolling back copy 15m: 40m needed
    assert verdict.ok
    assert (verdict.time_left, verdict.remaining_estimate, verdict.rollback_cost, verdict.needed) == (
        3000, 1500, 900, 2400,
    )  # fmt: skip
    assert verdict.unestimated == ("dns",)
    assert "slack 10m" in verdict.message and "1 step(s) without an estimate count 0" in verdict.message


def test_gate_fails_when_the_window_is_too_short_and_says_by_how_much(tmp_path: Path) -> None:
    loaded = window_plan(tmp_path)
    verdict = gate(loaded, written(loaded.plan), now=START + timedelta(minutes=25), window_start=START,
                   done={"copy"}, rollback_cost=rollback_costs(loaded.plan))  # fmt: skip
    assert not verdict.ok and verdict.time_left == 35 * 60 and verdict.needed == 40 * 60
    assert verdict.message.startswith("only 35m left in the window (ends 2026-03-01T09:00+00:00), needed 40m")
    assert "short by 5m" in verdict.message


def test_only_done_steps_count_for_rollback_and_measured_estimates_are_used(tmp_path: Path) -> None:
    loaded = window_plan(tmp_path)
    estimates = {**written(loaded.plan), "wipe": Estimate(60, measured=True, count=2)}
    verdict = gate(loaded, estimates, now=START + timedelta(minutes=50), window_start=START,
                   done=set(), rollback_cost=rollback_costs(loaded.plan))  # fmt: skip
    # nothing done: no rollback cost; copy 10m + wipe 1m + start 5m = 16m > 10m left
    assert (verdict.rollback_cost, verdict.remaining_estimate, verdict.ok) == (0, 16 * 60, False)


def test_parallel_branches_count_by_critical_path_and_after_window_steps_not_at_all(tmp_path: Path) -> None:
    loaded = window_plan(tmp_path, parallel=True)
    estimates = {**written(loaded.plan), "dns": Estimate(3600)}
    verdict = gate(loaded, estimates, now=START, window_start=START, done={"copy"}, rollback_cost={})
    # wipe -> start (25m) runs beside dns (1h): the longer branch counts; tidy is after the window
    assert verdict.remaining_estimate == 3600 and verdict.ok


def test_no_window_means_nothing_to_hold(tmp_path: Path) -> None:
    loaded = window_plan(tmp_path, length=None)
    verdict = gate(loaded, written(loaded.plan), now=START + timedelta(days=3), window_start=START,
                   done=set(), rollback_cost=rollback_costs(loaded.plan))  # fmt: skip
    assert verdict.ok and verdict.time_left is None and "no window" in verdict.message


def test_progress_gives_eta_and_slack(tmp_path: Path) -> None:
    loaded = window_plan(tmp_path)
    now = START + timedelta(minutes=40)
    where = progress(loaded, written(loaded.plan), now=now, window_start=START, done={"copy"})
    assert where.window_end == START + timedelta(hours=1)
    assert where.remaining_estimate == 25 * 60 and where.eta == now + timedelta(minutes=25)
    assert where.slack == -5 * 60  # late by five minutes
