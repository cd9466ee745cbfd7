"""The step and run lifecycles, as data: Enum states and transition tables.

The machines keep bookkeeping only (DESIGN rule 3): no callback does I/O. The runner does the
I/O, then fires a trigger; the store records the move (:mod:`migrator.engine.journal`).
One shared ``transitions.Machine`` per lifecycle serves every step or run through one
attached model: a lifecycle's stored state is restored on it with ``set_state``, which fires
no callback (libraries.md, transitions), before each trigger. ``auto_transitions=False``:
no ``to_<state>`` backdoors.

Step lifecycle::

    pending -> prechecking -> ready -> running -> verifying -> succeeded
    prechecking -> succeeded            (a mark_done pre-check: already done)
    running|verifying -> ready          (the attempt failed, a retry is due)
    prechecking|ready|running|verifying -> failed
    running|verifying -> in_doubt       (found so after a crash: the action may have run)
    running -> in_doubt                 (outcome_unknown: the action started and its end was not
                                         seen - see "Unknown outcomes" below)
    prechecking|ready -> pending        (found so after a crash, or the operator declined)
    in_doubt -> succeeded               (its post-checks pass: reconciled)
    in_doubt -> running                 (idempotent, or the operator said retry: attempt N+1)
    pending|blocked -> blocked|pending  (a dependency failed / was retried)
    pending|failed|in_doubt|blocked -> skipped | succeeded (operator: skip / mark done, with reason)
    failed|in_doubt|rolled_back -> pending   (retry)
    succeeded|failed|in_doubt -> rolled_back

Unknown outcomes. An action attempt ends in one of three outcomes
(:class:`migrator.executors.base.Outcome`): succeeded, failed (it ran and ended with a
definite failure: an exit status received, a Proxmox task that ended not OK) or *unknown*
(it was started and then migrator lost sight of it: a connection lost, a channel closed
without an exit status, the state database failing while it ran, migrator killed). Only a
definite failure makes a step ``failed`` (which ``resume`` retries). Every unknown outcome
makes it ``in_doubt``: at once (``outcome_unknown``) or, when migrator itself died, on the
next start (``crash_found``). An in-doubt step is settled by its post-checks
(``reconciled``); when they do not hold, an idempotent step is re-run and a non-idempotent
one waits for the operator (retry, mark done, skip), so a plain ``resume`` never runs a
non-idempotent action twice.

Run lifecycle::

    created -> running -> paused|failed|completed|aborted
    created -> refused                  (the plan's lease is held by another operator: the
                                         run never started; terminal, nothing resumes it)
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from transitions import Machine, MachineError

from migrator.errors import IllegalTransition

__all__ = ["IllegalTransition"]  # defined in migrator.errors (the one exception tree); kept importable here


class StepState(StrEnum):
    PENDING = "pending"
    PRECHECKING = "prechecking"
    READY = "ready"
    RUNNING = "running"
    VERIFYING = "verifying"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    IN_DOUBT = "in_doubt"
    ROLLED_BACK = "rolled_back"
    BLOCKED = "blocked"


class RunState(StrEnum):
    CREATED = "created"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    ABORTED = "aborted"
    REFUSED = "refused"
    """Never started: the lease was held by another operator when it tried (terminal)."""


S = StepState
R = RunState


@dataclass(frozen=True)
class Transition:
    trigger: str
    sources: tuple[str, ...]
    dest: str


STEP_TRANSITIONS: tuple[Transition, ...] = (
    Transition("start", (S.PENDING,), S.PRECHECKING),
    Transition("precheck_ok", (S.PRECHECKING,), S.READY),
    Transition("already_done", (S.PRECHECKING,), S.SUCCEEDED),
    Transition("launch", (S.READY,), S.RUNNING),
    Transition("action_ok", (S.RUNNING,), S.VERIFYING),
    Transition("verify_ok", (S.VERIFYING,), S.SUCCEEDED),
    Transition("again", (S.RUNNING, S.VERIFYING), S.READY),
    Transition("fail", (S.PRECHECKING, S.READY, S.RUNNING, S.VERIFYING), S.FAILED),
    Transition("crash_found", (S.RUNNING, S.VERIFYING), S.IN_DOUBT),
    Transition("outcome_unknown", (S.RUNNING,), S.IN_DOUBT),
    Transition("reset", (S.PRECHECKING, S.READY), S.PENDING),
    Transition("reconciled", (S.IN_DOUBT,), S.SUCCEEDED),
    Transition("rerun", (S.IN_DOUBT,), S.RUNNING),
    Transition("block", (S.PENDING,), S.BLOCKED),
    Transition("unblock", (S.BLOCKED,), S.PENDING),
    Transition("skip", (S.PENDING, S.FAILED, S.IN_DOUBT, S.BLOCKED), S.SKIPPED),
    Transition("mark_done", (S.PENDING, S.FAILED, S.IN_DOUBT, S.BLOCKED), S.SUCCEEDED),
    Transition("retry", (S.FAILED, S.IN_DOUBT, S.ROLLED_BACK), S.PENDING),
    Transition("roll_back", (S.SUCCEEDED, S.FAILED, S.IN_DOUBT), S.ROLLED_BACK),
)

RUN_TRANSITIONS: tuple[Transition, ...] = (
    Transition("start", (R.CREATED,), R.RUNNING),
    Transition("pause", (R.RUNNING,), R.PAUSED),
    # ``running -> running``: a run found running after a crash is resumed in place.
    Transition("resume", (R.PAUSED, R.FAILED, R.RUNNING), R.RUNNING),
    Transition("complete", (R.RUNNING,), R.COMPLETED),
    Transition("fail", (R.RUNNING,), R.FAILED),
    Transition("abort", (R.CREATED, R.RUNNING, R.PAUSED, R.FAILED), R.ABORTED),
    Transition("refuse", (R.CREATED,), R.REFUSED),
)

STEP_DONE = frozenset({S.SUCCEEDED, S.SKIPPED, S.ROLLED_BACK})
"""Nothing more to do for this step in this run."""
STEP_ACTIVE = frozenset({S.PRECHECKING, S.READY, S.RUNNING, S.VERIFYING})
"""States only seen while the runner works on the step; found at rest, they mean a crash."""
RUN_FINAL = frozenset({R.COMPLETED, R.ABORTED, R.REFUSED})
"""Nothing resumes a run in these states."""


def sources_of(trigger: str, table: Sequence[Transition] = STEP_TRANSITIONS) -> frozenset[str]:
    """The states ``trigger`` may move from: what a front end may offer (skip, retry ...)."""
    return frozenset(str(s) for t in table if t.trigger == trigger for s in t.sources)


# The sets the front ends need, all derived from the table above (one source of truth):
STEP_SKIPPABLE = sources_of("skip")
STEP_MARKABLE = sources_of("mark_done")
STEP_RETRYABLE = sources_of("retry")
STEP_ROLLBACKABLE = sources_of("roll_back")
STEP_WORKING = sources_of("crash_found")
"""The action is under way (running, verifying): a crash here leaves the step in doubt."""
STEP_AT_REST = frozenset(StepState) - STEP_ACTIVE - {S.IN_DOUBT}
"""Where the runner leaves a step between actions, its questions over."""
STEP_ENDED = STEP_AT_REST - {S.PENDING}
"""An attempt (or the operator's decision) ended here: the step's end time is set."""
STEP_BAD_FOR_DEPENDENTS = frozenset({S.FAILED, S.BLOCKED, S.IN_DOUBT, S.ROLLED_BACK})
"""A dependency in one of these blocks the steps that need it."""


@dataclass(frozen=True)
class NextAction:
    """What the runner does next (and what the TUI's "next" key runs to)."""

    kind: str
    """``run`` (pending), ``reconcile`` (in doubt: its post-checks decide), ``block`` (a
    dependency did not succeed), ``settle`` (failed: the operator must retry, skip or mark it
    done before anything after it runs), ``done`` (nothing left in the selection)."""
    step_id: str | None = None
    index: int = -1
    """Position of ``step_id`` in the order (-1 for ``done``)."""
    because: str | None = None
    """For ``block``: the dependency that did not succeed."""


def next_action(
    order: Sequence[str],
    deps: Mapping[str, Sequence[str]],
    states: Mapping[str, str],
    selection: Callable[[str], bool] | None = None,
    *,
    start: int = 0,
) -> NextAction:
    """The runner's next-step rule, pure: from ``start``, the first selected step that is
    neither done nor blocked. A step missing from ``states`` is pending; ``selection`` (all
    steps when None) says which steps the operator asked for."""
    for index in range(start, len(order)):
        sid = order[index]
        state = states.get(sid, S.PENDING)
        if (selection is not None and not selection(sid)) or state in STEP_DONE | {S.BLOCKED}:
            continue
        if state == S.FAILED:
            return NextAction("settle", sid, index)
        if state == S.IN_DOUBT:
            return NextAction("reconcile", sid, index)
        bad = [d for d in deps.get(sid, ()) if states.get(d, S.PENDING) in STEP_BAD_FOR_DEPENDENTS]
        if bad:
            return NextAction("block", sid, index, bad[0])
        return NextAction("run", sid, index)
    return NextAction("done")


def _table(transitions: Iterable[Transition]) -> dict[tuple[str, str], str]:
    return {(source, t.trigger): t.dest for t in transitions for source in t.sources}


STEP_TABLE = _table(STEP_TRANSITIONS)
RUN_TABLE = _table(RUN_TRANSITIONS)


def _machine(states: type[StrEnum], table: Sequence[Transition], initial: StrEnum) -> Machine:
    return Machine(
        model=None,
        states=[s.value for s in states],
        transitions=[
            {"trigger": t.trigger, "source": [str(s) for s in t.sources], "dest": str(t.dest)} for t in table
        ],
        initial=initial.value,
        auto_transitions=False,
        send_event=True,
    )


# One shared machine per lifecycle: attaching a model costs microseconds, a Machine milliseconds.
STEP_MACHINE = _machine(StepState, STEP_TRANSITIONS, S.PENDING)
RUN_MACHINE = _machine(RunState, RUN_TRANSITIONS, R.CREATED)


class _Driver:
    """The one model attached to a lifecycle's shared machine (``add_model`` costs ~0.2 ms: a
    ``may_`` method per trigger; a run would pay it for every step)."""

    state: str
    trigger: Any


def _driver_of(machine: Machine) -> _Driver:
    driver = _Driver()
    machine.add_model(driver, initial=machine.initial)
    return driver


_FIRING = threading.Lock()  # the drivers are shared by every lifecycle in the process


class _Lifecycle:
    """The state of one step (or run), moved by the shared machine.

    To fire a trigger, the lifecycle lends its state to the machine's one driver model:
    ``set_state`` restores it there without firing any callback, the trigger runs the
    machine's checks and callbacks, and the state it reaches comes back here."""

    _machine: Machine
    _driver: _Driver

    def __init__(self, name: str, state: str) -> None:
        self.name = name
        self.state = str(state)

    def fire(self, trigger: str) -> tuple[str, str]:
        """Move by ``trigger``; return ``(from, to)``. Raise IllegalTransition if not allowed."""
        before = self.state
        with _FIRING:
            self._machine.set_state(before, model=self._driver)
            try:
                self._driver.trigger(trigger)
            except (MachineError, AttributeError) as exc:
                raise IllegalTransition(
                    f"{self.name}: '{trigger}' is not allowed from state {before}",
                    hint="see `migrator states` for the lifecycle",
                ) from exc
            self.state = self._driver.state
        return before, self.state

    def may(self, trigger: str) -> bool:
        return (self.state, trigger) in self._table()

    def _table(self) -> dict[tuple[str, str], str]:
        raise NotImplementedError


class StepLifecycle(_Lifecycle):
    _machine = STEP_MACHINE
    _driver = _driver_of(STEP_MACHINE)

    def _table(self) -> dict[tuple[str, str], str]:
        return STEP_TABLE

    @property
    def current(self) -> StepState:
        return StepState(self.state)


class RunLifecycle(_Lifecycle):
    _machine = RUN_MACHINE
    _driver = _driver_of(RUN_MACHINE)

    def _table(self) -> dict[tuple[str, str], str]:
        return RUN_TABLE

    @property
    def current(self) -> RunState:
        return RunState(self.state)


def illegal_chain_reason(
    moves: Sequence[tuple[str, str, str]], *, table: dict[tuple[str, str], str], initial: str
) -> str | None:
    """Check a journal chain of ``(from, trigger, to)``; ``None`` when it is a legal path.

    Legal means: it starts at ``initial``, each move starts where the previous one ended
    (no gap), and each move is in the transition table.
    """
    at = initial
    for index, (source, trigger, dest) in enumerate(moves):
        if source != at:
            return f"move {index} starts at {source}, but the previous move ended at {at} (gap)"
        if table.get((source, trigger)) != dest:
            return f"move {index} {source} --{trigger}--> {dest} is not in the lifecycle"
        at = dest
    return None


def mermaid(title: str, transitions: Sequence[Transition], initial: str) -> str:
    """A ``stateDiagram-v2`` drawing of a lifecycle, straight from its table."""
    lines = ["---", f"title: {title}", "---", "stateDiagram-v2", f"  [*] --> {initial}"]
    for t in transitions:
        for source in t.sources:
            lines.append(f"  {source} --> {t.dest}: {t.trigger}")
    return "\n".join(lines) + "\n"


def mermaid_all() -> str:
    """Both lifecycles, as two mermaid diagrams separated by a blank line."""
    return (
        mermaid("Step lifecycle", STEP_TRANSITIONS, S.PENDING)
        + "\n"
        + mermaid("Run lifecycle", RUN_TRANSITIONS, R.CREATED)
    )


def resumable(mode: str, status: str) -> bool:
    """Whether a run can go on (``migrator resume``): a live or rehearsal run not final."""
    return mode != "dry-run" and status not in RUN_FINAL
