"""On-disk compatibility with the SQLAlchemy store that came before (and with any tool that
reads the file through the SQLModel tables): same tables, same value formats.

SQLAlchemy + sqlmodel write a datetime as UTC text ``YYYY-MM-DD HH:MM:SS.ffffff`` and read it
back UTC-aware, JSON columns as ``json.dumps`` text, booleans as 0/1. The tests write through
``migrator.store.tables`` with SQLAlchemy Core (what the old store did) and read with the new
Store, and the reverse; one test compares the raw stored values of both writers.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, insert, select
from sqlmodel import SQLModel

from migrator.store import db as store_db
from migrator.store import dto, leases, notes
from migrator.store.db import Store
from migrator.store.schema import CURRENT_VERSION
from migrator.store.tables import (
    AmendmentRow,
    CheckResultRow,
    DecisionRow,
    EvidenceRow,
    JournalRow,
    LeaseRow,
    OutputChunkRow,
    OutputValueRow,
    RunRow,
    SchemaVersionRow,
    StepRow,
)

T0 = datetime(2026, 3, 1, 22, 30, 15, 123456, tzinfo=UTC)
PARIS = timezone(timedelta(hours=1))
TABLES = [
    "runs", "step_records", "journal", "output_chunks", "check_results", "output_values",
    "amendments", "evidence", "decisions", "leases", "schema_version",
]  # fmt: skip


def t(table: Any) -> Any:
    return table.__table__


@pytest.fixture
def orm(tmp_path: Path) -> Iterator[Engine]:
    """A database created the way the SQLAlchemy store created one (create_all + stamp)."""
    engine = create_engine(f"sqlite:///{tmp_path / 'orm.db'}")
    with engine.begin() as conn:
        SQLModel.metadata.create_all(conn)
        conn.execute(insert(t(SchemaVersionRow)).values(id=1, version=CURRENT_VERSION))
    yield engine
    engine.dispose()


@pytest.fixture
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> datetime:
    for module in (store_db, leases, notes):
        monkeypatch.setattr(module, "now", lambda: T0)
    return T0


def _write_old(engine: Engine) -> None:
    """One of everything, through the SQLModel tables (the old store's format)."""
    local = T0.astimezone(PARIS)  # an aware non-UTC time: stored converted to UTC
    with engine.begin() as conn:
        conn.execute(
            insert(t(RunRow)).values(
                plan_name="off2", plan_path="plans/off2.yaml", plan_fingerprint="f1",
                step_hashes={"a": "h1", "b": "h2"}, inventory_name="lab", mode="live",
                operator="alice@box", status="running", created_at=local, started_at=T0, summary="",
            )
        )  # fmt: skip
        conn.execute(
            insert(t(StepRow)),
            [
                {"run_id": 1, "step_id": "a", "position": 0, "state": "succeeded", "attempt": 1,
                 "started_at": T0, "ended_at": T0 + timedelta(seconds=5), "exit_code": 0,
                 "summary": "ok", "reason": "", "blocks_dependents": False},
                {"run_id": 1, "step_id": "b", "position": 1, "state": "skipped", "attempt": 0,
                 "started_at": None, "ended_at": None, "exit_code": None,
                 "summary": "", "reason": "flaky", "blocks_dependents": True},
            ],
        )  # fmt: skip
        conn.execute(
            insert(t(JournalRow)).values(
                run_id=1, step_id="a", at=T0, actor="alice@box", kind="transition", trigger="launch",
                from_state="ready", to_state="running", reason="", attempt=1,
            )
        )  # fmt: skip
        conn.execute(
            insert(t(OutputChunkRow)).values(
                run_id=1, step_id="a", attempt=1, stream="stdout", first_line=0, line_count=2,
                text="one\ntwo", at=T0,
            )
        )  # fmt: skip
        conn.execute(
            insert(t(CheckResultRow)).values(
                run_id=1, step_id="a", attempt=1, stage="post", position=0, kind="command",
                description="zfs list", on_fail="halt", passed=True, observed="0", expected="0",
                message="", at=T0,
            )
        )  # fmt: skip
        conn.execute(
            insert(t(OutputValueRow)).values(
                run_id=1, step_id="a", name="psk", value=None, fingerprint="sha256:ab", secret=True, at=T0
            )
        )  # fmt: skip
        conn.execute(
            insert(t(AmendmentRow)).values(
                run_id=1, at=T0, actor="alice@box", reason="typo", old_fingerprint="f0",
                new_fingerprint="f1", added=["c"], removed=[], changed=["a", "é"],
            )
        )  # fmt: skip
        conn.execute(
            insert(t(EvidenceRow)).values(
                run_id=1, step_id="a", attempt=1, at=T0, actor="alice@box", text="photo",
                checklist=["cabled"],
            )
        )  # fmt: skip
        conn.execute(
            insert(t(DecisionRow)).values(
                run_id=1, step_id=None, at=T0, actor="alice@box", kind="go_no_go", choice="go", reason=""
            )
        )  # fmt: skip
        conn.execute(
            insert(t(LeaseRow)).values(
                plan_name="off2", run_id=1, holder="alice@box:10", token="t1", acquired_at=T0,
                heartbeat_at=T0, expires_at=T0 + timedelta(seconds=30),
            )
        )  # fmt: skip


def test_a_database_written_by_sqlalchemy_is_read_and_appended_to(orm: Engine) -> None:
    _write_old(orm)
    path = orm.url.database
    assert path is not None
    store = Store.open(path)
    try:
        run = store.run(1)
        assert run.created_at == T0 and run.created_at.tzinfo is UTC  # written as +01:00, read as UTC
        assert run.started_at == T0 and run.ended_at is None
        assert run.step_hashes == {"a": "h1", "b": "h2"}
        a, b = store.steps(1)
        assert (a.state, a.exit_code, a.ended_at, a.blocks_dependents) == (
            "succeeded",
            0,
            T0 + timedelta(seconds=5),
            False,
        )
        assert b.blocks_dependents is True and b.started_at is None and b.reason == "flaky"
        [entry] = store.journal(1)
        assert (entry.trigger, entry.at, entry.attempt) == ("launch", T0, 1)
        assert [c.lines for c in store.output(1)] == [["one", "two"]]
        [check] = store.checks(1)
        assert check.passed is True and check.at == T0
        assert store.values(1) == [dto.OutputValue("a", "psk", None, "sha256:ab", True)]
        assert store.amendments(1) == [
            dto.Amendment(1, T0, "alice@box", "typo", "f0", "f1", ["c"], [], ["a", "é"])
        ]
        assert store.evidence(1) == [dto.Evidence(1, "a", 1, T0, "alice@box", "photo", ["cabled"])]
        assert store.decisions(1) == [dto.Decision(1, None, T0, "alice@box", "go_no_go", "go", "")]
        lease = store.lease("off2")
        assert lease is not None and lease.expires_at == T0 + timedelta(seconds=30)

        # ...and appended to: a transition, a value, a lease take-over.
        later = datetime.now(UTC)
        store.record([dto.Move(1, "b", "retry", "skipped", "pending", "bob@box", later, attempt=0)])
        store.set_values(1, [dto.OutputValue("a", "vmid", "101", None, False)])
        store.acquire_lease(
            plan_name="off2", run_id=1, holder="bob@box:20", token="t2", ttl=60, actor="bob",
            take_over_reason="alice went home",
        )  # fmt: skip
    finally:
        store.close()

    with orm.connect() as conn:
        steps = conn.execute(select(t(StepRow)).order_by(t(StepRow).c.position)).mappings().all()
        assert steps[1]["state"] == "pending"
        journal = conn.execute(select(t(JournalRow)).order_by(t(JournalRow).c.id)).mappings().all()
        assert [(j["trigger"], j["kind"]) for j in journal] == [
            ("launch", "transition"), ("retry", "transition"), ("lease_take_over", "note"),
        ]  # fmt: skip
        assert journal[1]["at"] == later and journal[1]["at"].tzinfo is UTC
        values = conn.execute(select(t(OutputValueRow)).order_by(t(OutputValueRow).c.id)).mappings().all()
        assert [(v["name"], v["value"], v["secret"]) for v in values] == [
            ("psk", None, True),
            ("vmid", "101", False),
        ]
        held = conn.execute(select(t(LeaseRow))).mappings().one()
        assert held["holder"] == "bob@box:20" and held["expires_at"] > held["acquired_at"]
        decision = (
            conn.execute(select(t(DecisionRow)).where(t(DecisionRow).c.kind == "take_over")).mappings().one()
        )
        assert decision["choice"] == "alice@box:10" and decision["step_id"] is None


def test_what_the_store_writes_reads_back_equal_through_sqlalchemy(tmp_path: Path) -> None:
    store = Store.open(str(tmp_path / "new.db"))
    try:
        run = store.create_run(
            plan_name="off2", plan_path="p.yaml", plan_fingerprint="f1", step_hashes={"a": "h"},
            inventory_name="lab", mode="live", operator="alice@box", steps=["a", "b"],
        )  # fmt: skip
        moved = datetime(2026, 3, 1, 23, 0, tzinfo=PARIS)
        store.record(
            [dto.Move(run.id, "a", "launch", "pending", "running", "alice@box", moved, attempt=1,
                      fields={"started_at": moved, "blocks_dependents": True})]
        )  # fmt: skip
        check = dto.CheckRecord(run.id, "a", 1, "post", 0, "command", "d", "halt", False, "1", "0", "m", T0)
        store.add_checks([check])
        amendment = dto.Amendment(run.id, T0, "alice@box", "r", "f1", "f2", ["c"], [], ["a"])
        store.add_amendment(amendment, new_hashes={"a": "h2", "c": "h3"})
        store.add_evidence(dto.Evidence(run.id, "a", 1, T0, "alice@box", "t", ["x", "y"]))
        steps, runs = store.steps(run.id), store.runs()
    finally:
        store.close()

    engine = create_engine(f"sqlite:///{tmp_path / 'new.db'}")
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(t(StepRow)).order_by(t(StepRow).c.position)).mappings().all()
            assert [dto.StepRecord(**{k: v for k, v in r.items() if k != "id"}) for r in rows] == steps
            assert rows[0]["started_at"] == moved and rows[0]["blocks_dependents"] is True
            got_runs = conn.execute(select(t(RunRow))).mappings().all()
            assert [dto.RunInfo(**r) for r in got_runs] == runs
            assert got_runs[0]["step_hashes"] == {"a": "h2", "c": "h3"}
            got = conn.execute(select(t(CheckResultRow))).mappings().one()
            assert dto.CheckRecord(**{k: v for k, v in got.items() if k != "id"}) == check
            got = conn.execute(select(t(AmendmentRow))).mappings().one()
            assert dto.Amendment(**{k: v for k, v in got.items() if k != "id"}) == amendment
            got = conn.execute(select(t(EvidenceRow))).mappings().one()
            assert got["checklist"] == ["x", "y"] and got["at"] == T0
    finally:
        engine.dispose()


def _raw(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every stored value as sqlite3 returns it (text, int, None), without surrogate ids
    (the new writer's scratch rows used some)."""
    conn = sqlite3.connect(path)
    try:
        return {
            name: [row[1:] if name not in ("leases", "schema_version") else row for row in
                   conn.execute(f"SELECT * FROM {name} ORDER BY 1")]
            for name in TABLES
        }  # fmt: skip
    finally:
        conn.close()


def test_both_writers_store_byte_identical_values(
    orm: Engine, tmp_path: Path, frozen_clock: datetime
) -> None:
    """The same records through SQLAlchemy and through the Store: the same stored values."""
    _write_old(orm)
    store = Store.open(str(tmp_path / "new.db"))
    local = T0.astimezone(PARIS)
    try:
        run = store.create_run(
            plan_name="off2", plan_path="plans/off2.yaml", plan_fingerprint="f1",
            step_hashes={"a": "h1", "b": "h2"}, inventory_name="lab", mode="live",
            operator="alice@box", steps=["a", "b"], status="created",
        )  # fmt: skip

        def move(step: str | None, trigger: str, source: str, dest: str, **kw: Any) -> None:
            store.record([dto.Move(run.id, step, trigger, source, dest, "alice@box", T0, **kw)])
            if trigger != "launch":  # a scratch move: _write_old journaled only the launch
                store._db.conn.execute("DELETE FROM journal WHERE trigger = ?", (trigger,))

        move(None, "start", "created", "running", fields={"created_at": local, "started_at": T0})
        move("a", "x", "pending", "ready")
        move("a", "launch", "ready", "running", attempt=1)
        done = {"started_at": T0, "ended_at": T0 + timedelta(seconds=5), "exit_code": 0, "summary": "ok"}
        move("a", "y", "running", "succeeded", attempt=1, fields=done)
        move("b", "skip", "pending", "skipped", fields={"reason": "flaky", "blocks_dependents": True})
        store.add_output(run.id, [dto.OutputChunk("a", 1, "stdout", 0, ["one", "two"])])
        store.add_checks(
            [
                dto.CheckRecord(
                    run.id, "a", 1, "post", 0, "command", "zfs list", "halt", True, "0", "0", "", T0
                )
            ]
        )
        store.set_values(run.id, [dto.OutputValue("a", "psk", None, "sha256:ab", True)])
        store.add_amendment(
            dto.Amendment(run.id, T0, "alice@box", "typo", "f0", "f1", ["c"], [], ["a", "é"]),
            new_hashes={"a": "h1", "b": "h2"},
        )
        store.add_evidence(dto.Evidence(run.id, "a", 1, T0, "alice@box", "photo", ["cabled"]))
        store.add_decision(dto.Decision(run.id, None, T0, "alice@box", "go_no_go", "go", ""))
        store.acquire_lease(
            plan_name="off2", run_id=run.id, holder="alice@box:10", token="t1", ttl=30, actor="a"
        )
    finally:
        store.close()
    old, new = _raw(Path(str(orm.url.database))), _raw(tmp_path / "new.db")
    for name in TABLES:
        assert new[name] == old[name], name
    assert old["runs"][0][8] == "2026-03-01 22:30:15.123456"  # created_at: UTC text, no offset
    assert old["runs"][0][3] == '{"a": "h1", "b": "h2"}'  # json.dumps text
