"""The state database: the only module that opens connections or sessions.

SQLite by default (``state.db`` in the working directory), any SQLAlchemy URL by ``--db`` or
``MIGRATOR_DB``. For SQLite every connection gets WAL, foreign keys, a busy timeout, and every
transaction starts with ``BEGIN IMMEDIATE`` so that two writers queue instead of failing on a
snapshot upgrade (libraries.md, sqlmodel). The hot path (transitions, output batches) uses
SQLAlchemy Core statements on the SQLModel tables: one short transaction per write.
Everything read is handed out as frozen DTOs.

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
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, create_engine, event, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from migrator.errors import StoreError
from migrator.store import dto
from migrator.store.leases import LeaseMixin
from migrator.store.notes import insert_note, now
from migrator.store.schema import ensure_schema
from migrator.store.tables import (
    AmendmentRow,
    CheckResultRow,
    DecisionRow,
    EvidenceRow,
    JournalRow,
    LeaseRow,
    OutputChunkRow,
    OutputValueRow,
    RunRow,
    StepRow,
)

DEFAULT_DB = "state.db"
ENV_DB = "MIGRATOR_DB"

RUNS = RunRow.__table__  # type: ignore[attr-defined]
STEPS = StepRow.__table__  # type: ignore[attr-defined]
JOURNAL = JournalRow.__table__  # type: ignore[attr-defined]
CHUNKS = OutputChunkRow.__table__  # type: ignore[attr-defined]
CHECKS = CheckResultRow.__table__  # type: ignore[attr-defined]
VALUES = OutputValueRow.__table__  # type: ignore[attr-defined]
AMENDMENTS = AmendmentRow.__table__  # type: ignore[attr-defined]
EVIDENCE = EvidenceRow.__table__  # type: ignore[attr-defined]
DECISIONS = DecisionRow.__table__  # type: ignore[attr-defined]
LEASES = LeaseRow.__table__  # type: ignore[attr-defined]


def resolve_url(db: str | None) -> str:
    """``--db`` value, else ``$MIGRATOR_DB``, else ``state.db`` here; a bare path means SQLite."""
    value = db or os.environ.get(ENV_DB) or DEFAULT_DB
    if "://" in value:
        return value
    return "sqlite:///" + str(Path(value).expanduser())


FULL, NORMAL = "FULL", "NORMAL"
_SYNC_KEY = "migrator_synchronous"  # the level a pooled SQLite connection is set to


def _sqlite_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        # NORMAL by default; write-ahead transactions switch to FULL (see the module docstring).
        for pragma in ("journal_mode=WAL", "foreign_keys=ON", "busy_timeout=10000", "synchronous=NORMAL"):
            cur.execute("PRAGMA " + pragma)
        cur.close()
        _record.info[_SYNC_KEY] = NORMAL

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _set_synchronous(conn: Connection, level: str) -> None:
    """Set ``PRAGMA synchronous`` on ``conn`` before its transaction begins (a pragma that
    SQLite applies per connection, from the next commit on); skipped when already so."""
    pooled = conn.connection
    if pooled.info.get(_SYNC_KEY) != level:
        pooled.driver_connection.execute(f"PRAGMA synchronous={level}")  # type: ignore[union-attr]
        pooled.info[_SYNC_KEY] = level


class Store(LeaseMixin):
    """Runs, step records, the journal and everything recorded about a run."""

    def __init__(self, url: str, *, engine: Engine) -> None:
        self.url = url
        self._engine = engine
        self._statements: dict[tuple[bool, tuple[str, ...]], Any] = {}
        self._journal_insert = insert(JOURNAL)
        self._sqlite = engine.dialect.name == "sqlite"

    @classmethod
    def open(cls, db: str | None = None) -> Store:
        url = resolve_url(db)
        try:
            engine = create_engine(url)
            if engine.dialect.name == "sqlite":
                _sqlite_setup(engine)
            ensure_schema(engine, where=url)
        except SQLAlchemyError as exc:
            raise StoreError(
                f"cannot open the state database: {exc}",
                where=url,
                hint="check --db / MIGRATOR_DB and file permissions",
            ) from exc
        return cls(url, engine=engine)

    def close(self) -> None:
        self._engine.dispose()

    @contextmanager
    def _tx(self, *, durable: bool = False) -> Iterator[Connection]:
        """One transaction; ``durable``: a write-ahead record, fsynced at commit (FULL)."""
        try:
            with self._engine.connect() as conn:
                if self._sqlite:
                    _set_synchronous(conn, FULL if durable else NORMAL)
                with conn.begin():
                    yield conn
        except SQLAlchemyError as exc:
            raise StoreError(
                f"state database error: {exc.__class__.__name__}: {exc}",
                where=self.url,
                hint="is the disk full or the file read-only?",
            ) from exc

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
    ) -> dto.RunInfo:
        at = now()
        with self._tx() as conn:
            run_id = conn.execute(
                insert(RUNS).values(
                    plan_name=plan_name,
                    plan_path=plan_path,
                    plan_fingerprint=plan_fingerprint,
                    step_hashes=dict(step_hashes),
                    inventory_name=inventory_name,
                    mode=mode,
                    operator=operator,
                    status=status,
                    created_at=at,
                    summary="",
                )
            ).inserted_primary_key[0]  # type: ignore[index]
            if steps:
                conn.execute(
                    insert(STEPS),
                    [
                        {
                            "run_id": run_id,
                            "step_id": sid,
                            "position": i,
                            "state": "pending",
                            "attempt": 0,
                            "summary": "",
                            "reason": "",
                            "blocks_dependents": False,
                        }
                        for i, sid in enumerate(steps)
                    ],
                )
        return self.run(int(run_id))

    def run(self, run_id: int) -> dto.RunInfo:
        with self._tx() as conn:
            row = conn.execute(select(RUNS).where(RUNS.c.id == run_id)).mappings().first()
        if row is None:
            raise StoreError(f"no run {run_id} in this database", where=self.url, hint="see `migrator runs`")
        return dto.RunInfo(**row)

    def runs(self, plan_name: str | None = None, *, mode: str | None = None) -> list[dto.RunInfo]:
        """Runs, newest first."""
        query = select(RUNS).order_by(RUNS.c.id.desc())
        if plan_name is not None:
            query = query.where(RUNS.c.plan_name == plan_name)
        if mode is not None:
            query = query.where(RUNS.c.mode == mode)
        with self._tx() as conn:
            return [dto.RunInfo(**row) for row in conn.execute(query).mappings()]

    def update_run(self, run_id: int, **fields: Any) -> None:
        with self._tx() as conn:
            conn.execute(update(RUNS).where(RUNS.c.id == run_id).values(**fields))

    def add_steps(self, run_id: int, steps: Sequence[tuple[str, int]]) -> None:
        """Records for steps added by an accepted plan change: ``(step_id, position)``."""
        if not steps:
            return
        with self._tx() as conn:
            conn.execute(
                insert(STEPS),
                [
                    {
                        "run_id": run_id,
                        "step_id": sid,
                        "position": pos,
                        "state": "pending",
                        "attempt": 0,
                        "summary": "",
                        "reason": "",
                        "blocks_dependents": False,
                    }
                    for sid, pos in steps
                ],
            )

    def reposition(self, run_id: int, positions: dict[str, int]) -> None:
        with self._tx() as conn:
            for sid, pos in positions.items():
                conn.execute(
                    update(STEPS).where(STEPS.c.run_id == run_id, STEPS.c.step_id == sid).values(position=pos)
                )

    def annotate_step(self, run_id: int, step_id: str, *, summary: str) -> None:
        """Set a step's summary without a transition (dry-run verdicts)."""
        with self._tx() as conn:
            conn.execute(
                update(STEPS)
                .where(STEPS.c.run_id == run_id, STEPS.c.step_id == step_id)
                .values(summary=summary)
            )

    # -- steps and the journal ------------------------------------------------------------------

    def steps(self, run_id: int) -> list[dto.StepRecord]:
        query = select(STEPS).where(STEPS.c.run_id == run_id).order_by(STEPS.c.position)
        with self._tx() as conn:
            return [_step(row) for row in conn.execute(query).mappings()]

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
                params = {f"v_{k}": v for k, v in values.items()}
                params.update(w_run=move.run_id, w_src=move.source, v_state=move.dest)
                if move.step_id is not None:
                    params["w_step"] = move.step_id
                statement = self._move_statement(move.step_id is None, tuple(sorted(values)))
                if conn.execute(statement, params).rowcount != 1:
                    what = f"step {move.step_id}" if move.step_id else f"run {move.run_id}"
                    raise StoreError(
                        f"{what} is no longer {move.source}",
                        where=self.url,
                        hint="another process changed this run; see `migrator status`",
                    )
                journal.append(
                    {
                        "run_id": move.run_id,
                        "step_id": move.step_id,
                        "at": move.at,
                        "actor": move.actor,
                        "kind": "transition",
                        "trigger": move.trigger,
                        "from_state": move.source,
                        "to_state": move.dest,
                        "reason": move.reason,
                        "attempt": move.attempt,
                    }
                )
            conn.execute(self._journal_insert, journal)

    def _move_statement(self, is_run: bool, columns: tuple[str, ...]) -> Any:
        """Prepared UPDATE for a move touching ``columns``; built once per shape, because
        building SQLAlchemy statements costs more than running them (bench/engine_overhead.py)."""
        key = (is_run, columns)
        statement = self._statements.get(key)
        if statement is None:
            table, state = (RUNS, "status") if is_run else (STEPS, "state")
            where = [table.c[state] == bindparam("w_src")]
            if is_run:
                where.append(RUNS.c.id == bindparam("w_run"))
            else:
                where += [STEPS.c.run_id == bindparam("w_run"), STEPS.c.step_id == bindparam("w_step")]
            values: dict[str, Any] = {c: bindparam(f"v_{c}") for c in columns}
            values[state] = bindparam("v_state")
            statement = update(table).where(*where).values(values)
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
        query = select(JOURNAL).where(JOURNAL.c.run_id == run_id).order_by(JOURNAL.c.id)
        if step_id is not None:
            query = query.where(JOURNAL.c.step_id == step_id)
        elif not all_steps:
            query = query.where(JOURNAL.c.step_id.is_(None))
        with self._tx() as conn:
            return [dto.JournalEntry(**row) for row in conn.execute(query).mappings()]

    # -- output, checks, values -------------------------------------------------------------------

    def add_output(self, run_id: int, chunks: Sequence[dto.OutputChunk]) -> None:
        if not chunks:
            return
        at = now()
        with self._tx() as conn:
            conn.execute(
                insert(CHUNKS),
                [
                    {
                        "run_id": run_id,
                        "step_id": c.step_id,
                        "attempt": c.attempt,
                        "stream": c.stream,
                        "first_line": c.first_line,
                        "line_count": len(c.lines),
                        "text": "\n".join(c.lines),
                        "at": at,
                    }
                    for c in chunks
                ],
            )

    def output(self, run_id: int, step_id: str | None = None) -> list[dto.OutputChunk]:
        query = select(CHUNKS).where(CHUNKS.c.run_id == run_id).order_by(CHUNKS.c.id)
        if step_id is not None:
            query = query.where(CHUNKS.c.step_id == step_id)
        with self._tx() as conn:
            return [
                dto.OutputChunk(
                    step_id=r["step_id"],
                    attempt=r["attempt"],
                    stream=r["stream"],
                    first_line=r["first_line"],
                    lines=r["text"].split("\n"),
                )
                for r in conn.execute(query).mappings()
            ]

    def add_checks(self, records: Sequence[dto.CheckRecord]) -> None:
        if not records:
            return
        with self._tx() as conn:
            conn.execute(insert(CHECKS), [r.__dict__ for r in records])

    def checks(self, run_id: int, step_id: str | None = None) -> list[dto.CheckRecord]:
        query = select(CHECKS).where(CHECKS.c.run_id == run_id).order_by(CHECKS.c.id)
        if step_id is not None:
            query = query.where(CHECKS.c.step_id == step_id)
        with self._tx() as conn:
            return [
                dto.CheckRecord(**{k: v for k, v in r.items() if k != "id"})
                for r in conn.execute(query).mappings()
            ]

    def set_values(self, run_id: int, values: Sequence[dto.OutputValue]) -> None:
        """Record produced values; a later attempt replaces an earlier one's values."""
        at = now()
        with self._tx() as conn:
            for v in values:
                conn.execute(
                    VALUES.delete().where(
                        VALUES.c.run_id == run_id, VALUES.c.step_id == v.step_id, VALUES.c.name == v.name
                    )
                )
                conn.execute(
                    insert(VALUES).values(
                        run_id=run_id,
                        step_id=v.step_id,
                        name=v.name,
                        value=v.value,
                        fingerprint=v.fingerprint,
                        secret=v.secret,
                        at=at,
                    )
                )

    def values(self, run_id: int) -> list[dto.OutputValue]:
        query = select(VALUES).where(VALUES.c.run_id == run_id).order_by(VALUES.c.id)
        with self._tx() as conn:
            return [
                dto.OutputValue(
                    step_id=r["step_id"],
                    name=r["name"],
                    value=r["value"],
                    fingerprint=r["fingerprint"],
                    secret=r["secret"],
                )
                for r in conn.execute(query).mappings()
            ]

    # -- amendments, evidence, decisions ---------------------------------------------------------------

    def add_amendment(self, a: dto.Amendment, *, new_hashes: dict[str, str]) -> None:
        """Record an accepted plan change and make the new plan the run's plan."""
        with self._tx() as conn:
            conn.execute(insert(AMENDMENTS).values(**a.__dict__))
            conn.execute(
                update(RUNS)
                .where(RUNS.c.id == a.run_id)
                .values(plan_fingerprint=a.new_fingerprint, step_hashes=dict(new_hashes))
            )

    def amendments(self, run_id: int) -> list[dto.Amendment]:
        return self._all(AMENDMENTS, dto.Amendment, run_id)

    def add_evidence(self, e: dto.Evidence) -> None:
        with self._tx() as conn:
            conn.execute(insert(EVIDENCE).values(**e.__dict__))

    def evidence(self, run_id: int) -> list[dto.Evidence]:
        return self._all(EVIDENCE, dto.Evidence, run_id)

    def add_decision(self, d: dto.Decision) -> None:
        with self._tx() as conn:
            conn.execute(insert(DECISIONS).values(**d.__dict__))

    def decisions(self, run_id: int) -> list[dto.Decision]:
        return self._all(DECISIONS, dto.Decision, run_id)

    def _all(self, table: Any, kind: Callable[..., Any], run_id: int) -> list[Any]:
        with self._tx() as conn:
            rows = conn.execute(select(table).where(table.c.run_id == run_id).order_by(table.c.id)).mappings()
            return [kind(**{k: v for k, v in r.items() if k != "id"}) for r in rows]


def _step(row: Any) -> dto.StepRecord:
    return dto.StepRecord(**{k: v for k, v in row.items() if k != "id"})
