"""Every recorded case in tests/data/checks/<kind>/<case>.json, judged by evaluate().

A case is {"check": spec, "output": ProbeOutput fields, "expect": {"passed", "outcome"
(holds | does_not_hold | cannot_tell), "observed"?, "message_contains"?}}; the outputs are the
real tools' formats (see the README there).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter

from migrator.checks import ProbeOutput, evaluate
from migrator.plan.checks import CHECK_KINDS, Check

DATA = Path(__file__).parent.parent / "data" / "checks"
CASES = sorted(DATA.glob("*/*.json"))
CHECKS: TypeAdapter[Check] = TypeAdapter(Check)


def load(path: Path) -> dict[str, Any]:
    case: dict[str, Any] = json.loads(path.read_text())
    return case


@pytest.mark.parametrize("path", CASES, ids=[f"{p.parent.name}/{p.stem}" for p in CASES])
def test_recorded_case(path: Path) -> None:
    case = load(path)
    check = CHECKS.validate_python(case["check"])
    assert check.kind == path.parent.name, "a case lives in the directory of its kind"

    result = evaluate(check, ProbeOutput(**case["output"]))

    expect = case["expect"]
    assert result.passed is expect["passed"], result
    assert result.outcome.value == expect["outcome"], result
    if "observed" in expect:
        assert result.observed == expect["observed"]
    if "message_contains" in expect:
        assert expect["message_contains"] in result.message
    for text in (result.observed, result.expected, result.message):
        assert text and "\n" not in text


def test_every_kind_has_a_case_of_each_outcome() -> None:
    """Each evaluator says which outputs are answers: a holding, a not holding and a
    cannot-tell case of every kind."""
    outcomes: dict[str, set[str]] = {kind: set() for kind in CHECK_KINDS}
    for path in CASES:
        outcomes[path.parent.name].add(load(path)["expect"]["outcome"])
    every = {"holds", "does_not_hold", "cannot_tell"}
    assert {kind: seen for kind, seen in outcomes.items() if seen != every} == {}
    assert len(CASES) >= 45
