"""Measured step durations of earlier runs, for learned estimates (``migrator plan``).

``migrator plan`` must start in 0.3 s, so the journal is read here with a bare read-only
:mod:`sqlite3` connection (``file:...?mode=ro``) and one query, without the
:class:`~migrator.store.db.Store`: looking never creates or changes a database.

A duration is that of one *succeeded attempt*: from its ``launch`` (or ``rerun`` after a crash)
to its ``verify_ok`` in the journal, i.e. the action and its post-checks. Steps found already
done by a pre-check, marked done or reconciled by an operator, and skipped steps never reach
``verify_ok``: they measured nothing. Only runs that executed actions count (``live`` and
``rehearsal``); dry-runs, preflights and verifies run checks only.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from migrator.errors import StoreError
from migrator.store.sqlite import DEFAULT_DB, ENV_DB, py_time, sqlite_path

EXECUTED_MODES = ("live", "rehearsal")
STARTS = ("launch", "rerun")
SUCCESS = "verify_ok"

Row = tuple[int, str, int, str, datetime]
"""``(run_id, step_id, attempt, trigger, at)`` of one journal transition."""


def measured_durations(
    plan_name: str, db: str | None, *, before_run: int | None = None
) -> dict[str, list[float]]:
    """Step id -> seconds of each succeeded attempt in earlier executed runs of ``plan_name``.

    ``db`` is ``--db`` (None: ``$MIGRATOR_DB``, else ``state.db`` here). A database that does
    not exist yet gives ``{}`` and is not created. ``before_run`` keeps only runs with a smaller
    id (a report shows the estimates as they stood when that run started).
    """
    path = sqlite_path(db or os.environ.get(ENV_DB) or DEFAULT_DB)
    if path == ":memory:" or not Path(path).expanduser().is_file():
        return {}
    return _durations(_rows_from_sqlite(Path(path).expanduser(), plan_name, before_run))


def pair_attempts(rows: Iterable[Row]) -> dict[str, list[float]]:
    """Journal transitions in order -> durations of succeeded attempts per step (pure)."""
    return _durations(rows)


QUERY = """
SELECT j.run_id, j.step_id, j.attempt, j.trigger, j.at
FROM journal AS j JOIN runs AS r ON r.id = j.run_id
WHERE r.plan_name = ? AND r.mode IN ({modes}) AND j.kind = 'transition'
  AND j.step_id IS NOT NULL AND j.trigger IN ({triggers}) AND r.id < ?
ORDER BY j.id
"""


def _rows_from_sqlite(path: Path, plan_name: str, before_run: int | None) -> list[Row]:
    # Only these three characters mean something in a SQLite file: URI path (urllib.parse
    # would do it too, at 2 ms of the cold-start budget).
    escaped = str(path.resolve()).replace("%", "%25").replace("?", "%3f").replace("#", "%23")
    # As Database.open_read_only: with no -wal beside the file no writer has it open, and an
    # immutable read leaves no -wal/-shm behind (a report or `plan` must not write).
    wal = path.with_name(path.name + "-wal")
    uri = "file:" + escaped + ("?mode=ro" if wal.exists() else "?mode=ro&immutable=1")
    modes = ", ".join("?" * len(EXECUTED_MODES))
    triggers = ", ".join("?" * (len(STARTS) + 1))
    limit = before_run if before_run is not None else 2**62
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=5.0)
        try:
            tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if not {"runs", "journal"} <= tables:
                return []  # an empty database (or one no run ever used): nothing measured yet
            cursor = conn.execute(
                QUERY.format(modes=modes, triggers=triggers),
                (plan_name, *EXECUTED_MODES, *STARTS, SUCCESS, limit),
            )
            return [(int(r), str(s), int(a), str(t), _stored_time(at)) for r, s, a, t, at in cursor]
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise StoreError(
            f"cannot read measured durations: {exc}",
            where=str(path),
            hint="is it a migrator state database? point --db at the right file",
        ) from exc


def _durations(rows: Iterable[Row]) -> dict[str, list[float]]:
    started: dict[tuple[int, str, int], datetime] = {}
    found: dict[str, list[float]] = {}
    for run_id, step_id, attempt, trigger, at in rows:
        key = (run_id, step_id, attempt)
        if trigger in STARTS:
            started[key] = at
        elif key in started:
            seconds = (at - started.pop(key)).total_seconds()
            found.setdefault(step_id, []).append(max(seconds, 0.0))
    return found


def _stored_time(text: str) -> datetime:
    at = py_time(text)
    assert at is not None  # journal.at is NOT NULL
    return at
