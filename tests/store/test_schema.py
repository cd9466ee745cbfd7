"""Schema versions: a fresh database is stamped, an old one upgraded, a newer one refused."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from migrator.errors import SchemaVersionError, StoreError
from migrator.store import schema
from migrator.store.db import Store
from migrator.store.sqlite import Database


def _ensure(db: Path, **kw: object) -> int:
    database = Database.open(str(db))
    try:
        return schema.ensure_schema(database, **kw)  # type: ignore[arg-type]
    finally:
        database.close()


def test_fresh_database_is_stamped_with_the_current_version(tmp_path: Path) -> None:
    Store.open(str(tmp_path / "s.db")).close()
    version = sqlite3.connect(tmp_path / "s.db").execute("select version from schema_version").fetchone()
    assert version == (schema.CURRENT_VERSION,)


def test_old_database_is_upgraded_step_by_step(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    Store.open(str(db)).close()  # a database at the current version
    now = schema.CURRENT_VERSION

    def add_ticket(conn: sqlite3.Connection) -> None:
        conn.execute("ALTER TABLE runs ADD COLUMN ticket VARCHAR DEFAULT ''")

    def index_ticket(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE INDEX ix_runs_ticket ON runs (ticket)")

    assert _ensure(db, current=now + 2, migrations={now + 1: add_ticket, now + 2: index_ticket}) == now
    conn = sqlite3.connect(db)
    assert conn.execute("select version from schema_version").fetchone() == (now + 2,)
    assert "ticket" in [row[1] for row in conn.execute("pragma table_info(runs)")]
    assert conn.execute("select name from sqlite_master where name='ix_runs_ticket'").fetchone()


def _version_1_file(db: Path) -> None:
    """A state file as migrator wrote it at schema version 1 (no recorded run inputs), with
    one run in it."""
    store = Store.open(str(db))
    store.create_run(plan_name="p", plan_path="/plans/p.yaml", plan_fingerprint="f", step_hashes={},
                     inventory_name="lab", mode="rehearsal", operator="a@b", steps=["s1"])  # fmt: skip
    store.close()
    conn = sqlite3.connect(db)
    for column in schema.RUN_INPUT_COLUMNS:
        conn.execute(f"ALTER TABLE runs DROP COLUMN {column}")
    conn.execute("ALTER TABLE check_results DROP COLUMN outcome")  # version 3's
    conn.execute("ALTER TABLE journal DROP COLUMN command")  # version 4's
    conn.execute("UPDATE schema_version SET version = 1")
    conn.commit()
    conn.close()


def test_a_version_1_file_is_read_without_writing_and_upgraded_on_write(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    _version_1_file(db)
    before = db.read_bytes()
    reader = Store.open(str(db), read_only=True)
    try:
        (run,) = reader.runs()
        assert run.plan_name == "p" and run.inventory_path == "" and run.environment == ""
    finally:
        reader.close()
    assert db.read_bytes() == before  # a read-only opening upgrades nothing

    Store.open(str(db)).close()
    conn = sqlite3.connect(db)
    assert conn.execute("select version from schema_version").fetchone() == (schema.CURRENT_VERSION,)
    columns = [row[1] for row in conn.execute("pragma table_info(runs)")]
    assert set(schema.RUN_INPUT_COLUMNS) <= set(columns)
    assert "command" in [row[1] for row in conn.execute("pragma table_info(journal)")]
    assert conn.execute("select plan_name, inventory_path from runs").fetchall() == [("p", "")]


def test_a_sqlite_file_of_another_program_is_refused_and_left_untouched(tmp_path: Path) -> None:
    db = tmp_path / "photos.db"
    conn = sqlite3.connect(db)
    conn.execute("create table albums (id integer primary key, name text)")
    conn.execute("insert into albums (name) values ('holidays')")
    conn.commit()
    conn.close()
    before = db.read_bytes()
    for read_only in (False, True):
        with pytest.raises(StoreError, match="not a migrator state database"):
            Store.open(str(db), read_only=read_only)
    assert db.read_bytes() == before
    assert not (tmp_path / "photos.db-wal").exists()


def test_failed_migration_leaves_the_old_version(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    Store.open(str(db)).close()
    now = schema.CURRENT_VERSION

    def broken(conn: sqlite3.Connection) -> None:
        conn.execute("ALTER TABLE runs ADD COLUMN x VARCHAR")
        conn.execute("THIS IS NOT SQL")

    now = schema.CURRENT_VERSION
    with pytest.raises(StoreError, match="syntax error") as caught:
        _ensure(db, current=now + 1, migrations={now + 1: broken})
    assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
    conn = sqlite3.connect(db)
    assert conn.execute("select version from schema_version").fetchone() == (now,)
    assert "x" not in [row[1] for row in conn.execute("pragma table_info(runs)")]  # rolled back too


def test_newer_database_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    Store.open(str(db)).close()
    conn = sqlite3.connect(db)
    conn.execute("update schema_version set version = ?", (schema.CURRENT_VERSION + 1,))
    conn.commit()
    conn.close()
    with pytest.raises(SchemaVersionError, match=r"knows up to"):
        Store.open(str(db))


def test_missing_migration_is_an_error(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    Store.open(str(db)).close()
    now = schema.CURRENT_VERSION
    with pytest.raises(StoreError, match=f"no migration to schema version {now + 1}"):
        _ensure(db, current=now + 1, migrations={})


def test_foreign_database_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    conn = sqlite3.connect(db)
    conn.execute("create table runs (id integer)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="no schema version"):
        Store.open(str(db))


def test_an_empty_schema_version_table_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    Store.open(str(db)).close()
    conn = sqlite3.connect(db)
    conn.execute("delete from schema_version")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="schema_version table is empty") as caught:
        Store.open(str(db))
    assert caught.value.where == f"sqlite:///{db}"


def test_a_fresh_database_is_created_in_one_transaction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A statement that fails half-way through the DDL leaves no table behind.
    db = tmp_path / "s.db"
    broken = (*schema.STATEMENTS[:3], "CREATE TABLE runs (id INTEGER)")  # runs exists by then
    with monkeypatch.context() as patch:
        patch.setattr(schema, "STATEMENTS", broken)
        with pytest.raises(StoreError, match="already exists"):
            _ensure(db)
    assert sqlite3.connect(db).execute("select name from sqlite_master").fetchall() == []
    Store.open(str(db)).close()  # and the next open creates the whole schema
    assert sqlite3.connect(db).execute("select version from schema_version").fetchone() == (
        schema.CURRENT_VERSION,
    )


def test_version_2_checks_get_their_outcome(tmp_path: Path) -> None:
    """Version 3 adds check_results.outcome: a passed check holds; a failed one whose probe gave
    no answer (the texts versions 1-2 wrote for it) cannot tell; any other does not hold."""
    db = tmp_path / "s.db"
    store = Store.open(str(db))
    run = store.create_run(
        plan_name="p", plan_path="p.yaml", plan_fingerprint="f", step_hashes={}, inventory_name="lab",
        mode="live", operator="o", steps=["a"],
    )  # fmt: skip
    store.close()
    conn = sqlite3.connect(db)
    conn.execute("ALTER TABLE check_results DROP COLUMN outcome")  # back to version 2
    conn.execute("ALTER TABLE journal DROP COLUMN command")  # (version 4's)
    conn.execute("UPDATE schema_version SET version = 2")
    rows = ((1, "exit 0"), (0, "exit 1"), (0, "unreadable output"), (0, "could not probe"),
            (0, "unreachable: connection refused"))  # fmt: skip
    for passed, observed in rows:
        conn.execute(
            "INSERT INTO check_results (run_id, step_id, attempt, stage, position, kind, description,"
            " on_fail, passed, observed, expected, message, at) VALUES (?, 'a', 1, 'pre', 0, 'command', '',"
            " 'halt', ?, ?, '', '', '2026-01-01 00:00:00')",
            (run.id, passed, observed),
        )
    conn.commit()
    conn.close()
    store = Store.open(str(db))
    try:
        outcomes = [c.outcome for c in store.checks(run.id)]
    finally:
        store.close()
    assert outcomes == ["holds", "does_not_hold", "cannot_tell", "cannot_tell", "cannot_tell"]
