"""The run as a front end sees it: plain frozen records built by the session core from the
store, and the protocol a front end answers the engine's questions with.

They live with the engine (not with the TUI) because the headless session core builds them
(:meth:`migrator.engine.session.interactive.EngineSession.snapshot`); ``tui.facade`` re-exports
them for the app.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from migrator.engine.events import StepProgress


@dataclass(frozen=True)
class StepStatus:
    state: str
    attempt: int = 0
    started_at: datetime | None = None
    ended_at: datetime | None = None
    summary: str = ""
    reason: str = ""
    command: str = ""
    """The command its last attempt ran (rendered, secrets masked), from the engine."""


@dataclass(frozen=True)
class CheckLine:
    stage: str  # pre | post | reconcile | dry-run ...
    description: str
    passed: bool
    observed: str = ""
    expected: str = ""
    message: str = ""
    outcome: str = "holds"  # holds | does_not_hold | cannot_tell (the message says why)


@dataclass(frozen=True)
class RunView:
    """The run as the store has it now."""

    run_id: int | None
    status: str
    steps: Mapping[str, StepStatus] = field(default_factory=dict)
    checks: Mapping[str, tuple[CheckLine, ...]] = field(default_factory=dict)
    """The checks of each step's latest attempt, in order."""
    lease_holder: str | None = None
    running_output: tuple[str, ...] = ()
    """Observer mode: stored output of the step that is running (latest attempt)."""
    ended_at: datetime | None = None
    """When the run ended for good (completed, aborted): the window clock stops there."""
    lease_heartbeat_at: datetime | None = None
    lease_expires_at: datetime | None = None
    """The lease holder's last heartbeat and when the lease goes stale without another one."""
    progress: Mapping[str, StepProgress] = field(default_factory=dict)
    """The latest stored progress of each running step (its current attempt), for a front end
    that gets no events (an observer): :func:`migrator.engine.progress.running_progress`."""
    progress_at: Mapping[str, datetime] = field(default_factory=dict)
    """When each of those was sampled (an ETA counts down from there)."""

    @property
    def started_at(self) -> datetime | None:
        times = [s.started_at for s in self.steps.values() if s.started_at is not None]
        return min(times) if times else None


@dataclass(frozen=True)
class ChecklistReply:
    """A manual step's checklist as the operator left it."""

    confirmed: list[bool]
    evidence: str = ""


class OperatorPrompter(Protocol):
    """The operator, as the engine asks them (the TUI answers with modals). Called on the
    runner's thread; each call blocks until the operator answered."""

    def confirm(self, question: str, *, expect: str | None = None) -> bool: ...

    def checklist(self, title: str, instructions: str, items: list[str]) -> ChecklistReply | None: ...

    def choose(self, question: str, choices: list[str]) -> str: ...

    def text(self, question: str) -> str: ...
