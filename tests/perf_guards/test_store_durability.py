"""The write-ahead "started attempt N" commit is fsynced (synchronous=FULL); outcomes are not.

A spy wrapped around the store's sqlite3 connection reads ``PRAGMA synchronous`` on that very
connection just before each COMMIT, and what the transaction journaled; the step's command
proves the order (its side effect is not there yet when the write-ahead commit happens).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from migrator.engine.runner import RunOptions, start_run
from migrator.store.db import Store
from tests.engine.doubles import ShellRunner, loaded

FULL, NORMAL = 2, 1  # PRAGMA synchronous values


@dataclass
class Commit:
    synchronous: int
    journal: list[tuple[str, str]]  # (trigger, to_state) journaled by this transaction
    marker_existed: bool


@dataclass
class CommitSpy:
    """Stands in for the store's sqlite3 connection and passes every call on to it."""

    marker: Path
    commits: list[Commit] = field(default_factory=list)
    _raw: Any = None
    _last_id: int = 0

    def attach(self, store: Store) -> None:
        self._raw = store._db.conn  # the very connection the store commits on
        store._db.conn = self  # type: ignore[assignment]

    def execute(self, sql: str, *args: Any) -> Any:
        if sql == "COMMIT":
            level = self._raw.execute("PRAGMA synchronous").fetchone()[0]
            rows = self._raw.execute(
                'SELECT "trigger", to_state FROM journal WHERE id > ? ORDER BY id', (self._last_id,)
            ).fetchall()
            self.commits.append(Commit(level, [tuple(r) for r in rows], self.marker.exists()))
        result = self._raw.execute(sql, *args)
        if sql.startswith("BEGIN"):
            self._last_id = self._raw.execute("SELECT coalesce(max(id), 0) FROM journal").fetchone()[0]
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(str(tmp_path / "state.db"))
    yield s
    s.close()


def test_the_started_record_is_fsynced_before_the_action_and_outcomes_are_not(
    store: Store, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    spy = CommitSpy(work / "did-it")
    spy.attach(store)
    plan = loaded([{"id": "a", "command": "touch did-it"}, {"id": "b", "command": "true"}])
    report = start_run(store, plan, ShellRunner(work), None, RunOptions())
    assert report.status == "completed"

    started = [c for c in spy.commits if ("launch", "running") in c.journal]
    assert len(started) == 2  # one write-ahead commit per step
    assert all(c.synchronous == FULL for c in started)
    assert not started[0].marker_existed  # durable before step a's command ran
    outcomes = [c for c in spy.commits if ("verify_ok", "succeeded") in c.journal]
    assert len(outcomes) == 2
    assert all(c.synchronous == NORMAL for c in outcomes)
    assert outcomes[0].marker_existed
    # One fsync per step: no other commit of the run is durable.
    assert [c for c in spy.commits if c.synchronous == FULL] == started


def test_a_journal_note_is_fsynced(store: Store, tmp_path: Path) -> None:
    # "rollback started" is a note: the rollback's write-ahead record.
    spy = CommitSpy(tmp_path / "unused")
    run = store.create_run(
        plan_name="p", plan_path="p.yaml", plan_fingerprint="f", step_hashes={}, inventory_name="i",
        mode="rehearsal", operator="me", steps=["a"],
    )  # fmt: skip
    spy.attach(store)
    store.note(run.id, actor="me", trigger="rollback_started", reason="test", step_id="a", state="succeeded")
    assert [(c.synchronous, c.journal) for c in spy.commits] == [(FULL, [("rollback_started", "succeeded")])]


def test_after_a_durable_commit_the_connection_goes_back_to_normal(store: Store, tmp_path: Path) -> None:
    spy = CommitSpy(tmp_path / "unused")
    run = store.create_run(
        plan_name="p", plan_path="p.yaml", plan_fingerprint="f", step_hashes={}, inventory_name="i",
        mode="rehearsal", operator="me", steps=["a"],
    )  # fmt: skip
    spy.attach(store)
    store.note(run.id, actor="me", trigger="x", reason="durable", state="")
    store.update_run(run.id, summary="not durable")
    store.note(run.id, actor="me", trigger="y", reason="durable again", state="")
    assert [c.synchronous for c in spy.commits] == [FULL, NORMAL, FULL]
