"""`migrator report --compare A B`: two real rehearsals of one plan, step by step."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from migrator.cli import cli
from migrator.engine.runner import RunOptions, start_run
from migrator.plan.load import load_plan
from migrator.report.change_record import signed
from migrator.secrets import Redactor
from migrator.store.db import Store
from tests.report.scenario import INVENTORY, OperatorDouble, executors


def small_plan(work: Path) -> Path:
    counter, delay = work / "tries", work / "delay"
    steps = [
        {"id": "a", "title": "Stop the app", "kind": "local", "command": "echo stopped", "estimate": "1m"},
        # fails on its first attempt ever: in the first rehearsal only
        {"id": "b", "title": "Copy the data", "kind": "local", "retries": 1, "retry_delay": 0,
         "command": f"echo x >> {counter}; test $(wc -l < {counter}) -ge 2", "estimate": "1m"},
        {"id": "c", "title": "Resync", "kind": "local", "command": f"sleep $(cat {delay})", "estimate": "1m"},
    ]  # fmt: skip
    plan = {
        "name": "twice",
        "title": "A plan rehearsed twice",
        "inventory": "inventory.yaml",
        "window": {"length": "1h"},
        "phases": [{"id": "down", "title": "Downtime", "where": "window", "steps": steps}],
    }
    (work / "inventory.yaml").write_text(yaml.safe_dump(INVENTORY))
    path = work / "twice.yaml"
    path.write_text(yaml.safe_dump(plan, sort_keys=False))
    return path


def rehearse_twice(store: Store, work: Path) -> tuple[int, int]:
    loaded = load_plan(small_plan(work))
    ids = []
    for delay in ("0", "1.2"):
        (work / "delay").write_text(delay)
        prompter, redactor = OperatorDouble(), Redactor()
        report = start_run(
            store,
            loaded,
            executors(loaded, prompter, redactor),
            prompter,
            RunOptions(mode="rehearsal", sleep=lambda s: None),
            redactor=redactor,
        )
        assert report.status == "completed"
        ids.append(report.run_id)
    return ids[0], ids[1]


@dataclass(frozen=True)
class Twice:
    db: str
    work: Path
    first: int
    second: int


@pytest.fixture(scope="module")
def twice(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Twice]:
    """Two rehearsals (one sleeps 1.2 s), shared by the tests of this module."""
    base = tmp_path_factory.mktemp("twice")
    db = str(base / "state.db")
    store = Store.open(db)
    try:
        first, second = rehearse_twice(store, base)
    finally:
        store.close()
    yield Twice(db, base, first, second)


def test_compare_two_rehearsals_shows_timing_differences_and_one_sided_failures(twice: Twice) -> None:
    db, work, first, second = twice.db, twice.work, twice.first, twice.second
    store = Store.open(db)
    result = CliRunner().invoke(cli, ["report", "--compare", str(first), str(second), "--db", db])
    assert result.exit_code == 0, result.output
    text = result.output
    assert text.startswith(f"# Comparison: run {first} (rehearsal) vs run {second} (rehearsal) of twice\n")
    rows = {line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith("| `")}
    assert "failed in run A only" in rows["`b`"] and "| 2 / 1 |" in rows["`b`"]
    assert "failed" not in rows["`a`"]
    # c slept 1.2 s in run B only: B-A is at least one second, and the cell says by how much
    from migrator.report.facts import collect

    try:
        a, b = collect(store, first, load_plan(work / "twice.yaml")), collect(store, second, None)
    finally:
        store.close()
    took_a, took_b = a.step("c").took, b.step("c").took  # type: ignore[union-attr]
    assert took_a is not None and took_b is not None and took_b - took_a >= 1
    assert f"| {signed(took_b - took_a)} |" in rows["`c`"] and signed(took_b - took_a).startswith("+")
    differences = text[text.index("## Differences") :]
    assert "`b`: failed in run A only" in differences
    assert "`c` took +" in differences and "longer in run B" in differences


def test_compare_json_parses(twice: Twice) -> None:
    db, first, second = twice.db, twice.first, twice.second
    result = CliRunner().invoke(
        cli, ["report", "--compare", str(first), str(second), "--db", db, "--format", "json"]
    )
    doc = json.loads(result.output)
    assert doc["format"] == "migrator-run-comparison"
    assert doc["run_a"]["run_id"] == first and doc["run_b"]["run_id"] == second
    steps = {s["id"]: s for s in doc["steps"]}
    assert steps["b"]["attempts_a"] == 2 and steps["b"]["attempts_b"] == 1
    assert steps["b"]["notes"] == ["failed in run A only"]
    assert steps["c"]["difference"] >= 1


def test_compare_html_is_escaped(twice: Twice) -> None:
    db, first, second = twice.db, twice.first, twice.second
    result = CliRunner().invoke(
        cli, ["report", "--compare", str(first), str(second), "--db", db, "--format", "html"]
    )
    assert "<h2>Step by step</h2>" in result.output
    assert "Difference (B-A)" in result.output and "<script" not in result.output
