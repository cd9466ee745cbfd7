"""Measured durations: what counts, read-only stdlib SQLite, and `migrator plan` showing them."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner

from migrator.cli import cli
from migrator.plan.load import find_plan, load_plan
from migrator.store.db import Store
from migrator.store.dto import Move
from migrator.store.durations import measured_durations, pair_attempts
from tests.report.scenario import Rehearsal

REPO = Path(__file__).resolve().parent.parent.parent
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
HAPPY = (("start", "pending", "prechecking"), ("precheck_ok", "prechecking", "ready"),
         ("launch", "ready", "running"), ("action_ok", "running", "verifying"),
         ("verify_ok", "verifying", "succeeded"))  # fmt: skip


def inject_run(store: Store, plan_name: str, seconds: dict[str, float], *, mode: str = "rehearsal") -> int:
    """A run whose steps each succeeded in one attempt that took ``seconds[step]`` (journal times)."""
    run = store.create_run(plan_name=plan_name, plan_path=f"plans/{plan_name}.yaml", plan_fingerprint="f",
                           step_hashes={}, inventory_name="lab", mode=mode, operator="test@here",
                           steps=list(seconds))  # fmt: skip
    for sid, took in seconds.items():
        for trigger, source, dest in HAPPY:
            at = T0 + timedelta(seconds=took if trigger == "verify_ok" else 0)
            store.record([Move(run.id, sid, trigger, source, dest, "test@here", at, attempt=1)])
    return run.id


def test_succeeded_attempts_count_skips_mark_dones_and_failed_attempts_do_not(
    rehearsal: Rehearsal, db: str
) -> None:
    found = measured_durations("rehearse", db)
    # prep, flaky (its 2nd attempt only), console (manual), switch, notify ran and succeeded;
    # optional was skipped and broken was marked done by hand: they measured nothing.
    assert set(found) == {"prep", "flaky", "console", "switch", "notify"}
    assert all(len(v) == 1 and v[0] >= 0 for v in found.values())
    assert measured_durations("another-plan", db) == {}
    assert measured_durations("rehearse", db, before_run=rehearsal.run_id) == {}


def test_dry_runs_do_not_count_and_the_median_rests_on_executed_runs(store: Store, db: str) -> None:
    inject_run(store, "p", {"a": 60})
    inject_run(store, "p", {"a": 100, "b": 30}, mode="live")
    inject_run(store, "p", {"a": 5000}, mode="dry-run")
    assert measured_durations("p", db) == {"a": [60.0, 100.0], "b": [30.0]}


def test_the_journal_as_the_store_reads_it_gives_the_same_durations(store: Store, db: str) -> None:
    inject_run(store, "p", {"a": 60, "b": 7})
    rows = [
        (run.id, e.step_id, e.attempt, e.trigger, e.at)
        for run in store.runs("p")
        for e in store.journal(run.id)
        if e.step_id is not None and e.kind == "transition" and e.trigger in ("launch", "rerun", "verify_ok")
    ]
    assert pair_attempts(rows) == measured_durations("p", db) == {"a": [60.0], "b": [7.0]}


def test_a_missing_database_is_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "nothing.db"
    assert measured_durations("off1", str(missing)) == {}
    assert measured_durations("off1", f"sqlite:///{missing}") == {}
    assert not missing.exists()


def test_an_empty_database_file_measures_nothing(tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    assert measured_durations("off1", str(empty)) == {}


def test_importing_the_reader_does_not_import_sqlalchemy() -> None:
    code = (
        "import sys, migrator.store.durations\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'sqlmodel'))\n"
        "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_migrator_plan_shows_measured_estimates_after_a_rehearsal(
    rehearsal: Rehearsal, db: str, tmp_path: Path
) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["plan", str(rehearsal.plan_path), "--db", db, "--format", "json"])
    assert result.exit_code == 0, result.output
    estimates = json.loads(result.output)["estimates"]
    assert estimates["flaky"]["measured"] and estimates["flaky"]["count"] == 1
    assert "(measured, n=1)" in estimates["flaky"]["label"]
    assert not estimates["optional"]["measured"] and estimates["optional"]["seconds"] == 120
    assert not estimates["broken"]["measured"]  # marked done: the written 1m stands
    terminal = runner.invoke(cli, ["plan", str(rehearsal.plan_path), "--db", db])
    assert terminal.exit_code == 0 and "measured" in terminal.output
    without = runner.invoke(cli, ["plan", str(rehearsal.plan_path), "--db", str(tmp_path / "none.db"),
                                 "--format", "json"])  # fmt: skip
    assert not any(e["measured"] for e in json.loads(without.output)["estimates"].values())


def test_migrator_plan_off1_uses_durations_recorded_for_its_steps(store: Store, db: str) -> None:
    order = load_plan(find_plan("off1")).order
    first, second = order[0], order[1]
    inject_run(store, "off1", {first: 600, second: 90})
    inject_run(store, "off1", {first: 1200})
    inject_run(store, "off1", {first: 900})
    result = CliRunner().invoke(cli, ["plan", "off1", "--db", db, "--format", "json"])
    assert result.exit_code == 0, result.output
    estimates = json.loads(result.output)["estimates"]
    assert estimates[first] == {"seconds": 900, "measured": True, "count": 3, "label": "15m (measured, n=3)"}
    assert estimates[second]["seconds"] == 90 and estimates[second]["measured"]
    assert not estimates[order[2]]["measured"]


def test_a_path_with_uri_characters_is_read(tmp_path: Path) -> None:
    store = Store.open(str(tmp_path / "made.db"))  # SQLAlchemy URLs cannot hold such a path
    try:
        inject_run(store, "p", {"a": 42})
    finally:
        store.close()  # the last connection checkpoints the WAL into the file
    odd = tmp_path / "window?night#2 100%"
    odd.mkdir()
    (tmp_path / "made.db").rename(odd / "state.db")
    assert measured_durations("p", str(odd / "state.db")) == {"a": [42.0]}
