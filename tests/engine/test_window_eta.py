"""The window clock counts a running step by its own progress (issue 14, item 4): when the
step's tool says how long it still needs (rsync's, zfs send's ETA), that is what is left of
it, not its estimate less the time spent. Pure arithmetic on plain data (no clock, no sleep)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from migrator.engine.window import WindowReading, read

OPENED = datetime(2026, 12, 18, 8, 0, tzinfo=UTC)
NOW = OPENED + timedelta(minutes=10)
ORDER = ["copy", "switch", "after"]
DEPS = {"copy": [], "switch": ["copy"], "after": ["switch"]}


def _read(
    *, eta_left: dict[str, int] | None = None, estimates: dict[str, int | None] | None = None
) -> WindowReading:
    return read(
        order=ORDER,
        deps=DEPS,
        in_window=["copy", "switch"],  # "after" is after the window: never counted
        estimates=estimates or {"copy": 30 * 60, "switch": 5 * 60, "after": 3600},
        states={"copy": "running"},
        window_length=2 * 3600,
        opened=OPENED,
        now=NOW,
        spent={"copy": 10 * 60},
        eta_left=eta_left,
    )


def test_without_progress_a_running_step_counts_what_is_left_of_its_estimate() -> None:
    r = _read()
    assert r.work_left == (30 - 10 + 5) * 60
    assert r.slack == (2 * 3600 - 10 * 60) - r.work_left


def test_a_running_step_with_an_eta_counts_its_eta_slower_or_faster() -> None:
    slow = _read(eta_left={"copy": 90 * 60})  # the copy says 1h30m more, estimate said 20m
    assert slow.work_left == (90 + 5) * 60
    assert slow.eta == NOW + timedelta(minutes=95)
    assert slow.slack == (120 - 10 - 95) * 60
    fast = _read(eta_left={"copy": 60})
    assert fast.work_left == (1 + 5) * 60
    assert fast.slack is not None and slow.slack is not None and fast.slack > slow.slack


def test_the_clock_moves_with_the_eta() -> None:
    """Two readings a progress event apart: the figures follow the tool, second by second."""
    readings = [_read(eta_left={"copy": eta}) for eta in (3000, 2400, 2400 + 600)]
    assert [r.work_left for r in readings] == [3300, 2700, 3300]
    assert [r.slack for r in readings] == [6600 - 3300, 6600 - 2700, 6600 - 3300]


def test_an_unestimated_step_with_an_eta_is_counted_not_unknown() -> None:
    estimates: dict[str, int | None] = {"copy": None, "switch": 300, "after": None}
    assert _read(estimates=estimates).unestimated == ("copy",)
    told = _read(estimates=estimates, eta_left={"copy": 1200})
    assert told.unestimated == () and told.work_left == 1200 + 300


def test_an_eta_of_a_step_that_ended_counts_nothing() -> None:
    r = read(
        order=ORDER,
        deps=DEPS,
        in_window=["copy", "switch"],
        estimates={"copy": 1800, "switch": 300, "after": 3600},
        states={"copy": "succeeded"},
        window_length=7200,
        opened=OPENED,
        now=NOW,
        eta_left={"copy": 5000},  # a late event of a step already done
    )
    assert r.work_left == 300
