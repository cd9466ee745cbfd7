"""Schema versions of the state database and the path from an old one to the current one.

A fresh database gets every table (``create_all``) and the current version stamp. An older
database is upgraded by the functions of :data:`MIGRATIONS`, one per version, each in its own
transaction together with the new version stamp (alembic's rule: a step and its bookkeeping
commit together). A database newer than this migrator is refused: writing to it with an old
model could lose what the newer version records.

To change a table: bump :data:`CURRENT_VERSION` and add ``MIGRATIONS[n] = function`` that
brings a version ``n-1`` database to version ``n`` (plain SQL through the connection).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from sqlalchemy import Connection, Engine, inspect, select, update
from sqlmodel import SQLModel

from migrator.errors import SchemaVersionError, StoreError
from migrator.store.tables import SchemaVersionRow

Migration = Callable[[Connection], None]

CURRENT_VERSION = 1
"""Version 1: runs, step records, journal, output chunks, checks, values, amendments,
evidence, decisions, leases."""

MIGRATIONS: dict[int, Migration] = {}
"""``MIGRATIONS[n]`` upgrades a version ``n-1`` database to version ``n``."""


def stored_version(conn: Connection) -> int | None:
    """The version stamp, or None for an empty database."""
    tables = set(inspect(conn).get_table_names())
    if "schema_version" not in tables:
        if tables & {"runs", "step_records", "journal"}:
            raise StoreError(
                "the database has migrator tables but no schema version",
                hint="it was not created by migrator; point --db at another file",
            )
        return None
    version = conn.execute(select(SchemaVersionRow.version)).scalar_one_or_none()  # type: ignore[call-overload]
    if version is None:
        raise StoreError("the schema_version table is empty", hint="the database is damaged; restore a copy")
    return int(version)


def ensure_schema(
    engine: Engine,
    *,
    current: int = CURRENT_VERSION,
    migrations: Mapping[int, Migration] = MIGRATIONS,
    where: str | None = None,
) -> int:
    """Create or upgrade the schema to ``current``; return the version found before (0: new)."""
    with engine.begin() as conn:
        found = stored_version(conn)
        if found is None:
            SQLModel.metadata.create_all(conn)
            conn.execute(SchemaVersionRow.__table__.insert().values(id=1, version=current))  # type: ignore[attr-defined]
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
        with engine.begin() as conn:
            step(conn)
            conn.execute(update(SchemaVersionRow).values(version=version))
    return found
