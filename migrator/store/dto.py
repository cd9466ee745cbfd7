"""Frozen records the store hands out: no ORM object ever leaves :mod:`migrator.store`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class RunInfo:
    id: int
    plan_name: str
    plan_path: str
    plan_fingerprint: str
    step_hashes: dict[str, str]
    inventory_name: str
    mode: str
    operator: str
    status: str
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    summary: str
    plan_text: str = ""
    inventory_path: str = ""
    inventory_fingerprint: str = ""
    environment: str = ""
    db_path: str = ""


@dataclass(frozen=True)
class RunInputs:
    """What a run is started against, recorded with it (empty for runs recorded before
    schema version 2)."""

    plan_text: str
    inventory_path: str
    inventory_fingerprint: str
    environment: str
    db_path: str


@dataclass(frozen=True)
class StepRecord:
    run_id: int
    step_id: str
    position: int
    state: str
    attempt: int
    started_at: datetime | None
    ended_at: datetime | None
    exit_code: int | None
    summary: str
    reason: str
    blocks_dependents: bool


@dataclass(frozen=True)
class JournalEntry:
    id: int
    run_id: int
    step_id: str | None
    at: datetime
    actor: str
    kind: str
    trigger: str
    from_state: str
    to_state: str
    reason: str
    attempt: int
    command: str = ""
    """An attempt's start: the command it ran, rendered, secrets masked (schema version 4)."""


@dataclass(frozen=True)
class Move:
    """One transition to record: the step (or run, when ``step_id`` is None) row is updated
    from ``source`` to ``dest`` and a journal entry appended, in one transaction."""

    run_id: int
    step_id: str | None
    trigger: str
    source: str
    dest: str
    actor: str
    at: datetime
    reason: str = ""
    attempt: int = 0
    fields: dict[str, object] = field(default_factory=dict)
    """Other columns of the step/run row to set, e.g. ``exit_code``, ``summary``."""
    command: str = ""
    """The journal's ``command``: what an attempt starts, secrets masked."""


@dataclass(frozen=True)
class OutputChunk:
    step_id: str
    attempt: int
    stream: str
    first_line: int
    lines: list[str]


@dataclass(frozen=True)
class CheckRecord:
    run_id: int
    step_id: str
    attempt: int
    stage: str
    position: int
    kind: str
    description: str
    on_fail: str
    passed: bool
    observed: str
    expected: str
    message: str
    at: datetime
    outcome: str = "holds"
    """holds | does_not_hold | cannot_tell (:class:`migrator.checks.base.Outcome`)."""


@dataclass(frozen=True)
class OutputValue:
    step_id: str
    name: str
    value: str | None
    fingerprint: str | None
    secret: bool


@dataclass(frozen=True)
class Amendment:
    run_id: int
    at: datetime
    actor: str
    reason: str
    old_fingerprint: str
    new_fingerprint: str
    added: list[str]
    removed: list[str]
    changed: list[str]


@dataclass(frozen=True)
class Evidence:
    run_id: int
    step_id: str
    attempt: int
    at: datetime
    actor: str
    text: str
    checklist: list[str]


@dataclass(frozen=True)
class Decision:
    run_id: int
    step_id: str | None
    at: datetime
    actor: str
    kind: str
    choice: str
    reason: str


@dataclass(frozen=True)
class LeaseInfo:
    plan_name: str
    run_id: int
    holder: str
    token: str
    acquired_at: datetime
    heartbeat_at: datetime
    expires_at: datetime
