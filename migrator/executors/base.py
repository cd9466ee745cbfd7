"""The seams between the engine and the outside world.

* A :class:`Transport` runs one command on one target (local subprocess, SSH, ``pct exec``
  inside a container) and streams its output line by line.
* An :class:`Executor` carries out the action of one step kind (ssh, local, proxmox, manual,
  wait) using transports, the Proxmox client or the operator.
* A :class:`Prompter` asks the operator (CLI prompt now, TUI modal later).

The engine only sees these protocols; tests inject scripted ones.

**Three outcomes of an action** (:class:`Outcome`): it *succeeded*, it *failed* (it ran and
ended with a definite failure: an exit status received, a Proxmox task that ended not OK), or
its outcome is *unknown* (it was started, then migrator lost sight of it: a connection lost
or a channel closed without an exit status). Unknown is never recorded as failed: the engine
puts the step *in doubt* (:mod:`migrator.engine.states`) and settles it by its post-checks
(or the operator), and never re-runs a non-idempotent step because of it. An executor says
"unknown" either by returning ``ActionOutcome(..., unknown=True)`` or by raising
:class:`migrator.errors.OutcomeUnknown`; an :class:`~migrator.errors.ExecutorError` of any
other kind means the action could not be started (nothing ran).
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from migrator.plan.checks import Command

if TYPE_CHECKING:
    from migrator.checks.base import CheckResult
    from migrator.executors.command import RenderedCommand
    from migrator.executors.progress import Progress
    from migrator.plan.checks import Check
    from migrator.plan.model import Step

LineSink = Callable[[str, str], None]
"""``sink(stream, line)``: stream is ``"stdout"`` or ``"stderr"``; line has no trailing newline."""


def no_output(stream: str, line: str) -> None:
    """A sink that drops lines (for probes whose output is kept in the result)."""


def to_shell(command: Command) -> str:
    """A command as one shell string: argv lists are quoted with shlex, strings pass as-is."""
    if isinstance(command, str):
        return command
    return shlex.join(command)


@dataclass(frozen=True)
class CommandResult:
    """What a command did. ``exit_code`` is ``None`` when it was killed by a signal."""

    exit_code: int | None
    stdout: str = ""
    stderr: str = ""
    duration: float = 0.0

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


class Transport(Protocol):
    """Runs commands on one target."""

    target: str

    def run(
        self,
        command: Command,
        *,
        env: Mapping[str, str] | None = None,
        stdin: str | None = None,
        timeout: float | None = None,
        sudo: bool = False,
        on_line: LineSink = no_output,
    ) -> CommandResult:
        """Run ``command`` to completion.

        Secrets go in by ``env`` or ``stdin``, never in ``command``. On timeout the remote
        process is really stopped and :class:`migrator.errors.CommandTimeout` is raised.
        Connection problems before the command started raise
        :class:`migrator.errors.ConnectError`; once it started, losing sight of it (a lost
        connection, a channel closed without an exit status) raises
        :class:`migrator.errors.OutcomeUnknown`: it may still run, or have completed.
        """
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class ChecklistAnswer:
    confirmed: list[bool]
    evidence: str = ""


class Prompter(Protocol):
    """How the engine asks the operator. The CLI implements it with prompts, the TUI with modals."""

    def confirm(self, question: str, *, expect: str | None = None) -> bool:
        """Yes/no; with ``expect``, the operator must type that exact text (e.g. the host name)."""
        ...

    def checklist(self, title: str, instructions: str, items: list[str]) -> ChecklistAnswer | None:
        """Walk a manual step's checklist; ``None`` means the operator stopped."""
        ...

    def choose(self, question: str, choices: list[str]) -> str:
        """Pick one of ``choices``."""
        ...

    def text(self, question: str) -> str:
        """Free text, e.g. a reason."""
        ...


def is_interactive(prompter: Prompter | None) -> bool:
    """Whether a person can answer ``prompter`` now (a Prompter without an ``interactive``
    attribute is taken to be one)."""
    return prompter is not None and bool(getattr(prompter, "interactive", True))


class Outcome(StrEnum):
    """How one action attempt ended, as far as migrator can tell (see the module doc)."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    """It ran and ended with a definite failure."""
    UNKNOWN = "unknown"
    """It was started and its end was not seen: it may have completed, partly or wholly."""


@dataclass
class ActionOutcome:
    """The result of one action attempt, as the engine records it.

    ``ok`` and ``unknown`` are the two stored bits of :attr:`outcome`; ``unknown`` wins
    (an unknown outcome is never ok)."""

    ok: bool
    summary: str
    exit_code: int | None = None
    stdout: str = ""
    evidence: str | None = None
    values: dict[str, str] = field(default_factory=dict)
    secret_values: set[str] = field(default_factory=set)
    """Names in ``values`` that are secret: keep them in memory for later steps, store only
    their :func:`migrator.secrets.fingerprint`."""
    unknown: bool = False
    """The action was started and its end was not seen (:attr:`Outcome.UNKNOWN`)."""

    @property
    def outcome(self) -> Outcome:
        if self.unknown:
            return Outcome.UNKNOWN
        return Outcome.SUCCEEDED if self.ok else Outcome.FAILED

    @classmethod
    def unknown_outcome(cls, summary: str, *, stdout: str = "") -> ActionOutcome:
        """An attempt whose end was not seen: it may or may not have done its work."""
        return cls(ok=False, summary=summary, stdout=stdout, unknown=True)


@dataclass
class StepContext:
    """What an executor needs to know about the attempt it is carrying out."""

    run_id: int
    attempt: int
    dry_run: bool = False
    on_line: LineSink = no_output
    cancel: Callable[[], bool] = lambda: False
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    """Values produced by earlier steps: ``outputs[step_id][name]`` (secret ones are absent)."""
    plan: str = ""
    """The plan's name: with run, step and attempt it names a detached job on the host."""
    on_progress: Callable[[Progress], None] = lambda progress: None
    """How far the action is, when its output says so (:mod:`migrator.executors.progress`)."""
    decide: Callable[[str, str, str], None] = lambda kind, choice, reason: None
    """Record a decision the operator made during the action (``kind, choice, reason``; a
    new host key accepted): the engine writes it to the journal and the decisions."""
    command: RenderedCommand | None = None
    """The step's command as the engine rendered it (once) for this attempt: run exactly this,
    with its environment. None (a rollback, a direct caller): render ``ctx.outputs`` here."""


class StepRunner(Protocol):
    """What the engine calls to act and to check. Implemented by the executor registry
    (``migrator.executors.registry.Executors``) and, in tests, by scripted doubles."""

    def execute(self, step: Step, ctx: StepContext) -> ActionOutcome:
        """Carry out the step's action once. Never called in dry-run."""
        ...

    def rollback(self, step: Step, ctx: StepContext) -> ActionOutcome:
        """Carry out the step's rollback once."""
        ...

    def check(self, check: Check, step: Step, ctx: StepContext) -> CheckResult:
        """Probe one (read-only) check; safe in dry-run."""
        ...

    def close(self) -> None: ...
