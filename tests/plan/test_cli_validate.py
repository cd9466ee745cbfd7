"""``migrator validate`` as an operator runs it: a real process, exit codes, text and JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from migrator.plan.load import check_plan
from migrator.plan.problems import errors
from tests.plan.test_broken_plans import BROKEN, EXPECTED
from tests.plan.test_fuzz_yaml import PLANS, mutated_off1

REPO = Path(__file__).resolve().parent.parent.parent


def _validate(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "migrator", "validate", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


SOME_BROKEN = [
    "unknown-host.yaml",
    "cyclic-depends-on.yaml",
    "yaml-bad-indentation.yaml",
    "literal-token-secret.yaml",
    "unknown-step-field.yaml",
]


def test_broken_plans_exit_1_with_their_messages_on_stdout() -> None:
    result = _validate(*(str(BROKEN / name) for name in SOME_BROKEN))
    assert result.returncode == 1
    assert result.stdout.replace(f"{BROKEN}/", "").splitlines() == [
        line for name in SOME_BROKEN for line in EXPECTED[name]
    ]
    assert result.stderr.splitlines() == [
        f"{BROKEN / name}: INVALID (1 error(s), 0 warning(s))" for name in SOME_BROKEN
    ]


def test_warning_only_plan_exits_0() -> None:
    name = "window-step-without-estimate.yaml"
    result = _validate(str(BROKEN / name))
    assert result.returncode == 0
    assert result.stdout.replace(f"{BROKEN}/", "").splitlines() == EXPECTED[name]
    assert result.stderr == f"{BROKEN / name}: ok (0 error(s), 1 warning(s))\n"


def test_json_format_parses_and_locates_each_problem() -> None:
    result = _validate("--format", "json", str(BROKEN / "unknown-host.yaml"), str(BROKEN / "bad-regex.yaml"))
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert set(report["files"]) == {str(BROKEN / "unknown-host.yaml"), str(BROKEN / "bad-regex.yaml")}
    [unknown] = report["files"][str(BROKEN / "unknown-host.yaml")]
    assert unknown == {
        "severity": "error",
        "file": str(BROKEN / "unknown-host.yaml"),
        "line": 11,
        "column": 15,
        "step": "check-pools",
        "message": "unknown host 'of1' (did you mean 'off1'?)",
        "hint": "hosts in inventory 'lab': off1, off2",
    }


def test_clean_plan_exits_0_quietly() -> None:
    result = _validate(str(PLANS / "off1.yaml"))
    assert (result.returncode, result.stdout) == (0, "")
    assert result.stderr == f"{PLANS / 'off1.yaml'}: ok (0 error(s), 0 warning(s))\n"
    assert json.loads(_validate("--format", "json", str(PLANS / "off1.yaml")).stdout)["ok"] is True


@pytest.fixture(scope="module")
def plan_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cli-fuzz")
    (folder / "inventory.yaml").write_text((PLANS / "inventory.yaml").read_text())
    return folder


@settings(max_examples=1, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(mutated_off1(), min_size=20, max_size=20))
def test_mutated_plans_through_the_cli_never_trace_back(plan_dir: Path, texts: list[str]) -> None:
    """20 mutated plans in one process (a process per plan would cost a second each)."""
    plans = []
    for index, text in enumerate(texts):
        plan = plan_dir / f"plan{index}.yaml"
        plan.write_text(text, encoding="utf-8")
        plans.append(plan)
    result = _validate(*map(str, plans))
    assert "Traceback" not in result.stdout + result.stderr
    # Same verdict as the library, plan by plan: INVALID when it found an error (most mutations).
    verdicts = ["INVALID" if errors(check_plan(plan)[1]) else "ok" for plan in plans]
    assert [line.split(": ")[1].split(" ")[0] for line in result.stderr.splitlines()] == verdicts
    assert result.returncode == (1 if "INVALID" in verdicts else 0)
