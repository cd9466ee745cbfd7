"""Journal notes (entries that are not transitions: a lease take-over, "rollback started")
and the store's clock. Shared by :mod:`migrator.store.db` and :mod:`migrator.store.leases`,
which both write notes inside their own transactions."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

from migrator.store.rows import JOURNAL


def now() -> datetime:
    """Every stored time stamp is UTC."""
    return datetime.now(UTC)


def insert_note(
    conn: sqlite3.Connection,
    run_id: int,
    *,
    actor: str,
    trigger: str,
    reason: str,
    step_id: str | None = None,
    state: str = "",
) -> None:
    """Add a note to the journal in the caller's transaction; ``state`` is the step's (or
    run's) state, unchanged by the note."""
    JOURNAL.insert(
        conn,
        {
            "run_id": run_id,
            "step_id": step_id,
            "at": now(),
            "actor": actor,
            "kind": "note",
            "trigger": trigger,
            "from_state": state,
            "to_state": state,
            "reason": reason,
            "attempt": 0,
        },
    )
