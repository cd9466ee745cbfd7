"""Round trips through a real SQLite file: every record kind, the journal, the lease."""

from __future__ import annotations

import os
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from migrator.errors import LockHeldError, StoreError
from migrator.store import dto
from migrator.store.db import Store, resolve_url
from migrator.store.schema import CURRENT_VERSION


def _run(store: Store, steps: list[str] | None = None) -> dto.RunInfo:
    return store.create_run(
        plan_name="off2",
        plan_path="plans/off2.yaml",
        plan_fingerprint="f1",
        step_hashes={"a": "h1"},
        inventory_name="lab",
        mode="live",
        operator="alice@box",
        steps=steps or ["a", "b"],
    )


def _move(run_id: int, step: str | None, trigger: str, source: str, dest: str, **kw: object) -> dto.Move:
    return dto.Move(
        run_id=run_id,
        step_id=step,
        trigger=trigger,
        source=source,
        dest=dest,
        actor="alice@box",
        at=datetime.now(UTC),
        **kw,
    )  # type: ignore[arg-type]


def _lease(
    store: Store, run: dto.RunInfo, holder: str, token: str, *, ttl: float = 60, **kw: Any
) -> dto.LeaseInfo:
    """Plan off2's lease for ``run``; the actor is the holder's user name."""
    actor = holder.partition("@")[0]
    return store.acquire_lease(
        plan_name="off2", run_id=run.id, holder=holder, token=token, ttl=ttl, actor=actor, **kw
    )


def test_run_and_steps_round_trip(store: Store) -> None:
    run = _run(store)
    again = store.run(run.id)
    assert again == run
    assert again.created_at.tzinfo is not None
    assert [s.step_id for s in store.steps(run.id)] == ["a", "b"]
    assert store.runs("off2") == [run]
    assert store.runs("other") == []


def test_missing_run_is_a_store_error(store: Store) -> None:
    with pytest.raises(StoreError, match="no run 42"):
        store.run(42)


def test_moves_update_rows_and_journal_in_order(store: Store) -> None:
    run = _run(store)
    store.record(
        [
            _move(run.id, None, "start", "created", "running"),
            _move(run.id, "a", "start", "pending", "prechecking"),
            _move(run.id, "a", "precheck_ok", "prechecking", "ready"),
            _move(run.id, "a", "launch", "ready", "running", attempt=1, fields={"exit_code": None}),
        ]
    )
    store.record(
        [
            _move(
                run.id,
                "a",
                "action_ok",
                "running",
                "verifying",
                attempt=1,
                fields={"exit_code": 0, "summary": "done"},
            )
        ]
    )
    step = store.steps(run.id)[0]
    assert (step.state, step.attempt, step.exit_code, step.summary) == ("verifying", 1, 0, "done")
    assert store.run(run.id).status == "running"
    chain = [(e.from_state, e.trigger, e.to_state) for e in store.journal(run.id, "a")]
    assert chain == [
        ("pending", "start", "prechecking"),
        ("prechecking", "precheck_ok", "ready"),
        ("ready", "launch", "running"),
        ("running", "action_ok", "verifying"),
    ]
    assert [e.trigger for e in store.journal(run.id, all_steps=False)] == ["start"]


def test_a_move_from_a_stale_state_is_refused_and_rolled_back(store: Store) -> None:
    run = _run(store)
    with pytest.raises(StoreError, match="no longer running"):
        store.record(
            [
                _move(run.id, "b", "start", "pending", "prechecking"),
                _move(run.id, "a", "action_ok", "running", "verifying"),
            ]
        )
    assert [s.state for s in store.steps(run.id)] == ["pending", "pending"]
    assert store.journal(run.id) == []


def test_output_checks_values_amendments_evidence_decisions(store: Store) -> None:
    run = _run(store)
    store.add_output(
        run.id,
        [
            dto.OutputChunk("a", 1, "stdout", 0, ["one", "two"]),
            dto.OutputChunk("b", 1, "stderr", 0, ["three"]),
        ],
    )
    assert [c.lines for c in store.output(run.id, "a")] == [["one", "two"]]
    assert len(store.output(run.id)) == 2
    record = dto.CheckRecord(
        run.id, "a", 1, "post", 0, "command", "zfs list", "halt", False, "1", "0", "exit 1", datetime.now(UTC)
    )
    store.add_checks([record])
    assert store.checks(run.id, "a") == [record]
    store.set_values(
        run.id,
        [
            dto.OutputValue("a", "vmid", "101", None, False),
            dto.OutputValue("a", "psk", None, "sha256:abcd", True),
        ],
    )
    store.set_values(run.id, [dto.OutputValue("a", "vmid", "102", None, False)])
    assert {(v.name, v.value, v.fingerprint) for v in store.values(run.id)} == {
        ("vmid", "102", None),
        ("psk", None, "sha256:abcd"),
    }
    amendment = dto.Amendment(
        run.id, datetime.now(UTC), "alice@box", "fixed a typo", "f1", "f2", ["c"], [], ["a"]
    )
    store.add_amendment(amendment, new_hashes={"a": "h2"})
    assert store.amendments(run.id) == [amendment]
    assert store.run(run.id).plan_fingerprint == "f2"
    evidence = dto.Evidence(run.id, "a", 1, datetime.now(UTC), "alice@box", "photo 12", ["cabled", "booted"])
    store.add_evidence(evidence)
    assert store.evidence(run.id) == [evidence]
    decision = dto.Decision(run.id, None, datetime.now(UTC), "alice@box", "go_no_go", "go", "all green")
    store.add_decision(decision)
    assert store.decisions(run.id) == [decision]


def test_sqlite_pragmas_wal_and_foreign_keys(tmp_path: Path) -> None:
    store = Store.open(str(tmp_path / "s.db"))
    try:
        with store._tx() as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
            assert conn.execute("PRAGMA foreign_keys").fetchone() == (1,)
            assert conn.execute("PRAGMA busy_timeout").fetchone() == (10000,)
            assert conn.execute("PRAGMA synchronous").fetchone() == (1,)  # NORMAL
        with pytest.raises(StoreError):
            store.add_output(999, [dto.OutputChunk("a", 1, "stdout", 0, ["orphan"])])
    finally:
        store.close()


def test_url_resolution(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MIGRATOR_DB", raising=False)
    assert resolve_url(None) == "sqlite:///state.db"
    assert resolve_url("sqlite:////tmp/z.db") == "sqlite:////tmp/z.db"
    monkeypatch.setenv("MIGRATOR_DB", "/tmp/x.db")
    assert resolve_url(None) == "sqlite:////tmp/x.db"
    assert resolve_url("y.db") == "sqlite:///y.db"


# -- lease ---------------------------------------------------------------------------------


def test_second_holder_is_refused_with_the_holder_named(store: Store) -> None:
    run = _run(store)
    _lease(store, run, "alice@box:10", "t1")
    with pytest.raises(LockHeldError, match=r"alice@box:10 since \d{4}-"):
        _lease(store, run, "bob@other:20", "t2", take_over_reason="I want it")
    assert store.renew_lease("off2", "t1", 60)
    assert not store.renew_lease("off2", "t2", 60)


def test_expired_lease_needs_take_over_with_reason_and_is_journaled(store: Store) -> None:
    run = _run(store)
    _lease(store, run, "alice@box:10", "t1", ttl=0)
    with pytest.raises(LockHeldError, match="--take-over"):
        _lease(store, run, "bob@x:2", "t2")
    lease = _lease(store, run, "bob@x:2", "t2", take_over_reason="alice went home")
    assert lease.holder == "bob@x:2"
    notes = [e for e in store.journal(run.id) if e.kind == "note"]
    assert notes and "alice@box:10" in notes[0].reason and "alice went home" in notes[0].reason
    assert store.decisions(run.id)[0].kind == "take_over"
    assert not store.renew_lease("off2", "t1", 60)  # the old holder learns it lost the lease
    store.release_lease("off2", "t2")
    assert store.lease("off2") is None


def test_lease_of_a_gone_process_counts_as_expired(store: Store) -> None:
    run = _run(store)
    _lease(store, run, "alice@box:10", "t1", ttl=600)
    lease = _lease(
        store, run, "bob@box:11", "t2", take_over_reason="crashed", holder_gone=lambda h: h.endswith(":10")
    )
    assert lease.token == "t2"
    assert lease.expires_at > datetime.now(UTC) + timedelta(seconds=30)


def test_two_store_objects_on_one_file_see_each_other(tmp_path: Path) -> None:
    one, two = Store.open(str(tmp_path / "s.db")), Store.open(str(tmp_path / "s.db"))
    try:
        run = _run(one)
        assert two.run(run.id).plan_name == "off2"
        with one._tx() as conn:
            assert conn.execute("select count(*) from step_records").fetchone() == (2,)
    finally:
        one.close()
        two.close()
    assert os.path.exists(tmp_path / "s.db")
    assert sqlite3.connect(tmp_path / "s.db").execute("select version from schema_version").fetchone() == (
        CURRENT_VERSION,
    )
