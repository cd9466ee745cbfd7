"""The checked-in DDL (migrator/store/schema_ddl.py) is what the SQLModel tables generate now,
and a database the store creates has the same schema as SQLModel's ``create_all``."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlmodel import SQLModel

import migrator.store.tables  # noqa: F401 - the tables on SQLModel.metadata
from migrator.store import ddl, schema_ddl
from migrator.store.db import Store


def _schema(db: Path) -> dict[str, str]:
    """name -> normalised CREATE statement of every table and index in the file."""
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL").fetchall()
    finally:
        conn.close()
    return {name: " ".join(sql.split()) for name, sql in rows}


def test_the_checked_in_ddl_is_current() -> None:
    assert ddl.TARGET.read_text(encoding="utf-8") == ddl.render(), (
        "migrator/store/schema_ddl.py is stale: run `python -m migrator.store.ddl --write`"
    )


def test_the_column_types_cover_every_table_and_column_of_the_metadata() -> None:
    tables = SQLModel.metadata.tables
    assert set(schema_ddl.COLUMNS) == set(tables)
    for name, columns in schema_ddl.COLUMNS.items():
        assert list(columns) == [c.name for c in tables[name].columns]
    assert schema_ddl.COLUMNS["runs"]["created_at"] == "DATETIME"
    assert schema_ddl.COLUMNS["runs"]["step_hashes"] == "JSON"
    assert schema_ddl.COLUMNS["step_records"]["blocks_dependents"] == "BOOLEAN"


def test_a_fresh_store_database_has_the_schema_create_all_makes(tmp_path: Path) -> None:
    Store.open(str(tmp_path / "store.db")).close()
    engine = create_engine(f"sqlite:///{tmp_path / 'orm.db'}")
    SQLModel.metadata.create_all(engine)
    engine.dispose()
    assert _schema(tmp_path / "store.db") == _schema(tmp_path / "orm.db")


def test_write_regenerates_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "schema_ddl.py"
    monkeypatch.setattr(ddl, "TARGET", target)
    assert ddl.main(["--write"]) == 0
    assert target.read_text(encoding="utf-8") == ddl.render()
    assert ddl.main(["--bogus"]) == 2
