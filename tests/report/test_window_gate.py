"""The window gate in a real run: too little time left stops before the point of no return.

``wipe`` is a point of no return; when it comes, ``wipe`` 20m + ``start`` 10m + rolling back
``copy`` 5m need 35m. A rehearsal's window opens when the run starts (the plan's date is the
real window's), so a 20m window is short; a live run uses the plan's start: one that opened
3h55m ago (4h long) has 5 minutes left. The engine stops for an explicit go/no-go, and the
decision is recorded.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from migrator.cli import main
from migrator.engine.runner import RunOptions, resume_run, start_run
from migrator.errors import OperatorNeeded
from migrator.plan.load import LoadedPlan, load_plan
from migrator.secrets import Redactor
from migrator.store.db import Store
from tests.report.scenario import INVENTORY, OperatorDouble, executors

GO_REASON = "the copy was verified twice; DNS can wait"
NO_GO_REASON = "copy too slow: roll back tonight"


def gated_plan(work: Path, *, length: str, opened_ago: timedelta = timedelta(0)) -> Path:
    start = (datetime.now(UTC) - opened_ago).isoformat(timespec="seconds")
    steps: list[dict[str, Any]] = [
        {"id": "copy", "title": "Copy the data", "kind": "local", "command": f"touch {work}/copy",
         "estimate": "1m", "rollback": {"command": f"rm {work}/copy", "estimate": "5m"}},
        {"id": "wipe", "title": "Wipe the old disks", "kind": "local", "command": f"touch {work}/wiped",
         "estimate": "20m", "point_of_no_return": True},
        {"id": "start", "title": "Start services", "kind": "local", "command": f"touch {work}/started",
         "estimate": "10m"},
    ]  # fmt: skip
    plan = {
        "name": "gated",
        "title": "Gated move",
        "inventory": "inventory.yaml",
        "window": {"start": start, "length": length},
        "phases": [{"id": "down", "title": "Downtime", "where": "window", "steps": steps}],
    }
    (work / "inventory.yaml").write_text(yaml.safe_dump(INVENTORY))
    path = work / "gated.yaml"
    path.write_text(yaml.safe_dump(plan, sort_keys=False))
    return path


def run(store: Store, loaded: LoadedPlan, prompter: OperatorDouble | None, **options: Any) -> Any:
    redactor = Redactor()
    tools = executors(loaded, prompter or OperatorDouble(), redactor)
    return start_run(
        store, loaded, tools, prompter, RunOptions(**{"mode": "rehearsal", **options}), redactor=redactor
    )


def states(store: Store, run_id: int) -> dict[str, str]:
    return {s.step_id: s.state for s in store.steps(run_id)}


def gate_decisions(store: Store, run_id: int) -> list[tuple[str | None, str, str]]:
    return [(d.step_id, d.choice, d.reason) for d in store.decisions(run_id) if d.kind == "window_go_no_go"]


def test_no_go_stops_before_the_point_of_no_return_and_is_recorded(store: Store, work: Path) -> None:
    loaded = load_plan(gated_plan(work, length="20m"))
    operator = OperatorDouble(choices=["no-go"], texts=[NO_GO_REASON])
    with pytest.raises(OperatorNeeded, match="no-go before step wipe"):
        run(store, loaded, operator)
    run_id = store.runs("gated")[0].id
    assert states(store, run_id) == {"copy": "succeeded", "wipe": "pending", "start": "pending"}
    assert not (work / "wiped").exists()
    question = next(q for q in operator.asked if q.startswith("go/no-go:"))
    assert "needed 35m" in question and "short by" in question
    assert gate_decisions(store, run_id) == [("wipe", "no-go", NO_GO_REASON)]
    assert store.run(run_id).status == "paused"
    # the change record shows the decision and the verdict
    from migrator.report.facts import collect

    facts = collect(store, run_id, loaded)
    assert any(d.kind == "window_go_no_go" and d.choice == "no-go" for d in facts.decisions)
    assert any(d.what == "window gate" and "needed 35m" in d.reason for d in facts.deviations)


def test_go_with_a_reason_goes_on_and_is_recorded(store: Store, work: Path) -> None:
    loaded = load_plan(gated_plan(work, length="20m"))
    report = run(store, loaded, OperatorDouble(choices=["go"], texts=[GO_REASON]))
    assert report.status == "completed" and (work / "wiped").exists()
    assert gate_decisions(store, report.run_id) == [("wipe", "go", GO_REASON)]


def test_live_run_uses_the_plan_window_stops_off_a_terminal_and_go_reason_answers(
    store: Store, work: Path
) -> None:
    loaded = load_plan(gated_plan(work, length="4h", opened_ago=timedelta(hours=3, minutes=55)))
    with pytest.raises(OperatorNeeded) as stopped:
        run(store, loaded, None, yes=True, mode="live")
    run_id = store.runs("gated")[0].id
    assert f"migrator resume {run_id} --db {store.path} --go-reason" in (stopped.value.hint or "")
    assert "needed 35m" in stopped.value.message
    assert states(store, run_id)["wipe"] == "pending" and not (work / "wiped").exists()
    assert gate_decisions(store, run_id) == []  # nobody decided yet

    redactor = Redactor()
    report = resume_run(store, loaded, run_id, executors(loaded, OperatorDouble(), redactor), None,
                        options=RunOptions(mode="live", yes=True, go_reason=GO_REASON),
                        redactor=redactor)  # fmt: skip
    assert report.status == "completed" and (work / "wiped").exists()
    assert gate_decisions(store, run_id) == [("wipe", "go", f"--go-reason: {GO_REASON}")]


def test_a_rehearsal_times_its_window_from_its_own_start_and_enough_time_asks_nothing(
    store: Store, work: Path
) -> None:
    # the plan's window opened 7h50m ago, which would leave 10m; the rehearsal's opened now
    loaded = load_plan(gated_plan(work, length="8h", opened_ago=timedelta(hours=7, minutes=50)))
    operator = OperatorDouble()
    report = run(store, loaded, operator)
    assert report.status == "completed"
    assert not any(q.startswith("go/no-go:") for q in operator.asked)
    assert gate_decisions(store, report.run_id) == []


def test_cli_run_stops_with_exit_5_and_resume_go_reason_continues(
    work: Path, db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = gated_plan(work, length="20m")
    with pytest.raises(SystemExit) as first:
        main(["run", str(plan), "--db", db, "--yes"])
    assert first.value.code == 5
    err = capsys.readouterr().err
    assert "needed 35m" in err and "--go-reason" in err
    store = Store.open(db)
    try:
        run_id = store.runs("gated")[0].id
    finally:
        store.close()
    assert main(["resume", str(run_id), "--db", db, "--yes", "--go-reason", GO_REASON]) is None
    assert (work / "wiped").exists()
