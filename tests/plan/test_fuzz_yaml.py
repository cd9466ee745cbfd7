"""Random and mutated YAML never crashes the loader: a plan, or at least one located error.

Mutations of plans/off1.yaml model what an editor session does to a plan: lines deleted or
duplicated, indentation changed, a value replaced by text, a number, a list or odd unicode.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from migrator.plan.load import check_plan
from migrator.plan.problems import Severity

PLANS = Path(__file__).resolve().parent.parent.parent / "plans"
OFF1_LINES = (PLANS / "off1.yaml").read_text().splitlines()

_text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=30)
_value = st.one_of(
    _text,
    st.integers(-(10**12), 10**12).map(str),
    st.lists(st.sampled_from(["a", "1", "off1", "{{ hosts.off1.address }}", "[", "-", ":"]), max_size=4).map(
        lambda items: "[" + ", ".join(items) + "]"
    ),
    st.sampled_from(
        [
            "",
            "~",
            "null",
            "true",
            "{}",
            "[]",
            "&a x",
            "*a",
            "!!int x",
            "!!binary AAAA",
            "'",
            "{{ }}",
            "{{ params.nope }}",
            "{{ outputs.x.y }}",
            "10 minutes",
            "-1",
            "off2/ct:1",
            "|",
            ">",
        ]
    ),
)


@st.composite
def mutated_off1(draw: st.DrawFn) -> str:
    lines = list(OFF1_LINES)
    for _ in range(draw(st.integers(1, 4))):
        if not lines:
            break
        index = draw(st.integers(0, len(lines) - 1))
        action = draw(st.sampled_from(["delete", "duplicate", "indent", "dedent", "value", "insert"]))
        line = lines[index]
        if action == "delete":
            del lines[index]
        elif action == "duplicate":
            lines.insert(index, line)
        elif action == "indent":
            lines[index] = " " * draw(st.integers(1, 3)) + line
        elif action == "dedent":
            lines[index] = line[draw(st.integers(1, 4)) :]
        elif action == "value" and ":" in line:
            key = line.split(":", 1)[0]
            lines[index] = f"{key}: {draw(_value)}"
        else:
            lines.insert(index, draw(_text))
    return "\n".join(lines) + "\n"


_documents = st.one_of(
    mutated_off1(),
    _text,
    st.recursive(
        st.one_of(st.none(), st.booleans(), st.integers(), _text),
        lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_text, inner, max_size=3)),
        max_leaves=10,
    ).map(repr),
)


@pytest.fixture(scope="module")
def plan_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("fuzz")
    shutil.copy(PLANS / "inventory.yaml", folder / "inventory.yaml")
    return folder


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=_documents)
def test_check_plan_never_raises_and_always_locates_a_problem(plan_dir: Path, text: str) -> None:
    plan = plan_dir / "plan.yaml"
    plan.write_text(text, encoding="utf-8")
    loaded, problems = check_plan(plan)
    errors = [p for p in problems if p.severity is Severity.ERROR]
    if loaded is None:
        assert errors, "no plan and no error"
    else:
        assert not errors
    for problem in problems:
        assert problem.position.line >= 1
        assert problem.position.column >= 1
        assert problem.message


def test_unmutated_plan_loads(plan_dir: Path) -> None:
    plan = plan_dir / "plan.yaml"
    plan.write_text("\n".join(OFF1_LINES) + "\n")
    loaded, problems = check_plan(plan)
    assert loaded is not None
    assert problems == []
