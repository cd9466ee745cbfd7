"""Rolling back one step, by the operator: refuse what cannot be undone, confirm, write ahead,
run the step's rollback through the StepRunner, record the outcome.

Two ways in: :func:`rollback_step` (``migrator rollback RUN STEP``; takes the plan's lease
like resume) and a ``ROLLBACK`` operator command queued to a running runner, which applies it
between steps with the same :class:`StepRollback`.

Rules:

* only a succeeded, failed or in-doubt step can be rolled back (the ``roll_back`` trigger);
  an ``irreversible`` step is refused with the plan's reason, a step without ``rollback`` too;
* the operator confirms through the Prompter (types the host name when the step is
  destructive); ``--yes`` confirms without a person, as for the action (lab, or --i-mean-it);
* "rollback started" is journalled *before* the rollback runs (a crash leaves it visible);
  success moves the step to ``rolled_back``; a failed rollback leaves the step where it was
  and journals ``rollback_failed`` with the reason;
* steps that depend on it and already succeeded are named in a warning and never rolled back
  silently: undoing them is a decision per step.

A ``rolled_back`` step is done for this run (``STEP_DONE``): resume does not re-run it on its
own, because that would silently undo the operator's rollback. ``migrator resume RUN --retry
STEP --reason TEXT`` puts it back to pending (the ``retry`` trigger allows it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from migrator.engine.bookkeeping import Bookkeeper
from migrator.engine.events import Listener, StepWarning
from migrator.engine.lease import LeaseKeeper, operator_name
from migrator.engine.states import StepState
from migrator.errors import MigratorError, OperatorNeeded, OutcomeUnknown, RunStateError, UsageError
from migrator.executors.base import ActionOutcome, Prompter, StepContext, StepRunner, is_interactive, to_shell
from migrator.plan.model import Step
from migrator.secrets import Redactor
from migrator.store.db import Store
from migrator.store.notes import now

S = StepState
ROLLBACKABLE = frozenset({S.SUCCEEDED, S.FAILED, S.IN_DOUBT})
ROLLBACK_STREAM = "rollback:{stream}"
"""Rollback output is stored under the step's last attempt, in streams ``rollback:stdout`` /
``rollback:stderr``, so it never mixes with the action's lines."""


@dataclass(frozen=True)
class RollbackReport:
    run_id: int
    step_id: str
    status: str  # rolled_back | failed | declined
    message: str
    state: str  # the step's state afterwards
    not_rolled_back: list[str] = field(default_factory=list)
    """Steps that depend on it and already succeeded: they were left as they are."""

    @property
    def ok(self) -> bool:
        return self.status == "rolled_back"


def later_dependents(step_id: str, order: Sequence[str], deps: dict[str, list[str]]) -> list[str]:
    """Every step that needs ``step_id``, directly or through other steps, in plan order."""
    needs = {step_id}
    found = []
    for sid in order:
        if sid not in needs and any(d in needs for d in deps.get(sid, [])):
            needs.add(sid)
            found.append(sid)
    return found


class StepRollback:
    """Rolls back steps of the run a :class:`Bookkeeper` holds (lease already taken)."""

    def __init__(
        self,
        book: Bookkeeper,
        runner: StepRunner,
        prompter: Prompter | None,
        *,
        redactor: Redactor,
        order: Sequence[str],
        deps: dict[str, list[str]],
        yes: bool = False,
    ) -> None:
        self.book, self.runner, self.prompter = book, runner, prompter
        self.redactor, self.order, self.deps, self.yes = redactor, list(order), deps, yes

    def refusal(self, step: Step) -> str | None:
        """Why ``step`` cannot be rolled back now, or ``None``."""
        if step.irreversible:
            return f"step {step.id} is irreversible: {step.irreversible}"
        undo = step.rollback
        if undo is None or (undo.command is None and undo.instructions is None):
            return f"step {step.id} has no rollback in the plan"
        state = self.book.state(step.id)
        if state not in ROLLBACKABLE:
            return f"step {step.id} is {state}: only a succeeded, failed or in-doubt step can be rolled back"
        return None

    def roll_back(self, step: Step, reason: str) -> RollbackReport:
        book, sid = self.book, step.id
        if not reason.strip():
            raise UsageError(f"rollback of step {sid} needs a reason", hint="--reason TEXT")
        refused = self.refusal(step)
        if refused is not None:
            raise RunStateError(
                refused,
                where=f"run {book.run_id}",
                hint="undo it by hand, then record it with the journal reason"
                if step.irreversible
                else f"`migrator status {book.run_id}`",
            )
        after = [d for d in later_dependents(sid, self.order, self.deps) if self._succeeded(d)]
        if after:
            book.emit(
                StepWarning(
                    book.run_id,
                    sid,
                    f"these steps ran after it and were not rolled back: {', '.join(after)}",
                )
            )
        if not self._confirm(step, reason, after):
            book.emit(StepWarning(book.run_id, sid, "rollback declined by the operator: nothing was run"))
            return RollbackReport(
                book.run_id, sid, "declined", "declined by the operator", book.state(sid).value, after
            )
        state = book.state(sid).value
        book.flush()
        # Write-ahead: the journal says the rollback started before anything runs.
        book.store.note(
            book.run_id,
            actor=book.actor,
            trigger="rollback_started",
            reason=f"rollback started: {reason}",
            step_id=sid,
            state=state,
        )
        outcome = self._run(step)
        if outcome.ok:
            book.move(
                sid,
                "roll_back",
                f"rolled back: {reason}",
                reason=reason,
                summary=f"rolled back ({outcome.summary})",
                ended_at=now(),
            )
            book.flush()
            return RollbackReport(
                book.run_id, sid, "rolled_back", outcome.summary, S.ROLLED_BACK.value, after
            )
        if outcome.unknown:  # started, then lost sight of: it may have run, wholly or partly
            message = f"rollback outcome unknown (it may have run): {outcome.summary}; check the host"
        else:
            message = f"rollback failed: {outcome.summary}"
        trigger = "rollback_in_doubt" if outcome.unknown else "rollback_failed"
        book.store.note(
            book.run_id, actor=book.actor, trigger=trigger, reason=message, step_id=sid, state=state
        )
        book.store.annotate_step(book.run_id, sid, summary=message)
        book.emit(StepWarning(book.run_id, sid, f"{message}; the step stays {state}"))
        return RollbackReport(book.run_id, sid, "failed", message, state, after)

    # -- pieces -------------------------------------------------------------------------------

    def _succeeded(self, sid: str) -> bool:
        return sid in self.book.steps and self.book.state(sid) is S.SUCCEEDED

    def _confirm(self, step: Step, reason: str, after: list[str]) -> bool:
        undo = step.rollback
        assert undo is not None
        what = to_shell(undo.command) if undo.command is not None else "by hand: " + (undo.instructions or "")
        question = f"Roll back step {step.id} ({step.title}) on {step.host}: {what}"
        if after:
            question += f". Steps that ran after it will NOT be rolled back: {', '.join(after)}"
        expect = None
        if step.destructive:
            expect = step.host
            question = f"Step {step.id} is destructive. {question}. Type the host name to go on"
        else:
            question += ". Go?"
        if self.yes:
            self._decide(step.id, "yes", f"--yes: {reason}")
            return True
        if not is_interactive(self.prompter):
            raise OperatorNeeded(
                f"rolling back step {step.id} needs a confirmation",
                where=f"step {step.id} on {step.host}",
                hint="run it on a terminal, or with --yes in a lab (--i-mean-it in production)",
            )
        assert self.prompter is not None
        self.book.flush()
        answer = self.prompter.confirm(self.redactor(question), expect=expect)
        self._decide(step.id, "yes" if answer else "no", reason)
        return answer

    def _decide(self, sid: str, choice: str, reason: str) -> None:
        self.book.decide(sid, "rollback", choice, reason)

    def _run(self, step: Step) -> ActionOutcome:
        book, sid = self.book, step.id
        attempt = book.attempt(sid)
        recorder = book.recorder(sid, attempt, host=step.host, redact=self.redactor)

        def sink(stream: str, line: str) -> None:
            recorder(ROLLBACK_STREAM.format(stream=stream), line)

        ctx = StepContext(run_id=book.run_id, attempt=attempt, on_line=sink, plan=book.run.plan_name)
        try:
            outcome = self.runner.rollback(step, ctx)
        except OperatorNeeded:
            recorder.flush()
            book.store.note(
                book.run_id,
                actor=book.actor,
                trigger="rollback_held",
                reason="the rollback needs an operator: nothing was done",
                step_id=sid,
                state=book.state(sid).value,
            )
            raise
        except OutcomeUnknown as exc:
            outcome = ActionOutcome.unknown_outcome(str(exc))
        except MigratorError as exc:
            outcome = ActionOutcome(ok=False, summary=str(exc))
        recorder.flush()
        outcome.summary = self.redactor(outcome.summary)
        if outcome.evidence:
            book.add_evidence(sid, attempt, self.redactor(outcome.evidence))
        return outcome


def rollback_step(  # noqa: PLR0917 - mirrors resume_run: the run, the step, the I/O seams
    store: Store,
    loaded: Any,
    run_id: int,
    step_id: str,
    step_runner: StepRunner,
    prompter: Prompter | None,
    *,
    reason: str,
    actor: str | None = None,
    listeners: Sequence[Listener] = (),
    yes: bool = False,
    redactor: Redactor | None = None,
    take_over_reason: str | None = None,
    lease_ttl: float = 30.0,
    lease: LeaseKeeper | None = None,
) -> RollbackReport:
    """Roll back ``step_id`` of run ``run_id`` outside a running runner, under the plan's
    lease: ``lease`` when the caller holds it already (a TUI session; not released here),
    else one taken for the rollback."""
    from migrator.engine.plandiff import step_hashes

    run = store.run(run_id)
    if run.plan_name != loaded.plan.name:
        raise UsageError(f"run {run_id} is of plan {run.plan_name}, not {loaded.plan.name}")
    if run.mode == "dry-run":
        raise RunStateError(f"run {run_id} is a dry-run: it never acted, there is nothing to roll back")
    if step_id not in loaded.order:
        raise UsageError(
            f"no step '{step_id}' in plan {loaded.plan.name}", hint="`migrator plan NAME` lists the step ids"
        )
    book = Bookkeeper(store, run, actor=actor or operator_name(), listeners=listeners)
    own = None
    if lease is None:
        own = LeaseKeeper(store, run.plan_name, run_id, ttl=lease_ttl)
        own.acquire(take_over_reason=take_over_reason)
    else:
        lease.check()
    try:
        book.load()
        if step_id not in book.steps:
            raise RunStateError(f"step {step_id} is not part of run {run_id} (added to the plan later)")
        if run.step_hashes.get(step_id) not in (None, step_hashes(loaded).get(step_id)):
            book.emit(
                StepWarning(
                    run_id,
                    step_id,
                    "the step changed in the plan since the run started: "
                    "the rollback is the plan's current one",
                )
            )
        undo = StepRollback(
            book,
            step_runner,
            prompter,
            redactor=redactor or Redactor(),
            order=loaded.order,
            deps={k: list(v) for k, v in loaded.deps.items()},
            yes=yes,
        )
        return undo.roll_back(loaded.step(step_id), reason)
    finally:
        if own is not None:
            own.release()
