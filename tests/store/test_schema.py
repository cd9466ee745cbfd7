"""Schema versions: a fresh database is stamped, an old one upgraded, a newer one refused."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import Connection, create_engine, text

from migrator.errors import SchemaVersionError, StoreError
from migrator.store import schema
from migrator.store.db import Store


def test_fresh_database_is_stamped_with_the_current_version(tmp_path: Path) -> None:
    Store.open(str(tmp_path / "s.db")).close()
    version = sqlite3.connect(tmp_path / "s.db").execute("select version from schema_version").fetchone()
    assert version == (schema.CURRENT_VERSION,)


def test_old_database_is_upgraded_step_by_step(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    Store.open(str(db)).close()  # a version-1 database

    def to_2(conn: Connection) -> None:
        conn.execute(text("ALTER TABLE runs ADD COLUMN ticket VARCHAR DEFAULT ''"))

    def to_3(conn: Connection) -> None:
        conn.execute(text("CREATE INDEX ix_runs_ticket ON runs (ticket)"))

    engine = create_engine(f"sqlite:///{db}")
    found = schema.ensure_schema(engine, current=3, migrations={2: to_2, 3: to_3})
    engine.dispose()
    assert found == 1
    conn = sqlite3.connect(db)
    assert conn.execute("select version from schema_version").fetchone() == (3,)
    assert "ticket" in [row[1] for row in conn.execute("pragma table_info(runs)")]
    assert conn.execute("select name from sqlite_master where name='ix_runs_ticket'").fetchone()


def test_failed_migration_leaves_the_old_version(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    Store.open(str(db)).close()

    def broken(conn: Connection) -> None:
        conn.execute(text("ALTER TABLE runs ADD COLUMN x VARCHAR"))
        conn.execute(text("THIS IS NOT SQL"))

    engine = create_engine(f"sqlite:///{db}")
    with pytest.raises(Exception, match="syntax error"):
        schema.ensure_schema(engine, current=2, migrations={2: broken})
    engine.dispose()
    assert sqlite3.connect(db).execute("select version from schema_version").fetchone() == (1,)


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
    engine = create_engine(f"sqlite:///{db}")
    with pytest.raises(StoreError, match="no migration to schema version 2"):
        schema.ensure_schema(engine, current=2, migrations={})
    engine.dispose()


def test_foreign_database_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    conn = sqlite3.connect(db)
    conn.execute("create table runs (id integer)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="no schema version"):
        Store.open(str(db))
