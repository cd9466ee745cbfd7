"""Estimates (written, learned from measured runs) and the window arithmetic."""

from __future__ import annotations

from pathlib import Path

import pytest

from migrator.estimates import Estimate, learned, summarize, written
from migrator.plan.load import LoadedPlan, load_plan
from tests.render.plans import ssh, write_plan

OFF1 = Path(__file__).resolve().parent / "data" / "off1-skeleton.yaml"  # frozen: the figures depend on it


@pytest.fixture(scope="module")
def off1() -> LoadedPlan:
    return load_plan(OFF1)


def test_labels_say_where_an_estimate_comes_from() -> None:
    assert Estimate(600).label() == "10m"
    assert Estimate(720, measured=True, count=3).label() == "12m (measured, n=3)"
    assert Estimate(None).label() == "?"
    assert Estimate(720, measured=True, count=3).short() == "12m*"
    assert Estimate(5400).label() == "1h30m"


def test_written_estimates_come_from_the_plan(off1: LoadedPlan) -> None:
    estimates = written(off1.plan)
    assert set(estimates) == set(off1.order)
    assert estimates["hardware"] == Estimate(3 * 3600)
    assert estimates["install-pve"] == Estimate(45 * 60)
    assert not any(e.measured for e in estimates.values())


def test_learned_estimates_are_the_median_of_measured_runs(off1: LoadedPlan) -> None:
    estimates = learned(off1.plan, {
        "hardware": [4 * 3600, 5 * 3600, 6 * 3600.4],  # odd count: the middle one
        "install-pve": [1800, 2400],  # even count: the mean of the two middle ones
        "rpool-unique": [],  # no run finished: the written estimate stays
        "step-removed-since": [60.0],  # not in the plan any more: ignored
    })
    assert estimates["hardware"] == Estimate(5 * 3600, measured=True, count=3)
    assert estimates["install-pve"] == Estimate(2100, measured=True, count=2)
    assert estimates["rpool-unique"] == Estimate(5 * 60)
    assert "step-removed-since" not in estimates
    assert estimates["first-boot"] == Estimate(10 * 60)


def test_off1_downtime_is_the_critical_path_of_its_window(off1: LoadedPlan) -> None:
    summary = summarize(off1, written(off1.plan))
    # hardware 3h + install 45m + first boot 10m + rpool 5m + zfs-hdd 5m + cluster join 10m;
    # the fingerprint read (1m) runs beside zfs-hdd-create and is not on the path.
    assert summary.downtime_seconds == 3 * 3600 + 45 * 60 + 10 * 60 + 5 * 60 + 5 * 60 + 10 * 60
    assert summary.critical_path == ["hardware", "install-pve", "first-boot", "rpool-unique",
                                     "zfs-hdd-create", "cluster-join"]
    assert summary.per_phase == {"prepare": 180, "window": 15360, "cleanup": 120}
    assert summary.total_seconds == 180 + 15360 + 120
    assert summary.window_seconds == 10 * 3600
    assert summary.slack_seconds == 10 * 3600 - summary.downtime_seconds
    assert summary.unestimated == []


def test_learned_estimates_move_the_downtime(off1: LoadedPlan) -> None:
    summary = summarize(off1, learned(off1.plan, {"hardware": [7 * 3600, 8 * 3600, 9 * 3600]}))
    assert summary.downtime_seconds == 8 * 3600 + 45 * 60 + 30 * 60
    assert summary.slack_seconds == 10 * 3600 - summary.downtime_seconds


def test_a_parallel_branch_does_not_add_to_the_downtime(tmp_path: Path) -> None:
    loaded = write_plan(tmp_path, window=[
        ssh("stop", "10m"),
        ssh("copy", "30m", depends_on=["stop"]),
        ssh("config", "5m", depends_on=["stop"]),
        ssh("start", "10m", depends_on=["copy", "config"]),
    ])
    summary = summarize(loaded, written(loaded.plan))
    assert summary.downtime_seconds == 50 * 60
    assert summary.critical_path == ["stop", "copy", "start"]
    assert summary.per_phase == {"down": 55 * 60}
    assert summary.slack_seconds == 70 * 60


def test_the_longer_branch_wins_even_when_it_comes_second(tmp_path: Path) -> None:
    loaded = write_plan(tmp_path, window=[
        ssh("stop", "10m"),
        ssh("config", "5m", depends_on=["stop"]),
        ssh("copy", "30m", depends_on=["stop"]),
        ssh("start", "10m", depends_on=["copy", "config"]),
    ])
    assert summarize(loaded, written(loaded.plan)).critical_path == ["stop", "copy", "start"]


def test_steps_outside_the_window_are_not_downtime(tmp_path: Path) -> None:
    loaded = write_plan(
        tmp_path,
        before=[ssh("sync-1", "6h")],
        window=[ssh("final-sync", "20m"), ssh("switch", "5m")],
        after=[ssh("cleanup", "2h")],
    )
    summary = summarize(loaded, written(loaded.plan))
    assert summary.downtime_seconds == 25 * 60
    assert summary.critical_path == ["final-sync", "switch"]
    assert summary.per_phase == {"prep": 6 * 3600, "down": 25 * 60, "tidy": 2 * 3600}
    assert summary.total_seconds == 6 * 3600 + 25 * 60 + 2 * 3600


def test_unestimated_in_window_steps_are_listed_and_counted_as_zero(tmp_path: Path) -> None:
    loaded = write_plan(
        tmp_path,
        before=[ssh("prep-unknown")],
        window=[ssh("known", "15m"), ssh("unknown"), ssh("also-unknown")],
    )
    summary = summarize(loaded, written(loaded.plan))
    assert summary.unestimated == ["unknown", "also-unknown"]
    assert summary.downtime_seconds == 15 * 60
    assert "prep-unknown" not in summary.unestimated


def test_nothing_estimated_gives_no_critical_path(tmp_path: Path) -> None:
    loaded = write_plan(tmp_path, window=[ssh("a"), ssh("b")])
    summary = summarize(loaded, written(loaded.plan))
    assert summary.downtime_seconds == 0
    assert summary.critical_path == []
    assert summary.unestimated == ["a", "b"]


def test_slack_is_negative_when_the_window_is_too_short(tmp_path: Path) -> None:
    loaded = write_plan(tmp_path, window=[ssh("a", "1h"), ssh("b", "1h30m")], length="2h")
    summary = summarize(loaded, written(loaded.plan))
    assert summary.window_seconds == 2 * 3600
    assert summary.slack_seconds == -30 * 60


def test_no_window_means_no_slack(tmp_path: Path) -> None:
    loaded = write_plan(tmp_path, window=[ssh("a", "1h")], length=None)
    summary = summarize(loaded, written(loaded.plan))
    assert summary.window_seconds is None
    assert summary.slack_seconds is None
    assert summary.downtime_seconds == 3600
