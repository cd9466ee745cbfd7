"""Runs and leases (issue 12, item 6), through the CLI with local steps and real processes.

A second `migrator run` refused by the lease leaves no resumable run behind; after the
holder is killed, `resume` (with `--take-over --reason`, or by itself when the holder was
this operator on this host) resumes the run the lease belongs to: nothing runs twice.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).parents[2]

PLAN = """\
name: leased
title: Leased
inventory: inventory.yaml
phases:
- id: ph
  title: Ph
  where: window
  steps:
  - id: one
    title: One (not idempotent)
    kind: local
    command: echo x >> {work}/count-1
    post: [{{kind: command, command: "test -s {work}/count-1", on: local}}]
  - id: two
    title: Two (not idempotent, waits for the test)
    kind: local
    command: "touch {work}/started-2; while [ ! -f {work}/release ]; do sleep 0.05; done;
      echo x >> {work}/count-2"
    post: [{{kind: command, command: "test -s {work}/count-2", on: local}}]
  - id: three
    title: Three (not idempotent)
    kind: local
    command: echo x >> {work}/count-3
    post: [{{kind: command, command: "test -s {work}/count-3", on: local}}]
"""


def setup(tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    work = tmp_path / "work"
    work.mkdir()
    (tmp_path / "inventory.yaml").write_text("name: lab\nenvironment: lab\nhosts: {}\n")
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN.format(work=work))
    env = {**os.environ, "MIGRATOR_DB": str(tmp_path / "state.db"), "MIGRATOR_CRASH_DIR": str(tmp_path)}
    return plan, work, env


def start(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "migrator", *args], env=env, cwd=REPO, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def run(*args: str, env: dict[str, str]) -> tuple[int, str]:
    proc = start(*args, env=env)
    out, _ = proc.communicate(timeout=120)
    return proc.returncode, out


def wait_for(path: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def query(db: Path, sql: str, *params: object) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as conn:
        return list(conn.execute(sql, params))


def holder_killed_while_a_second_run_is_refused(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """Run 1 holds the lease in step two; a second run is refused (exit 4); run 1 is killed;
    its step two's command then completes on its own."""
    plan, work, env = setup(tmp_path)
    holder = start("run", str(plan), env=env)
    try:
        wait_for(work / "started-2")
        code, out = run("run", str(plan), env=env)
        assert code == 4, out
        db = tmp_path / "state.db"
        statuses = dict(query(db, "SELECT id, status FROM runs"))
        assert statuses.get(2, "refused") == "refused", statuses  # no run left that a resume could pick
        assert not query(db, "SELECT 1 FROM step_records WHERE run_id = 2 AND state != 'pending'")
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.communicate(timeout=60)
        (work / "release").touch()  # the orphaned step-two command ends either way
    wait_for(work / "count-2")
    return work, env


def take_overs(db: Path) -> list[tuple[object, ...]]:
    return query(db, "SELECT run_id, reason FROM journal WHERE trigger = 'lease_take_over'")


def assert_each_step_ran_once(work: Path, db: Path) -> None:
    for n in (1, 2, 3):
        assert (work / f"count-{n}").read_text() == "x\n", f"step {n} ran more than once"
    assert dict(query(db, "SELECT id, status FROM runs WHERE id = 1")) == {1: "completed"}
    states = dict(query(db, "SELECT step_id, state FROM step_records WHERE run_id = 1"))
    assert set(states.values()) == {"succeeded"}, states


def test_refused_run_then_take_over_resumes_the_leased_run_and_runs_nothing_twice(tmp_path: Path) -> None:
    work, env = holder_killed_while_a_second_run_is_refused(tmp_path)

    code, out = run("resume", "--take-over", "--reason", "the holder was killed", env=env)

    assert code == 0, out
    assert_each_step_ran_once(work, tmp_path / "state.db")
    notes = take_overs(tmp_path / "state.db")
    assert [run_id for run_id, _ in notes] == [1], notes
    assert "the holder was killed" in str(notes[0][1])


def test_own_dead_holder_is_taken_over_by_a_plain_resume_and_journaled(tmp_path: Path) -> None:
    work, env = holder_killed_while_a_second_run_is_refused(tmp_path)
    # A new run is no resume: it does not take the dead holder's lease by itself.
    code, out = run("run", str(tmp_path / "plan.yaml"), env=env)
    assert code == 4 and "--take-over" in out, out
    assert (work / "count-1").read_text() == "x\n"

    code, out = run("resume", env=env)

    assert code == 0, out
    assert_each_step_ran_once(work, tmp_path / "state.db")
    notes = take_overs(tmp_path / "state.db")
    assert [run_id for run_id, _ in notes] == [1], notes
    assert "automatic" in str(notes[0][1]) and "process is gone" in str(notes[0][1])


def _ended_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


@pytest.mark.parametrize("who", ["another user on this host", "this user on another host"])
def test_any_other_dead_holder_still_needs_take_over_with_a_reason(tmp_path: Path, who: str) -> None:
    from migrator.engine.lease import LeaseKeeper, operator_name
    from migrator.errors import LockHeldError
    from migrator.store.db import Store

    user, _, host = operator_name().partition("@")
    holder = f"not-{user}@{host}" if who.startswith("another user") else f"{user}@not-{host}"
    store = Store.open(str(tmp_path / "state.db"))
    try:
        run = store.create_run(plan_name="leased", plan_path="p", plan_fingerprint="f", step_hashes={},
                               inventory_name="lab", mode="rehearsal", operator=holder, steps=[])  # fmt: skip
        store.acquire_lease(plan_name="leased", run_id=run.id, holder=f"{holder}:{_ended_pid()}",
                            token="theirs", ttl=0, actor=holder)  # fmt: skip  (expired at once)
        with pytest.raises(LockHeldError, match="--take-over"):
            LeaseKeeper(store, "leased", run.id).acquire()
        keeper = LeaseKeeper(store, "leased", run.id)
        keeper.acquire(take_over_reason="checked with them")
        keeper.release()
    finally:
        store.close()
