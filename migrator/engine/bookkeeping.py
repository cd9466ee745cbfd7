"""The runner's memory of one run: lifecycles, write-ahead moves, events.

A move fires the in-memory lifecycle (which raises on an illegal trigger), is buffered, and
emitted to listeners. :meth:`Bookkeeper.flush` commits buffered moves in one transaction;
the step driver flushes before every piece of I/O (check, action, prompt, sleep), so the
store is never behind what the outside world saw, and a no-op step costs two commits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace

from migrator.engine.events import Event, Listener, RunSummary, StepChanged
from migrator.engine.output import OutputRecorder
from migrator.engine.states import RunLifecycle, RunState, StepLifecycle, StepState
from migrator.store.db import Store
from migrator.store.dto import Decision, Evidence, Move, RunInfo, StepRecord
from migrator.store.notes import now


class Bookkeeper:
    def __init__(self, store: Store, run: RunInfo, *, actor: str, listeners: Sequence[Listener] = ()) -> None:
        self.store = store
        self.run = run
        self.run_id = run.id
        self.actor = actor
        self.listeners = list(listeners)
        self.run_fsm = RunLifecycle(f"run {run.id}", run.status)
        self.steps: dict[str, StepLifecycle] = {}
        self.records: dict[str, StepRecord] = {}
        self._pending: list[Move] = []

    def load(self) -> None:
        """(Re)load step records; the lifecycles are restored without firing callbacks."""
        self.records = {r.step_id: r for r in self.store.steps(self.run_id)}
        self.steps = {sid: StepLifecycle(f"step {sid}", r.state) for sid, r in self.records.items()}

    # -- state ---------------------------------------------------------------------------------

    def state(self, step_id: str) -> StepState:
        return self.steps[step_id].current

    def attempt(self, step_id: str) -> int:
        return self.records[step_id].attempt

    @property
    def run_state(self) -> RunState:
        return self.run_fsm.current

    # -- moves ----------------------------------------------------------------------------------

    def move(
        self,
        step_id: str,
        trigger: str,
        why: str = "",
        *,
        attempt: int | None = None,
        command: str = "",
        **fields: object,
    ) -> None:
        """Fire ``trigger`` on the step; ``why`` (and ``command``, the one an attempt starts,
        masked) go to the journal and the event, ``fields`` to its record."""
        source, dest = self.steps[step_id].fire(trigger)
        record = self.records[step_id]
        number = record.attempt if attempt is None else attempt
        self.records[step_id] = replace(record, state=dest, attempt=number, **fields)  # type: ignore[arg-type]
        self._pending.append(
            Move(
                self.run_id,
                step_id,
                trigger,
                source,
                dest,
                self.actor,
                now(),
                why,
                number,
                dict(fields),
                command,
            )
        )
        self.emit(StepChanged(self.run_id, step_id, source, dest, trigger, why, number, command))

    def move_run(self, trigger: str, reason: str = "", **fields: object) -> None:
        source, dest = self.run_fsm.fire(trigger)
        self._pending.append(
            Move(self.run_id, None, trigger, source, dest, self.actor, now(), reason, 0, dict(fields))
        )
        self.flush()

    def flush(self) -> None:
        """Commit buffered moves (the write-ahead point). Moves that start an attempt
        (into ``running``) are committed durably (fsynced); the rest ride on the next durable
        commit or the store's close (see :mod:`migrator.store.db`, "Durability")."""
        if self._pending:
            moves, self._pending = self._pending, []
            durable = any(m.step_id is not None and m.dest == StepState.RUNNING for m in moves)
            self.store.record(moves, durable=durable)

    # -- records beside the moves (driver and rollback share these) ----------------------------

    def decide(self, step_id: str | None, kind: str, choice: str, reason: str) -> None:
        """Record an operator decision; buffered moves go first so the journal keeps order."""
        self.flush()
        self.store.add_decision(Decision(self.run_id, step_id, now(), self.actor, kind, choice, reason))

    def recorder(
        self, step_id: str, attempt: int, *, host: str, redact: Callable[[str], str], hold: bool = False
    ) -> OutputRecorder:
        """The output recorder for one attempt of a step (action or rollback)."""
        return OutputRecorder(
            self.store,
            run_id=self.run_id,
            step_id=step_id,
            attempt=attempt,
            host=host,
            redact=redact,
            emit=self.emit,
            hold=hold,
        )

    def add_evidence(self, step_id: str, attempt: int, text: str, checklist: Sequence[str] = ()) -> None:
        """Record what the operator attested (``text`` already redacted)."""
        self.store.add_evidence(
            Evidence(self.run_id, step_id, attempt, now(), self.actor, text, list(checklist))
        )

    # -- events ---------------------------------------------------------------------------------

    def emit(self, event: Event) -> None:
        for listener in self.listeners:
            listener(event)

    def summary(self, order: Iterable[str]) -> RunSummary:
        counts: dict[str, int] = {}
        by_state: dict[StepState, list[str]] = {}
        for sid in order:
            state = self.state(sid)
            counts[state.value] = counts.get(state.value, 0) + 1
            by_state.setdefault(state, []).append(sid)
        return RunSummary(
            counts=counts,
            failed=by_state.get(StepState.FAILED, []),
            blocked=by_state.get(StepState.BLOCKED, []),
            in_doubt=by_state.get(StepState.IN_DOUBT, []),
            pending=by_state.get(StepState.PENDING, []),
        )
