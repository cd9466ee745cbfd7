"""The tables of the state database: SQLModel, the schema of record.

Nothing imports this at run time: :mod:`migrator.store.ddl` generates the DDL the store
creates a fresh database with (``migrator/store/schema_ddl.py``, kept current by a test), and
the store reads and writes the tables with stdlib :mod:`sqlite3`; everybody else gets frozen
DTOs (:mod:`migrator.store.dto`). Times are timezone-aware UTC (sqlmodel rejects naive ones).
JSON columns hold small lists/dicts and are always reassigned, never mutated in place.
A change to any table needs a new entry in :mod:`migrator.store.schema`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, Index, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

# Stable constraint names make later migrations (and Alembic batch mode) possible.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _run_fk() -> Any:
    return Field(
        sa_column=Column(Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False, index=True)
    )


class SchemaVersionRow(SQLModel, table=True):
    __tablename__ = "schema_version"
    id: int = Field(default=1, primary_key=True)
    version: int


class RunRow(SQLModel, table=True):
    __tablename__ = "runs"
    id: int | None = Field(default=None, primary_key=True)
    plan_name: str = Field(index=True)
    plan_path: str
    plan_fingerprint: str
    step_hashes: dict[str, str] = Field(default_factory=dict, sa_type=JSON)
    inventory_name: str
    mode: str  # live | dry-run | rehearsal
    operator: str  # user@host
    status: str
    created_at: datetime
    started_at: datetime | None = None
    ended_at: datetime | None = None
    summary: str = ""
    # What the run was started against (schema version 2): resume uses exactly these and
    # refuses another inventory unless the operator accepts the change (journaled).
    plan_text: str = Field(default="", sa_column_kwargs={"server_default": ""})
    inventory_path: str = Field(default="", sa_column_kwargs={"server_default": ""})
    inventory_fingerprint: str = Field(default="", sa_column_kwargs={"server_default": ""})
    environment: str = Field(default="", sa_column_kwargs={"server_default": ""})  # lab | production
    db_path: str = Field(default="", sa_column_kwargs={"server_default": ""})


class StepRow(SQLModel, table=True):
    __tablename__ = "step_records"
    __table_args__ = (UniqueConstraint("run_id", "step_id"),)
    id: int | None = Field(default=None, primary_key=True)
    run_id: int = _run_fk()
    step_id: str
    position: int
    state: str
    attempt: int = 0
    started_at: datetime | None = None
    ended_at: datetime | None = None
    exit_code: int | None = None
    summary: str = ""
    reason: str = ""  # why it was skipped, marked done, blocked
    blocks_dependents: bool = False  # skipped after a failure: dependents cannot rely on it


class JournalRow(SQLModel, table=True):
    """Append-only: every transition of a step or run, and notes (lease take-over)."""

    __tablename__ = "journal"
    __table_args__ = (Index("ix_journal_run_step", "run_id", "step_id"),)
    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="runs.id")
    step_id: str | None = None  # None: the run itself
    at: datetime
    actor: str
    kind: str = "transition"  # transition | note
    trigger: str
    from_state: str
    to_state: str
    reason: str = ""
    attempt: int = 0
    # Schema version 4: an attempt's start records the command it ran (rendered, secrets masked).
    command: str = Field(default="", sa_column_kwargs={"server_default": ""})


class OutputChunkRow(SQLModel, table=True):
    """Redacted output lines of one attempt, stored in batches (text joined by newlines)."""

    __tablename__ = "output_chunks"
    __table_args__ = (Index("ix_output_run_step_attempt", "run_id", "step_id", "attempt"),)
    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="runs.id")
    step_id: str
    attempt: int
    stream: str  # stdout | stderr
    first_line: int
    line_count: int
    text: str
    at: datetime


class CheckResultRow(SQLModel, table=True):
    __tablename__ = "check_results"
    __table_args__ = (Index("ix_check_run_step", "run_id", "step_id"),)
    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="runs.id")
    step_id: str
    attempt: int
    stage: str  # pre | post | reconcile | dry-run | verify | preflight
    position: int
    kind: str
    description: str = ""
    on_fail: str
    passed: bool
    observed: str = ""
    expected: str = ""
    message: str = ""
    at: datetime
    outcome: str = Field(default="holds", sa_column_kwargs={"server_default": "holds"})
    """holds | does_not_hold | cannot_tell (schema 2; ``passed`` is outcome == holds)."""


class OutputValueRow(SQLModel, table=True):
    """A value a step produced; a secret one is kept only as its fingerprint."""

    __tablename__ = "output_values"
    __table_args__ = (UniqueConstraint("run_id", "step_id", "name"),)
    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="runs.id")
    step_id: str
    name: str
    value: str | None = None
    fingerprint: str | None = None
    secret: bool = False
    at: datetime


class AmendmentRow(SQLModel, table=True):
    """The plan changed under a run and the operator accepted it."""

    __tablename__ = "amendments"
    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="runs.id")
    at: datetime
    actor: str
    reason: str
    old_fingerprint: str
    new_fingerprint: str
    added: list[str] = Field(default_factory=list, sa_type=JSON)
    removed: list[str] = Field(default_factory=list, sa_type=JSON)
    changed: list[str] = Field(default_factory=list, sa_type=JSON)


class EvidenceRow(SQLModel, table=True):
    """What the operator confirmed for a manual step."""

    __tablename__ = "evidence"
    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="runs.id")
    step_id: str
    attempt: int
    at: datetime
    actor: str
    text: str = ""
    checklist: list[str] = Field(default_factory=list, sa_type=JSON)


class DecisionRow(SQLModel, table=True):
    """An operator decision: go/no-go, a destructive confirmation, an in-doubt resolution."""

    __tablename__ = "decisions"
    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="runs.id")
    step_id: str | None = None
    at: datetime
    actor: str
    kind: str
    choice: str
    reason: str = ""


class LeaseRow(SQLModel, table=True):
    """One active run per plan per store: the holder renews it; an expired one can be taken over."""

    __tablename__ = "leases"
    plan_name: str = Field(primary_key=True)
    run_id: int = Field(foreign_key="runs.id")
    holder: str  # user@host:pid
    token: str  # tells two holders in one process apart
    acquired_at: datetime
    heartbeat_at: datetime
    expires_at: datetime
