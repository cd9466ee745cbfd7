"""The state database's one connection (stdlib :mod:`sqlite3`), its pragmas and transactions,
and the value formats SQLAlchemy used for the same tables (so either can read the other's file).

No SQLAlchemy on the run path: importing it and the SQLModel tables cost ~0.35 s of start-up
and its statement execution ~0.3 ms per step (bench/README.md, ssh_overhead.py).

Connection: ``isolation_level=None`` (we issue ``BEGIN IMMEDIATE`` ourselves, so two writers
queue on the busy timeout instead of failing on a WAL snapshot upgrade), WAL, foreign keys,
``busy_timeout=10000``, ``synchronous=NORMAL``; a durable transaction switches the connection
to FULL before its BEGIN (see :mod:`migrator.store.db` for the durability contract). The
engine's runner, the lease heartbeat thread and the TUI's workers share one Store, so the
connection is opened with ``check_same_thread=False`` and every transaction holds a lock.

Formats (SQLAlchemy 2 SQLite dialect + sqlmodel's ``UTCDateTime``): a datetime is converted
to UTC and stored as text ``YYYY-MM-DD HH:MM:SS.ffffff``; read back it is UTC-aware; a naive
datetime is refused. JSON columns hold ``json.dumps`` text; booleans are 0/1 and read as bool.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from migrator.errors import StoreError

DEFAULT_DB = "state.db"
ENV_DB = "MIGRATOR_DB"
FULL, NORMAL = "FULL", "NORMAL"
PRAGMAS = ("journal_mode=WAL", "foreign_keys=ON", "busy_timeout=10000", "synchronous=NORMAL")
URL_PREFIXES = ("sqlite:///", "sqlite+pysqlite:///")
MEMORY_URLS = ("sqlite://", "sqlite+pysqlite://")


def sqlite_path(url: str) -> str:
    """The file (or ``:memory:``) of a state-database URL; StoreError for any non-SQLite URL."""
    if "://" not in url:
        return url
    for prefix in URL_PREFIXES:
        if url.startswith(prefix):
            return url[len(prefix) :].split("?", 1)[0] or ":memory:"
    if url in MEMORY_URLS:
        return ":memory:"
    raise StoreError(
        f"only SQLite state databases are supported, not {url.split('://', 1)[0]}://",
        where=url,
        hint="give --db / MIGRATOR_DB a file path or a sqlite:///PATH URL",
    )


def _open_hint(path: str, exc: sqlite3.Error) -> tuple[str, str]:
    """What went wrong opening ``path``, and what to do about it."""
    text = str(exc)
    if path != ":memory:" and Path(path).is_dir():
        return "the state database path is a directory", "give --db / MIGRATOR_DB a file name"
    if "not a database" in text:
        return (
            f"the state database file is not a SQLite database ({text})",
            "point --db / MIGRATOR_DB at a migrator state file, or at a new file name",
        )
    if "readonly" in text or "read-only" in text or "unable to open" in text:
        return (
            f"cannot open the state database for writing ({text})",
            "check that its directory exists and that the file and directory are writable",
        )
    return f"cannot open the state database: {text}", "check --db / MIGRATOR_DB and file permissions"


class Database:
    """One sqlite3 connection, shared by threads under a lock; transactions via :meth:`tx`."""

    def __init__(self, url: str, conn: sqlite3.Connection) -> None:
        self.url = url
        self.conn = conn
        self._lock = threading.RLock()
        self._synchronous = NORMAL  # the level the connection is set to now

    @classmethod
    def open(cls, url: str) -> Database:
        path = sqlite_path(url)
        conn: sqlite3.Connection | None = None
        try:
            conn = sqlite3.connect(path, timeout=10.0, isolation_level=None, check_same_thread=False)
            for pragma in PRAGMAS:
                conn.execute("PRAGMA " + pragma).fetchall()
        except sqlite3.Error as exc:
            if conn is not None:
                conn.close()
            what, hint = _open_hint(path, exc)
            raise StoreError(what, where=url, hint=hint) from exc
        return cls(url, conn)

    def close(self) -> None:
        """Close the connection; SQLite checkpoints the WAL into the file on the last close."""
        with self._lock:
            try:
                self.conn.close()
            except sqlite3.Error as exc:
                raise self._error(exc) from exc

    @contextmanager
    def tx(self, *, durable: bool = False) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction; ``durable``: fsynced at commit (FULL)."""
        with self._lock:
            conn = self.conn
            try:
                level = FULL if durable else NORMAL
                if self._synchronous != level:
                    # Per connection, from the next commit on; set outside a transaction.
                    conn.execute(f"PRAGMA synchronous={level}")
                    self._synchronous = level
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise self._error(exc) from exc
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException as failure:
                try:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                except sqlite3.Error as exc:
                    raise self._error(exc) from failure
                if isinstance(failure, sqlite3.Error):
                    raise self._error(failure) from failure
                raise

    def _error(self, exc: sqlite3.Error) -> StoreError:
        return StoreError(
            f"state database error: {exc.__class__.__name__}: {exc}",
            where=self.url,
            hint="is the disk full or the file read-only?",
        )


# -- values ------------------------------------------------------------------------------------


def db_time(at: datetime) -> str:
    """A datetime as SQLAlchemy + sqlmodel store it in SQLite: UTC, no offset, microseconds."""
    if at.utcoffset() is None:
        raise StoreError(
            f"a time stamp without a time zone: {at.isoformat()}",
            hint="a bug in migrator: every stored time is timezone-aware (datetime.now(UTC))",
        )
    u = at.astimezone(UTC)
    return (
        f"{u.year:04d}-{u.month:02d}-{u.day:02d} "
        f"{u.hour:02d}:{u.minute:02d}:{u.second:02d}.{u.microsecond:06d}"
    )


def py_time(text: str | None) -> datetime | None:
    """A stored time stamp back as a UTC-aware datetime (what sqlmodel's UTCDateTime returns)."""
    if text is None:
        return None
    at = datetime.fromisoformat(text)
    return at.replace(tzinfo=UTC) if at.utcoffset() is None else at.astimezone(UTC)


def db_value(value: object) -> object:
    """A Python value as bound to a column: datetimes and JSON (dict/list) as SQLAlchemy writes
    them; bool is an int to sqlite3 already (0/1)."""
    if isinstance(value, datetime):
        return db_time(value)
    if isinstance(value, dict | list | tuple):
        return json.dumps(value)
    return value


def _json(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _bool(value: int | None) -> bool | None:
    return None if value is None else bool(value)


READERS: dict[str, Callable[[Any], Any]] = {"DATETIME": py_time, "JSON": _json, "BOOLEAN": _bool}
"""Column type -> conversion of a stored value; other types are read as they are."""
