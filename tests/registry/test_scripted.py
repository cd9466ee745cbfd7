"""ScriptedExecutor, the StepRunner double: canned outcomes in order, counts, cancel."""

from __future__ import annotations

import threading

import pytest

from migrator.checks.base import CheckResult
from migrator.errors import ConnectError
from migrator.executors.scripted import FAIL, OK, Scripted, ScriptedExecutor
from migrator.plan.checks import FileCheck
from tests.registry.conftest import Lines, context, step

S1 = step(id="s1", kind="local", command="true")
S2 = step(id="s2", kind="local", command="true")
FILE = FileCheck(kind="file", path="/etc/hostname")


def test_outcomes_play_in_order_and_the_last_repeats() -> None:
    double = ScriptedExecutor({"s1": [FAIL, OK]})
    results = [double.execute(S1, context()).ok for _ in range(3)]
    assert results == [False, True, True]
    assert double.executed["s1"] == 3
    assert double.execute(S2, context()).ok  # default


def test_lines_values_and_secret_flags_are_returned() -> None:
    lines = Lines()
    script = Scripted(
        lines=[("stdout", "pool created"), ("stderr", "warn")], values={"t": "x"}, secret_values={"t"}
    )
    outcome = ScriptedExecutor({"s1": script}).execute(S1, context(lines))
    assert lines.seen == [("stdout", "pool created"), ("stderr", "warn")]
    assert outcome.stdout == "pool created"
    assert (outcome.values, outcome.secret_values) == ({"t": "x"}, {"t"})


def test_a_scripted_exception_is_raised() -> None:
    double = ScriptedExecutor({"s1": Scripted(raises=ConnectError("off2 unreachable"))})
    with pytest.raises(ConnectError):
        double.execute(S1, context())
    assert double.calls == [("execute", "s1")]


def test_a_held_action_ends_when_cancelled() -> None:
    cancel = threading.Event()
    double = ScriptedExecutor({"s1": Scripted(hold=threading.Event())})
    ctx = context(cancel=cancel.is_set)
    cancel.set()
    outcome = double.execute(S1, ctx)
    assert not outcome.ok and "cancelled" in outcome.summary


def test_checks_are_canned_by_step_and_kind_and_counted() -> None:
    canned = CheckResult(passed=False, observed="missing", expected="present", message="nope")
    double = ScriptedExecutor(checks={"s1:file": [False, True], "s2": canned})
    assert [double.check(FILE, S1, context()).passed for _ in range(3)] == [False, True, True]
    assert double.check(FILE, S2, context()) is canned
    assert double.checked == {"s1:file": 3, "s2:file": 1}


def test_rollbacks_are_separate_and_close_is_recorded() -> None:
    double = ScriptedExecutor(rollbacks={"s1": FAIL})
    assert not double.rollback(S1, context()).ok
    assert double.rolled_back["s1"] == 1 and double.executed["s1"] == 0
    double.close()
    assert double.closed
