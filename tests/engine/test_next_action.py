"""The runner's next-step rule, pure (no store, no runner), and the state sets the front ends
use, derived from the lifecycle table (issue 13, item 3)."""

from __future__ import annotations

from pathlib import Path

from migrator.engine.states import (
    STEP_AT_REST,
    STEP_DONE,
    STEP_MARKABLE,
    STEP_RETRYABLE,
    STEP_ROLLBACKABLE,
    STEP_SKIPPABLE,
    STEP_TABLE,
    STEP_WORKING,
    next_action,
)

ORDER = ["a", "b", "c", "d"]
CHAIN = {"b": ["a"], "c": ["b"], "d": ["c"]}


def test_first_pending_step_runs() -> None:
    assert next_action(ORDER, CHAIN, {}).step_id == "a"
    action = next_action(ORDER, CHAIN, {"a": "succeeded", "b": "skipped"})
    assert (action.kind, action.step_id, action.index) == ("run", "c", 2)


def test_failed_must_be_settled_and_in_doubt_reconciled_first() -> None:
    assert next_action(ORDER, CHAIN, {"a": "succeeded", "b": "failed"}).kind == "settle"
    assert next_action(ORDER, CHAIN, {"a": "in_doubt"}).kind == "reconcile"


def test_blocked_passed_over_and_a_bad_dependency_blocks() -> None:
    states = {"a": "succeeded", "b": "blocked"}
    action = next_action(ORDER, {}, states)
    assert action.step_id == "c" and action.kind == "run"
    action = next_action(ORDER, {"c": ["b"]}, {"a": "succeeded", "b": "blocked"})
    assert (action.kind, action.step_id, action.because) == ("block", "c", "b")


def test_selection_and_start() -> None:
    assert next_action(ORDER, CHAIN, {}, lambda s: s in ("c", "d")).step_id == "c"
    assert next_action(ORDER, CHAIN, {}, start=3).step_id == "d"
    assert next_action(ORDER, CHAIN, dict.fromkeys(ORDER, "succeeded")).kind == "done"


def test_a_dry_run_verdict_is_not_a_done_state() -> None:
    """tui/walk.py once counted "already_done" as done, unlike the runner."""
    assert "already_done" not in STEP_DONE
    assert next_action(ORDER, {}, {"a": "already_done"}).step_id == "a"


def test_sets_follow_the_table() -> None:
    for trigger, states in (
        ("skip", STEP_SKIPPABLE),
        ("mark_done", STEP_MARKABLE),
        ("retry", STEP_RETRYABLE),
        ("roll_back", STEP_ROLLBACKABLE),
    ):
        assert states == {source for (source, t) in STEP_TABLE if t == trigger}
    assert {"running", "verifying"} == STEP_WORKING
    assert "in_doubt" not in STEP_AT_REST and "pending" in STEP_AT_REST


def test_the_tui_holds_no_copy_of_the_lifecycle() -> None:
    """No state-name set literal in tui/: every set comes from migrator.engine.states."""
    import re

    root = Path(__file__).resolve().parents[2] / "tui"
    pattern = re.compile(r"frozenset\(\{[^}]*\"(pending|succeeded|failed|skipped|rolled_back|running)\"")
    offenders = [
        f"{path.relative_to(root.parent)}" for path in root.rglob("*.py") if pattern.search(path.read_text())
    ]
    assert offenders == []
