"""Cross-plan preconditions end to end: two real plan files, one SQLite file, the CLI.

``move``'s step ``repoint`` requires step ``up`` of plan ``tunnel`` (as off1's
repoint-consumers requires the stunnel plan's MongoDB client): blocked until the other plan
did it, a cannot-know at preflight, done after a resume once it is."""

from __future__ import annotations

import os
from pathlib import Path

from migrator.engine import crossplan
from migrator.plan.model import PlanStep, Step
from migrator.store.db import Store
from tests.engine.test_cli_run import migrator

TUNNEL = """\
name: tunnel
title: Tunnel
inventory: inventory.yaml
phases:
- id: ph
  title: Ph
  where: window
  steps:
  - {{id: up, title: Up, kind: local, command: "touch {work}/up"}}
"""

MOVE = """\
name: move
title: Move
inventory: inventory.yaml
phases:
- id: ph
  title: Ph
  where: window
  steps:
  - {{id: stop, title: Stop, kind: local, command: "touch {work}/stop"}}
  - id: repoint
    title: Repoint
    kind: local
    command: "test -f {work}/up && touch {work}/repoint"
    requires: [{{plan: tunnel, step: up}}]
"""

ROOT = Path(__file__).parents[2]


def _setup(tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    work = tmp_path / "work"
    work.mkdir()
    (tmp_path / "inventory.yaml").write_text("name: lab\nenvironment: lab\nhosts: {}\n", encoding="utf-8")
    tunnel, move = tmp_path / "tunnel.yaml", tmp_path / "move.yaml"
    tunnel.write_text(TUNNEL.format(work=work), encoding="utf-8")
    move.write_text(MOVE.format(work=work), encoding="utf-8")
    env = {**os.environ, "MIGRATOR_DB": str(tmp_path / "state.db"), "MIGRATOR_CRASH_DIR": str(tmp_path)}
    return tunnel, move, env


def test_blocked_until_the_other_plan_did_it_then_resumed(tmp_path: Path) -> None:
    tunnel, move, env = _setup(tmp_path)
    first = migrator("run", str(move), env=env, cwd=ROOT)
    assert first.returncode == 1, first.stdout + first.stderr
    why = "needs step up of plan tunnel done (no live or rehearsal run of tunnel on inventory lab)"
    assert why in first.stdout
    assert (tmp_path / "work/stop").exists() and not (tmp_path / "work/repoint").exists()

    sheet = migrator("preflight", str(move), env=env, cwd=ROOT)
    text = " ".join(sheet.stdout.split())
    assert "repoint local cannot_know" in text, sheet.stdout + sheet.stderr
    assert "requires: step up of plan tunnel" in text

    assert migrator("run", str(tunnel), env=env, cwd=ROOT).returncode == 0
    resumed = migrator("resume", "1", env=env, cwd=ROOT)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert (tmp_path / "work/repoint").exists()


def test_assume_done_needs_a_reason_and_is_recorded(tmp_path: Path) -> None:
    _, move, env = _setup(tmp_path)
    refused = migrator("run", str(move), "--assume-done", "tunnel:up", env=env, cwd=ROOT)
    assert refused.returncode == 2 and "--reason" in refused.stdout + refused.stderr
    (tmp_path / "work/up").touch()  # done by hand, say
    ran = migrator("run", str(move), "--assume-done", "tunnel:up", "--reason", "tunnel set up by hand",
                   env=env, cwd=ROOT)  # fmt: skip
    assert ran.returncode == 0, ran.stdout + ran.stderr
    log = migrator("log", "1", "--step", "repoint", env=env, cwd=ROOT)
    assert "taken as done by the operator: tunnel set up by hand" in " ".join(log.stdout.split())


def test_rolled_back_or_failed_is_not_done(store: Store) -> None:
    step = Step(id="repoint", title="Repoint", kind="manual", requires=[PlanStep(plan="tunnel", step="up")])

    def run(state: str, mode: str = "rehearsal", inventory: str = "lab") -> None:
        info = store.create_run(plan_name="tunnel", plan_path="tunnel.yaml", plan_fingerprint="x",
                                step_hashes={}, inventory_name=inventory, mode=mode, operator="t",
                                steps=["up"])  # fmt: skip
        with store._tx() as conn:  # the state as a finished run left it
            conn.execute("UPDATE step_records SET state = ? WHERE run_id = ?", (state, info.id))

    run("succeeded", mode="dry-run")
    run("succeeded", inventory="production")
    assert [m.why for m in crossplan.unmet(store, step, inventory_name="lab")] == [
        "no live or rehearsal run of tunnel on inventory lab"]
    run("failed")
    assert crossplan.unmet(store, step, inventory_name="lab")[0].why == "failed in run 3"
    run("succeeded")
    assert crossplan.unmet(store, step, inventory_name="lab") == []
    run("rolled_back")
    assert crossplan.unmet(store, step, inventory_name="lab")[0].why == "rolled back in run 5"
