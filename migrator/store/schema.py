"""Schema versions of the state database and the path from an old one to the current one.

A fresh database gets every table (the DDL generated from the SQLModel tables,
:mod:`migrator.store.schema_ddl`) and the current version stamp, in one transaction. An older
database is upgraded by the functions of :data:`MIGRATIONS`, one per version, each in its own
transaction together with the new version stamp (alembic's rule: a step and its bookkeeping
commit together). A database newer than this migrator is refused: writing to it with an old
model could lose what the newer version records.

To change a table: change :mod:`migrator.store.tables`, regenerate the DDL
(``python -m migrator.store.ddl --write``), bump :data:`CURRENT_VERSION` and add
``MIGRATIONS[n] = function`` that brings a version ``n-1`` database to version ``n`` (plain
SQL through the sqlite3 connection, inside the transaction it is given).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping

from migrator.errors import SchemaVersionError, StoreError
from migrator.store.schema_ddl import STATEMENTS
from migrator.store.sqlite import Database

Migration = Callable[[sqlite3.Connection], None]

CURRENT_VERSION = 4
"""Version 1: runs, step records, journal, output chunks, checks, values, amendments,
evidence, decisions, leases. Version 2: a run records its inputs (plan text, inventory path,
fingerprint and environment, database path). Version 3: a check's three-valued ``outcome``.
Version 4: the journal's ``command`` (what an attempt ran, secrets masked)."""

RUN_INPUT_COLUMNS = ("plan_text", "inventory_path", "inventory_fingerprint", "environment", "db_path")


def _to_2(conn: sqlite3.Connection) -> None:
    """Runs recorded before version 2 have empty inputs: resume then treats what it loads as
    the record (and says so), as it did before."""
    for column in RUN_INPUT_COLUMNS:
        conn.execute(f"ALTER TABLE runs ADD COLUMN {column} VARCHAR DEFAULT '' NOT NULL")


def _to_3(conn: sqlite3.Connection) -> None:
    """Version 3: ``check_results.outcome`` (holds | does_not_hold | cannot_tell).

    Versions 1-2 recorded only passed/failed; a failed check whose probe gave no answer was
    written with one of these observed texts, so those become cannot_tell.
    """
    conn.execute("ALTER TABLE check_results ADD COLUMN outcome VARCHAR DEFAULT 'holds' NOT NULL")
    conn.execute(
        "UPDATE check_results SET outcome = CASE "
        "WHEN passed THEN 'holds' "
        "WHEN observed IN ('unreadable output', 'could not probe') OR observed LIKE 'unreachable: %' "
        "THEN 'cannot_tell' ELSE 'does_not_hold' END"
    )


def _to_4(conn: sqlite3.Connection) -> None:
    """Version 4: ``journal.command``. Attempts recorded before it ran a command not recorded
    (empty: the change record says so, it does not guess it from today's plan)."""
    conn.execute("ALTER TABLE journal ADD COLUMN command VARCHAR DEFAULT '' NOT NULL")


MIGRATIONS: dict[int, Migration] = {2: _to_2, 3: _to_3, 4: _to_4}
"""``MIGRATIONS[n]`` upgrades a version ``n-1`` database to version ``n``."""

MIGRATOR_TABLES = {"runs", "step_records", "journal"}


def check_readable(conn: sqlite3.Connection, *, where: str | None = None) -> int:
    """For a read-only opening: the file must be a migrator state database this migrator can
    read (no upgrade is possible without writing). Returns its version."""
    found = stored_version(conn, where=where)
    if found is None:
        raise StoreError(
            "the file is not a migrator state database (no migrator tables)",
            where=where,
            hint="point --db at the state file a run wrote",
        )
    if found > CURRENT_VERSION:
        raise SchemaVersionError(
            f"the database is at schema version {found}, this migrator knows up to {CURRENT_VERSION}",
            where=where,
            hint="upgrade migrator",
        )
    return found


def stored_version(conn: sqlite3.Connection, *, where: str | None = None) -> int | None:
    """The version stamp, or None for an empty database."""
    tables = {
        name
        for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    }
    if "schema_version" not in tables:
        if tables & MIGRATOR_TABLES:
            raise StoreError(
                "the database has migrator tables but no schema version",
                where=where,
                hint="it was not created by migrator; point --db at another file",
            )
        if tables:
            # Another program's database: creating our tables in it would write into its file.
            shown = ", ".join(sorted(tables)[:5])
            raise StoreError(
                f"the file is a SQLite database but not a migrator state database (tables: {shown})",
                where=where,
                hint="it is left untouched; point --db at a migrator state file or at a new file name",
            )
        return None
    rows = conn.execute("SELECT version FROM schema_version").fetchall()
    if not rows:
        raise StoreError(
            "the schema_version table is empty", where=where, hint="the database is damaged; restore a copy"
        )
    return int(rows[0][0])


def ensure_schema(
    db: Database,
    *,
    current: int = CURRENT_VERSION,
    migrations: Mapping[int, Migration] = MIGRATIONS,
    where: str | None = None,
) -> int:
    """Create or upgrade the schema to ``current``; return the version found before (0: new)."""
    with db.tx() as conn:
        found = stored_version(conn, where=where)
        if found is None:
            for statement in STATEMENTS:
                conn.execute(statement)
            conn.execute("INSERT INTO schema_version (id, version) VALUES (1, ?)", (current,))
            return 0
    if found > current:
        raise SchemaVersionError(
            f"the database is at schema version {found}, this migrator knows up to {current}",
            where=where,
            hint="upgrade migrator, or use another --db",
        )
    for version in range(found + 1, current + 1):
        step = migrations.get(version)
        if step is None:
            raise StoreError(
                f"no migration to schema version {version}", where=where, hint="a bug in migrator"
            )
        with db.tx() as conn:
            step(conn)
            conn.execute("UPDATE schema_version SET version = ?", (version,))
    return found
