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
import shutil
import sqlite3
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from migrator.errors import MissingDatabaseError, StoreError

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


READ_ONLY_PRAGMAS = ("foreign_keys=ON", "busy_timeout=250", "query_only=ON")
"""A reader never waits behind a writer for seconds: under WAL it does not need to wait at
all; the short timeout covers only a checkpoint's brief exclusive moments."""


def _connect_read_only(uri: str) -> sqlite3.Connection:
    conn = sqlite3.connect(uri, uri=True, timeout=0.25, isolation_level=None, check_same_thread=False)
    try:
        for pragma in READ_ONLY_PRAGMAS:
            conn.execute("PRAGMA " + pragma).fetchall()
        conn.execute("SELECT count(*) FROM sqlite_master").fetchall()  # reads the header now
    except BaseException:
        conn.close()
        raise
    return conn


class Database:
    """One sqlite3 connection, shared by threads under a lock; transactions via :meth:`tx`."""

    def __init__(self, url: str, conn: sqlite3.Connection, *, read_only: bool = False) -> None:
        self.url = url
        self.conn = conn
        self.read_only = read_only
        self._scratch: Path | None = None  # a private copy read instead (see open_read_only)
        self._lock = threading.RLock()
        self._synchronous = NORMAL  # the level the connection is set to now

    @classmethod
    def open(cls, url: str, *, inspect: Callable[[sqlite3.Connection], object] | None = None) -> Database:
        """Open (creating the file if needed) for reading and writing. ``inspect`` looks at the
        file before anything is written to it (the WAL switch rewrites the header): it raises
        to refuse a file that is not ours."""
        path = sqlite_path(url)
        conn: sqlite3.Connection | None = None
        try:
            conn = sqlite3.connect(path, timeout=10.0, isolation_level=None, check_same_thread=False)
            if inspect is not None:
                inspect(conn)
            for pragma in PRAGMAS:
                conn.execute("PRAGMA " + pragma).fetchall()
        except sqlite3.Error as exc:
            if conn is not None:
                conn.close()
            what, hint = _open_hint(path, exc)
            raise StoreError(what, where=url, hint=hint) from exc
        except BaseException:
            if conn is not None:
                conn.close()
            raise
        return cls(url, conn)

    @classmethod
    def open_read_only(cls, url: str) -> Database:
        """Open an existing file without ever writing to it or creating it (nor its -wal/-shm
        when they are absent and the directory is read-only). A missing file is an error."""
        path = sqlite_path(url)
        if path == ":memory:":
            raise StoreError("an in-memory database has nothing to read", where=url, hint="give --db a file")
        file = Path(path)
        if not file.exists():
            raise MissingDatabaseError(
                f"no state database at {file.absolute()}",
                where=url,
                hint="give --db the file a run wrote (or set MIGRATOR_DB); nothing was created",
            )
        if file.is_dir():
            raise StoreError(
                "the state database path is a directory",
                where=url,
                hint="give --db / MIGRATOR_DB a file name",
            )
        # No -wal beside the file: no writer has it open (a writer keeps its -wal until its last
        # close, and one killed leaves it behind). Then the file is read as immutable: SQLite
        # creates no -wal/-shm next to it and takes no lock. With a -wal, the reader needs the
        # shared-memory index to see what is only in the WAL (a live or killed run's last commits).
        wal = file.with_name(file.name + "-wal")
        mode = "mode=ro" if wal.exists() else "mode=ro&immutable=1"
        uri = "file:" + quote(str(file.absolute())) + "?" + mode
        try:
            conn = _connect_read_only(uri)
        except sqlite3.Error as exc:
            if not wal.exists():
                what, hint = _open_hint(path, exc)
                raise StoreError(what, where=url, hint=hint) from exc
            # A -wal in a directory we cannot write (a read-only mount): SQLite needs a -shm
            # beside it. Read a private copy of the two files instead; it is gone at close.
            copy = Path(tempfile.mkdtemp(prefix="migrator-read-"))
            try:
                for source in (file, wal):
                    shutil.copyfile(source, copy / source.name)
                conn = _connect_read_only("file:" + quote(str(copy / file.name)) + "?mode=ro")
            except (OSError, sqlite3.Error) as again:
                shutil.rmtree(copy, ignore_errors=True)
                what, hint = _open_hint(path, exc)
                raise StoreError(what, where=url, hint=hint) from again
            database = cls(url, conn, read_only=True)
            database._scratch = copy
            return database
        return cls(url, conn, read_only=True)

    def backup(self, target: Path) -> None:
        """A consistent single-file copy (SQLite's online backup: the committed state,
        WAL frames included) written next to ``target`` then renamed onto it."""
        partial = target.with_name(target.name + ".partial")
        partial.unlink(missing_ok=True)
        with self._lock:
            try:
                copy = sqlite3.connect(partial)
                try:
                    self.conn.backup(copy)
                    # One self-contained file: no -wal beside it is needed to read it.
                    copy.execute("PRAGMA journal_mode=DELETE").fetchall()
                finally:
                    copy.close()
            except sqlite3.Error as exc:
                partial.unlink(missing_ok=True)
                raise StoreError(
                    f"the backup could not be written: {exc}",
                    where=str(target),
                    hint="is there room, is it writable?",
                ) from exc
        partial.replace(target)

    def close(self) -> None:
        """Close the connection; SQLite checkpoints the WAL into the file on the last close."""
        with self._lock:
            try:
                self.conn.close()
            except sqlite3.Error as exc:
                raise self._error(exc) from exc
            finally:
                if self._scratch is not None:
                    shutil.rmtree(self._scratch, ignore_errors=True)

    @contextmanager
    def tx(self, *, durable: bool = False) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction; ``durable``: fsynced at commit (FULL). On a
        read-only connection a deferred ``BEGIN``: one consistent snapshot, no lock taken."""
        with self._lock:
            conn = self.conn
            try:
                if self.read_only:
                    conn.execute("BEGIN")  # a deferred read transaction: takes no write lock
                else:
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
