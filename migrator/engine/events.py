"""What the engine tells front ends, as frozen dataclasses, and the Listener protocol.

Front ends (the CLI printer, the TUI) learn everything from these events; they never reach
into the runner. Listeners are called on the runner's thread (or an executor's output
thread for :class:`StepOutput`), so a listener must be quick and must not block: the TUI
posts a message and returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class RunStarted:
    run_id: int
    plan_name: str
    mode: str
    steps: int
    resumed: bool


@dataclass(frozen=True)
class StepChanged:
    """A step moved in its lifecycle (one journal entry)."""

    run_id: int
    step_id: str
    source: str
    dest: str
    trigger: str
    reason: str
    attempt: int
    command: str = ""
    """Into ``running``: the command this attempt runs, rendered, secrets masked ("" for a
    step kind without one)."""


@dataclass(frozen=True)
class StepOutput:
    """One redacted line of an action's output."""

    run_id: int
    step_id: str
    host: str
    stream: str
    line: str


@dataclass(frozen=True)
class StepProgress:
    """How far a running step's action is, from its tool's output (rsync, zfs send, pv...).
    Every measure may be None (unknown). Emitted at most a few times a second."""

    run_id: int
    step_id: str
    attempt: int
    fraction: float | None
    done_bytes: int | None = None
    total_bytes: int | None = None
    rate: float | None = None
    """Bytes per second."""
    eta: float | None = None
    """Seconds left, by the tool's own estimate."""


@dataclass(frozen=True)
class CheckDone:
    run_id: int
    step_id: str
    stage: str  # pre | post | reconcile | dry-run | verify | preflight
    index: int
    description: str
    passed: bool
    message: str
    on_fail: str
    outcome: str = "holds"
    """holds | does_not_hold | cannot_tell; ``passed`` is outcome == holds. A front end shows
    cannot_tell as such, with ``message`` (the reason no answer came)."""


@dataclass(frozen=True)
class StepWarning:
    run_id: int
    step_id: str | None
    message: str


@dataclass(frozen=True)
class StepVerdict:
    """Dry-run and preflight: what would happen to a step."""

    run_id: int
    step_id: str
    verdict: str  # would_run | already_done | cannot_know | cannot_tell | would_fail | done
    detail: str
    until: str | None = None  # cannot_know: the earliest not-done step it waits for


@dataclass(frozen=True)
class RunSummary:
    counts: dict[str, int]
    failed: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    in_doubt: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RunFinished:
    run_id: int
    status: str
    message: str
    summary: RunSummary
    next_command: str | None
    """The exact command to continue (``migrator resume 12``), when there is more to do."""


Event = (
    RunStarted | StepChanged | StepOutput | StepProgress | CheckDone | StepWarning | StepVerdict | RunFinished
)


class Listener(Protocol):
    def __call__(self, event: Event) -> None: ...
