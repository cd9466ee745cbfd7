"""SQL text for the store's tables, built once from the generated column list, and rows read
back as dicts of Python values (UTC-aware datetimes, decoded JSON, bools).

The statements are plain strings with ``?`` placeholders: sqlite3 caches the compiled
statement per connection by its text, so a string built once is prepared once.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from migrator.store.schema_ddl import COLUMNS
from migrator.store.sqlite import READERS, db_value

Reader = Callable[[Any], Any]


def _quote(name: str) -> str:
    # "trigger" is an SQL keyword; quoting every column costs nothing and avoids surprises.
    return f'"{name}"'


class Table:
    """One table: its columns, how to read each, and its INSERT statement per column set."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.columns: tuple[str, ...] = tuple(COLUMNS[name])
        self.readers: tuple[Reader | None, ...] = tuple(READERS.get(COLUMNS[name][c]) for c in self.columns)
        self.select = f"SELECT {', '.join(map(_quote, self.columns))} FROM {name}"
        self._inserts: dict[tuple[str, ...], str] = {}

    def reading_only(self, present: Iterable[str]) -> Table:
        """This table as read from an older file that lacks some columns (a read-only opening
        cannot upgrade it): each missing column reads as its default, empty text."""
        have = set(present)
        copy = Table(self.name)
        copy.select = (
            "SELECT "
            + ", ".join(_quote(c) if c in have else f"'' AS {_quote(c)}" for c in self.columns)
            + f" FROM {self.name}"
        )
        return copy

    def insert_sql(self, columns: tuple[str, ...]) -> str:
        sql = self._inserts.get(columns)
        if sql is None:
            names = ", ".join(map(_quote, columns))
            sql = f"INSERT INTO {self.name} ({names}) VALUES ({', '.join('?' * len(columns))})"
            self._inserts[columns] = sql
        return sql

    def insert(self, conn: sqlite3.Connection, row: dict[str, Any]) -> int:
        """Insert one row; return its rowid (the id of the new row)."""
        columns = tuple(row)
        cur = conn.execute(self.insert_sql(columns), [db_value(row[c]) for c in columns])
        return int(cur.lastrowid or 0)

    def insert_many(self, conn: sqlite3.Connection, rows: Sequence[dict[str, Any]]) -> None:
        """Insert rows that all have the same columns (one executemany)."""
        if not rows:
            return
        columns = tuple(rows[0])
        conn.executemany(self.insert_sql(columns), ([db_value(r[c]) for c in columns] for r in rows))

    def read(
        self, conn: sqlite3.Connection, where: str = "", params: Sequence[Any] = (), *, order: str = ""
    ) -> list[dict[str, Any]]:
        """Rows as dicts of Python values: ``where`` and ``order`` are SQL after WHERE/ORDER BY."""
        sql = self.select
        if where:
            sql += " WHERE " + where
        if order:
            sql += " ORDER BY " + order
        return list(self.decode(conn.execute(sql, params)))

    def decode(self, rows: Iterable[Sequence[Any]]) -> Iterable[dict[str, Any]]:
        columns, readers = self.columns, self.readers
        for row in rows:
            yield {
                c: (v if r is None or v is None else r(v))
                for c, r, v in zip(columns, readers, row, strict=True)
            }


RUNS = Table("runs")
STEPS = Table("step_records")
JOURNAL = Table("journal")
CHUNKS = Table("output_chunks")
CHECKS = Table("check_results")
VALUES = Table("output_values")
AMENDMENTS = Table("amendments")
EVIDENCE = Table("evidence")
DECISIONS = Table("decisions")
LEASES = Table("leases")


def without_id(row: dict[str, Any]) -> dict[str, Any]:
    """The row without its surrogate key (the DTOs that have no ``id``)."""
    return {k: v for k, v in row.items() if k != "id"}
