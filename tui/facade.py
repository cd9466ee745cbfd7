"""What the TUI needs from the engine, as a protocol and plain frozen records.

The TUI never opens the store nor talks to a host (import-linter forbids it): the CLI builds
an object that satisfies :class:`Session` (``migrator.cli.tui.TuiSession``, the engine's
session core with the plan as the TUI shows it) and injects it.
Every :class:`Session` method may block (SQLite, SSH), so the app calls them from thread
workers only; engine events come back through the listener given to :meth:`Session.attach`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from migrator.engine.events import Listener

# The records the session core builds, re-exported for the app.
from migrator.engine.session.view import CheckLine, ChecklistReply, OperatorPrompter, RunView, StepStatus

__all__ = [
    "CheckLine",
    "ChecklistReply",
    "OperatorPrompter",
    "PlanInfo",
    "RunView",
    "Session",
    "StepInfo",
    "StepStatus",
]


@dataclass(frozen=True)
class StepInfo:
    """One step of the plan, as the TUI shows it (static for a session)."""

    id: str
    title: str
    phase_id: str
    phase_title: str
    host: str
    kind: str
    description: str = ""
    action: str = ""
    """What the action does: the command, the API call, the manual instructions."""
    checks: tuple[str, ...] = ()
    """``pre: ...`` / ``post: ...`` lines describing the checks."""
    rollback: str = ""
    rollback_seconds: int | None = None
    irreversible: str | None = None
    estimate_seconds: int | None = None
    estimate_measured: bool = False
    in_window: bool = True
    destructive: bool = False
    manual: bool = False
    point_of_no_return: bool = False
    idempotent: bool = False


@dataclass(frozen=True)
class PlanInfo:
    name: str
    title: str
    inventory_name: str
    environment: str  # production | staging | lab
    mode: str  # dry-run | rehearsal | live
    operator: str
    window_seconds: int | None
    steps: tuple[StepInfo, ...]
    window_start: datetime | None = None
    """The plan's planned window start (its time zone is the one times are shown in)."""
    deps: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Step id -> the steps it needs (the runner's order rule reads them)."""

    def step(self, step_id: str) -> StepInfo:
        for s in self.steps:
            if s.id == step_id:
                return s
        raise KeyError(step_id)


class Session(Protocol):
    """One plan's run, driven (or watched) from the TUI. Methods block: call them from workers."""

    plan: PlanInfo
    observer: bool
    """Read-only: the TUI only watches (``--observe``, or another operator holds the lease)."""
    observer_reason: str

    @property
    def run_id(self) -> int | None: ...

    @property
    def running(self) -> bool: ...

    def attach(self, listener: Listener, prompter: OperatorPrompter) -> None:
        """Where engine events go and who answers the engine's questions."""

    def snapshot(self, *, with_output: bool = False) -> RunView: ...

    def run(self, until: str | None, retry: Mapping[str, str] | None = None) -> str:
        """Run the pending steps up to and including ``until`` (all when None); a message.
        ``retry``: failed steps to run again, each with the operator's reason (recorded)."""

    def pause(self) -> str:
        """Stop after the current step."""

    def abort(self, reason: str) -> str:
        """End the run for good (after the current step when one is running)."""

    def resolve(self, kind: str, step_id: str, reason: str) -> str:
        """``skip`` | ``retry`` | ``mark_done`` a step, with a reason recorded in the journal."""

    def rollback(self, step_id: str, reason: str) -> str:
        """Run the step's rollback and record it (queued between steps while one runs)."""

    def output(self, step_id: str, limit: int = 2000) -> list[str]:
        """The stored output of the step's latest attempt (last ``limit`` lines)."""

    def close(self) -> None: ...
