"""The state database: everything goes through :class:`Store`, whose one connection
(:mod:`migrator.store.sqlite`) is the only one the run opens.

SQLite only: ``state.db`` in the working directory, or a path (or ``sqlite:///PATH``) by
``--db`` or ``MIGRATOR_DB``. The tables are the SQLModel tables of :mod:`migrator.store.tables`,
created from DDL generated from them (:mod:`migrator.store.ddl`), but the store runs on the
standard library's :mod:`sqlite3` (:mod:`migrator.store.sqlite`): SQLAlchemy is not imported
on the run path. The connection gets WAL, foreign keys, a busy timeout, and every transaction
starts with ``BEGIN IMMEDIATE`` so that two writers queue instead of failing on a snapshot
upgrade (libraries.md, sqlmodel). The hot path (transitions, output batches) runs SQL strings
built once per statement shape: one short transaction per write. Everything read is handed
out as frozen DTOs.

Durability (SQLite, WAL). A write-ahead record - "step X started attempt N" (a move into
``running``, :meth:`Store.record` with ``durable=True``) and journal notes such as
"rollback started" - commits with ``synchronous=FULL``: it is on disk before the action
touches the world, even across a power cut. Every other commit (outcomes, check results,
output, values, decisions, leases) uses ``synchronous=NORMAL``: no fsync of its own. An
application crash loses nothing (the WAL is in the OS page cache); a power cut or kernel
panic can lose only what was committed after the last FULL commit, because WAL frames are
recovered in order and the FULL commit's fsync carried every frame before it. So at worst
the outcome of the last step that ran (and what followed it) is lost: that step is found
``running``, hence in doubt, and its post-checks settle it (or the operator) - the same path
as a crash mid-action. Closing the store checkpoints the WAL, which syncs it. One fsync per
step instead of two (~0.6-2 ms each, bench/README.md).
"""

from __future__ import annotations

import os
import shlex
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from migrator.errors import StoreError, UnknownRunError
from migrator.store import dto
from migrator.store.leases import LeaseMixin
from migrator.store.notes import insert_note, now
from migrator.store.rows import (
    AMENDMENTS,
    CHECKS,
    CHUNKS,
    DECISIONS,
    EVIDENCE,
    JOURNAL,
    RUNS,
    STEPS,
    VALUES,
    Table,
    without_id,
)
from migrator.store.schema import check_readable, ensure_schema, stored_version
from migrator.store.sqlite import DEFAULT_DB, ENV_DB, Database, db_value, sqlite_path

PROGRESS_STREAM = "progress"
"""Output chunks of this stream are progress samples (JSON), not output lines."""

__all__ = ["DEFAULT_DB", "ENV_DB", "Store", "resolve_url"]

_JOURNAL_COLUMNS = (
    "run_id", "step_id", "at", "actor", "kind", "trigger", "from_state", "to_state", "reason", "attempt",
    "command",
)  # fmt: skip
_STEP_COLUMNS = (
    "run_id",
    "step_id",
    "position",
    "state",
    "attempt",
    "summary",
    "reason",
    "blocks_dependents",
)


def resolve_url(db: str | None) -> str:
    """``--db`` value, else ``$MIGRATOR_DB``, else ``state.db`` here; a bare path means SQLite.
    Any URL but SQLite's is refused (StoreError)."""
    value = db or os.environ.get(ENV_DB) or DEFAULT_DB
    if "://" in value:
        sqlite_path(value)  # refuses another scheme
        return value
    return "sqlite:///" + str(Path(value).expanduser())


class Store(LeaseMixin):
    """Runs, step records, the journal and everything recorded about a run."""

    def __init__(self, url: str, *, db: Database) -> None:
        self.url = url
        self._db = db
        self._statements: dict[tuple[bool, tuple[str, ...]], str] = {}
        self._journal_insert = JOURNAL.insert_sql(_JOURNAL_COLUMNS)
        self._runs = RUNS

    @classmethod
    def open(cls, db: str | None = None, *, read_only: bool = False) -> Store:
        """Open (or create) the state database. ``read_only``: an existing file only, opened
        so that nothing is ever written or created (status, runs, log, report, backup)."""
        url = resolve_url(db)
        if read_only:
            return cls._open_read_only(url)
        database = Database.open(url, inspect=lambda conn: stored_version(conn, where=url))
        try:
            ensure_schema(database, where=url)
        except BaseException:
            database.close()
            raise
        return cls(url, db=database)

    @classmethod
    def _open_read_only(cls, url: str) -> Store:
        database = Database.open_read_only(url)
        try:
            with database.tx() as conn:
                check_readable(conn, where=url)
                present = [row[1] for row in conn.execute("PRAGMA table_info(runs)")]
        except BaseException:
            database.close()
            raise
        store = cls(url, db=database)
        store._runs = RUNS.reading_only(present)
        return store

    @property
    def path(self) -> Path:
        """The database file, absolute (what a printed command passes as ``--db``)."""
        return Path(sqlite_path(self.url)).absolute()

    @property
    def read_only(self) -> bool:
        return self._db.read_only

    def backup(self, target: Path) -> None:
        """Write a consistent single-file copy of the database to ``target`` (a live run may
        be writing meanwhile: the copy is the last committed state)."""
        self._db.backup(target)

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _tx(self, *, durable: bool = False) -> Iterator[sqlite3.Connection]:
        """One transaction; ``durable``: a write-ahead record, fsynced at commit (FULL)."""
        with self._db.tx(durable=durable) as conn:
            yield conn

    # -- runs -------------------------------------------------------------------------------

    def create_run(
        self,
        *,
        plan_name: str,
        plan_path: str,
        plan_fingerprint: str,
        step_hashes: dict[str, str],
        inventory_name: str,
        mode: str,
        operator: str,
        steps: Sequence[str],
        status: str = "created",
        inputs: dto.RunInputs | None = None,
    ) -> dto.RunInfo:
        at = now()
        recorded = dict(inputs.__dict__) if inputs is not None else {}
        with self._tx() as conn:
            run_id = RUNS.insert(
                conn,
                {
                    **recorded,
                    "plan_name": plan_name,
                    "plan_path": plan_path,
                    "plan_fingerprint": plan_fingerprint,
                    "step_hashes": dict(step_hashes),
                    "inventory_name": inventory_name,
                    "mode": mode,
                    "operator": operator,
                    "status": status,
                    "created_at": at,
                    "summary": "",
                },
            )
            _insert_steps(conn, run_id, list(enumerate(steps)))
        return self.run(run_id)

    def run(self, run_id: int) -> dto.RunInfo:
        with self._tx() as conn:
            rows = self._runs.read(conn, "id = ?", (run_id,))
        if not rows:
            raise UnknownRunError(
                f"no run {run_id} in this database",
                where=self.url,
                hint=f"see `migrator runs --db {shlex.quote(str(self.path))}`",
            )
        return dto.RunInfo(**rows[0])

    def runs(self, plan_name: str | None = None, *, mode: str | None = None) -> list[dto.RunInfo]:
        """Runs, newest first."""
        where, params = _equal(plan_name=plan_name, mode=mode)
        with self._tx() as conn:
            return [dto.RunInfo(**row) for row in self._runs.read(conn, where, params, order="id DESC")]

    def update_run(self, run_id: int, **fields: Any) -> None:
        if not fields:
            return
        unknown = set(fields) - set(RUNS.columns)
        if unknown:
            raise StoreError(f"runs has no column {', '.join(sorted(unknown))}", hint="a bug in migrator")
        sets = ", ".join(f'"{name}" = ?' for name in fields)
        with self._tx() as conn:
            conn.execute(f"UPDATE runs SET {sets} WHERE id = ?", [*map(db_value, fields.values()), run_id])

    def accept_inventory(
        self, run_id: int, inventory_name: str, inputs: dto.RunInputs, decision: dto.Decision, *, journal: str
    ) -> None:
        """The operator accepted another inventory for the run: the decision, a journal note
        and the run's recorded inputs change in one transaction."""
        with self._tx(durable=True) as conn:
            DECISIONS.insert(conn, dict(decision.__dict__))
            insert_note(conn, run_id, actor=decision.actor, trigger="inventory_change", reason=journal)
            conn.execute(
                "UPDATE runs SET inventory_name = ?, inventory_path = ?, inventory_fingerprint = ?, "
                "environment = ? WHERE id = ?",
                (
                    inventory_name,
                    inputs.inventory_path,
                    inputs.inventory_fingerprint,
                    inputs.environment,
                    run_id,
                ),
            )

    def add_steps(self, run_id: int, steps: Sequence[tuple[str, int]]) -> None:
        """Records for steps added by an accepted plan change: ``(step_id, position)``."""
        if not steps:
            return
        with self._tx() as conn:
            _insert_steps(conn, run_id, [(pos, sid) for sid, pos in steps])

    def reposition(self, run_id: int, positions: dict[str, int]) -> None:
        with self._tx() as conn:
            conn.executemany(
                "UPDATE step_records SET position = ? WHERE run_id = ? AND step_id = ?",
                [(pos, run_id, sid) for sid, pos in positions.items()],
            )

    def annotate_step(self, run_id: int, step_id: str, *, summary: str) -> None:
        """Set a step's summary without a transition (dry-run verdicts)."""
        with self._tx() as conn:
            conn.execute(
                "UPDATE step_records SET summary = ? WHERE run_id = ? AND step_id = ?",
                (summary, run_id, step_id),
            )

    # -- steps and the journal ------------------------------------------------------------------

    def steps(self, run_id: int) -> list[dto.StepRecord]:
        with self._tx() as conn:
            rows = STEPS.read(conn, "run_id = ?", (run_id,), order="position")
        return [dto.StepRecord(**without_id(row)) for row in rows]

    def record(self, moves: Sequence[dto.Move], *, durable: bool = False) -> None:
        """Apply and journal ``moves`` in one transaction. A row not in the move's source state
        means somebody else changed it: refuse (the transaction rolls back). ``durable``: the
        moves are a write-ahead record (a step starting an attempt), fsynced at commit."""
        journal = []
        with self._tx(durable=durable) as conn:
            for move in moves:
                values = dict(move.fields)
                if move.step_id is not None:
                    values.setdefault("attempt", move.attempt)
                columns = tuple(sorted(values))
                params = [db_value(values[c]) for c in columns]
                params += [move.dest, move.source, move.run_id]
                if move.step_id is not None:
                    params.append(move.step_id)
                if conn.execute(self._move_statement(move.step_id is None, columns), params).rowcount != 1:
                    what = f"step {move.step_id}" if move.step_id else f"run {move.run_id}"
                    raise StoreError(
                        f"{what} is no longer {move.source}",
                        where=self.url,
                        hint="another process changed this run; see `migrator status`",
                    )
                journal.append(
                    (
                        move.run_id,
                        move.step_id,
                        db_value(move.at),
                        move.actor,
                        "transition",
                        move.trigger,
                        move.source,
                        move.dest,
                        move.reason,
                        move.attempt,
                        move.command,
                    )
                )
            conn.executemany(self._journal_insert, journal)

    def _move_statement(self, is_run: bool, columns: tuple[str, ...]) -> str:
        """The UPDATE of a move touching ``columns``: SET the columns then the state, WHERE the
        state is the source and the row is the run (or the run's step). Built once per shape."""
        key = (is_run, columns)
        statement = self._statements.get(key)
        if statement is None:
            table, state = (RUNS, "status") if is_run else (STEPS, "state")
            unknown = set(columns) - set(table.columns)
            if unknown:
                raise StoreError(
                    f"{table.name} has no column {', '.join(sorted(unknown))}", hint="a bug in migrator"
                )
            sets = ", ".join(f'"{c}" = ?' for c in (*columns, state))
            where = f"{state} = ? AND " + ("id = ?" if is_run else "run_id = ? AND step_id = ?")
            statement = f"UPDATE {table.name} SET {sets} WHERE {where}"
            self._statements[key] = statement
        return statement

    def note(
        self,
        run_id: int,
        *,
        actor: str,
        trigger: str,
        reason: str,
        step_id: str | None = None,
        state: str = "",
    ) -> None:
        """A journal entry that is not a transition (a lease take-over, a warning). Durable:
        notes are rare, and "rollback started" is the rollback's write-ahead record."""
        with self._tx(durable=True) as conn:
            insert_note(
                conn, run_id, actor=actor, trigger=trigger, reason=reason, step_id=step_id, state=state
            )

    def journal(
        self, run_id: int, step_id: str | None = None, *, all_steps: bool = True
    ) -> list[dto.JournalEntry]:
        """Journal entries in order; ``step_id`` narrows to one step; ``all_steps=False`` to the run."""
        where, params = "run_id = ?", [run_id]
        if step_id is not None:
            where, params = where + " AND step_id = ?", [run_id, step_id]  # type: ignore[list-item]
        elif not all_steps:
            where += " AND step_id IS NULL"
        with self._tx() as conn:
            return [dto.JournalEntry(**row) for row in JOURNAL.read(conn, where, params, order="id")]

    def commands(self, run_id: int) -> dict[str, str]:
        """Step id -> the command its latest attempt ran (rendered, secrets masked)."""
        with self._tx() as conn:
            rows = conn.execute(
                "SELECT step_id, command FROM journal WHERE run_id = ? AND command != '' ORDER BY id",
                (run_id,),
            ).fetchall()
        return {step_id: command for step_id, command in rows}

    # -- output, checks, values -------------------------------------------------------------------

    def add_output(self, run_id: int, chunks: Sequence[dto.OutputChunk]) -> None:
        if not chunks:
            return
        at = db_value(now())
        with self._tx() as conn:
            conn.executemany(
                CHUNKS.insert_sql(
                    ("run_id", "step_id", "attempt", "stream", "first_line", "line_count", "text", "at")
                ),
                [
                    (
                        run_id,
                        c.step_id,
                        c.attempt,
                        c.stream,
                        c.first_line,
                        len(c.lines),
                        "\n".join(c.lines),
                        at,
                    )
                    for c in chunks
                ],
            )

    def output(self, run_id: int, step_id: str | None = None) -> list[dto.OutputChunk]:
        where, params = _equal(run_id=run_id, step_id=step_id)
        sql = (
            f"SELECT step_id, attempt, stream, first_line, text FROM output_chunks WHERE {where} "
            f"AND stream != '{PROGRESS_STREAM}' ORDER BY id"  # progress samples: migrator.store.progress
        )
        with self._tx() as conn:
            rows = conn.execute(sql, params).fetchall()
        return [dto.OutputChunk(s, a, stream, first, text.split("\n")) for s, a, stream, first, text in rows]

    def add_checks(self, records: Sequence[dto.CheckRecord]) -> None:
        if not records:
            return
        with self._tx() as conn:
            CHECKS.insert_many(conn, [r.__dict__ for r in records])

    def checks(self, run_id: int, step_id: str | None = None) -> list[dto.CheckRecord]:
        where, params = _equal(run_id=run_id, step_id=step_id)
        with self._tx() as conn:
            rows = CHECKS.read(conn, where, params, order="id")
        return [dto.CheckRecord(**without_id(r)) for r in rows]

    def set_values(self, run_id: int, values: Sequence[dto.OutputValue]) -> None:
        """Record produced values; a later attempt replaces an earlier one's values."""
        at = now()
        with self._tx() as conn:
            for v in values:
                conn.execute(
                    "DELETE FROM output_values WHERE run_id = ? AND step_id = ? AND name = ?",
                    (run_id, v.step_id, v.name),
                )
                VALUES.insert(
                    conn,
                    {
                        "run_id": run_id,
                        "step_id": v.step_id,
                        "name": v.name,
                        "value": v.value,
                        "fingerprint": v.fingerprint,
                        "secret": v.secret,
                        "at": at,
                    },
                )

    def values(self, run_id: int) -> list[dto.OutputValue]:
        with self._tx() as conn:
            rows = VALUES.read(conn, "run_id = ?", (run_id,), order="id")
        return [
            dto.OutputValue(r["step_id"], r["name"], r["value"], r["fingerprint"], r["secret"]) for r in rows
        ]

    # -- amendments, evidence, decisions ---------------------------------------------------------------

    def add_amendment(self, a: dto.Amendment, *, new_hashes: dict[str, str]) -> None:
        """Record an accepted plan change and make the new plan the run's plan."""
        with self._tx() as conn:
            AMENDMENTS.insert(conn, dict(a.__dict__))
            conn.execute(
                "UPDATE runs SET plan_fingerprint = ?, step_hashes = ? WHERE id = ?",
                (a.new_fingerprint, db_value(dict(new_hashes)), a.run_id),
            )

    def amendments(self, run_id: int) -> list[dto.Amendment]:
        return self._all(AMENDMENTS, dto.Amendment, run_id)

    def add_evidence(self, e: dto.Evidence) -> None:
        with self._tx() as conn:
            EVIDENCE.insert(conn, dict(e.__dict__))

    def evidence(self, run_id: int) -> list[dto.Evidence]:
        return self._all(EVIDENCE, dto.Evidence, run_id)

    def add_decision(self, d: dto.Decision) -> None:
        with self._tx() as conn:
            DECISIONS.insert(conn, dict(d.__dict__))

    def decisions(self, run_id: int) -> list[dto.Decision]:
        return self._all(DECISIONS, dto.Decision, run_id)

    def _all(self, table: Table, kind: Callable[..., Any], run_id: int) -> list[Any]:
        with self._tx() as conn:
            rows = table.read(conn, "run_id = ?", (run_id,), order="id")
        return [kind(**without_id(r)) for r in rows]


def _insert_steps(conn: sqlite3.Connection, run_id: int, steps: Sequence[tuple[int, str]]) -> None:
    """Pending step records: ``(position, step_id)`` each."""
    if steps:
        conn.executemany(
            STEPS.insert_sql(_STEP_COLUMNS),
            [(run_id, sid, pos, "pending", 0, "", "", 0) for pos, sid in steps],
        )


def _equal(**conditions: object) -> tuple[str, list[object]]:
    """``a = ? AND b = ?`` for the conditions that are not None, and their values."""
    given = {k: v for k, v in conditions.items() if v is not None}
    return " AND ".join(f"{k} = ?" for k in given), list(given.values())
