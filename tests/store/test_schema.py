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
    Store.open(str(db)).close()  # a version-1 database

    def to_2(conn: sqlite3.Connection) -> None:
        conn.execute("ALTER TABLE runs ADD COLUMN ticket VARCHAR DEFAULT ''")

    def to_3(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE INDEX ix_runs_ticket ON runs (ticket)")

    assert _ensure(db, current=3, migrations={2: to_2, 3: to_3}) == 1
    conn = sqlite3.connect(db)
    assert conn.execute("select version from schema_version").fetchone() == (3,)
    assert "ticket" in [row[1] for row in conn.execute("pragma table_info(runs)")]
    assert conn.execute("select name from sqlite_master where name='ix_runs_ticket'").fetchone()


def test_failed_migration_leaves_the_old_version(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    Store.open(str(db)).close()

    def broken(conn: sqlite3.Connection) -> None:
        conn.execute("ALTER TABLE runs ADD COLUMN x VARCHAR")
        conn.execute("THIS IS NOT SQL")

    with pytest.raises(StoreError, match="syntax error") as caught:
        _ensure(db, current=2, migrations={2: broken})
    assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
    conn = sqlite3.connect(db)
    assert conn.execute("select version from schema_version").fetchone() == (1,)
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
    with pytest.raises(StoreError, match="no migration to schema version 2"):
        _ensure(db, current=2, migrations={})


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
    assert sqlite3.connect(db).execute("select version from schema_version").fetchone() == (1,)
