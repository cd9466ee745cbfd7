"""The runner: walks a loaded plan in order and drives each step; resumes after a crash.

Entry points: :func:`prepare_run` / :func:`prepare_resume` build a :class:`Runner` (its
``commands`` queue can be handed to a TUI before it starts), :meth:`Runner.execute` runs it on
the caller's thread; :func:`start_run` and :func:`resume_run` do both. The loaded plan is
duck-typed (``plan``, ``inventory``, ``path``, ``fingerprint``, ``order``, ``deps``,
``step(id)``), as built by :func:`migrator.plan.load.load_plan`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from migrator.engine import crossplan, run_inputs
from migrator.engine.bookkeeping import Bookkeeper
from migrator.engine.commands import CommandKind, CommandQueue
from migrator.engine.driver import Aborted, DriverSettings, StepDriver
from migrator.engine.events import Listener, RunFinished, RunStarted, RunSummary
from migrator.engine.lease import LeaseKeeper, operator_name
from migrator.engine.plandiff import diff_steps, step_hashes
from migrator.engine.run_inputs import abort_command, resume_command, template
from migrator.engine.states import (
    RUN_FINAL,
    STEP_BAD_FOR_DEPENDENTS,
    STEP_DONE,
    RunState,
    StepState,
    next_action,
)
from migrator.engine.window import GateVerdict
from migrator.errors import (
    ExecutorError,
    JobLost,
    LockHeldError,
    OperatorNeeded,
    PlanChangedError,
    RunStateError,
    UsageError,
)
from migrator.estimates import Estimate
from migrator.executors.base import Prompter, StepRunner
from migrator.plan.model import Step
from migrator.secrets import Redactor
from migrator.store.db import Store
from migrator.store.dto import Amendment, RunInfo
from migrator.store.notes import now

S = StepState
BAD_FOR_DEPENDENTS = STEP_BAD_FOR_DEPENDENTS


@dataclass
class RunOptions:
    mode: str = "live"  # live | rehearsal
    from_step: str | None = None
    until_step: str | None = None
    only: tuple[str, ...] = ()
    skip: dict[str, str] = field(default_factory=dict)  # step id -> reason
    assume_done: dict[str, str] = field(default_factory=dict)  # "plan:step" of a `requires:` -> reason
    retry: dict[str, str] = field(default_factory=dict)  # resume: failed / in-doubt step -> reason
    mark_done: dict[str, str] = field(default_factory=dict)  # resume: step -> reason
    yes: bool = False
    actor: str = field(default_factory=operator_name)
    lease_ttl: float = 30.0
    take_over_reason: str | None = None
    accept_plan_change: str | None = None  # the reason; None refuses a changed plan
    sleep: Callable[[float], Any] | None = None
    go_reason: str | None = None  # --go-reason: answers go when the window gate fails, recorded
    keep_running: bool = False
    """A session (the TUI) drives the run one selection at a time: a run found ``running``
    goes on without a ``resume`` move, and a stop at the end of the operator's own selection
    (``until_step``/``only``/``from_step``, nothing failed) leaves it ``running`` and records
    nothing. The session pauses the run when it ends (:func:`migrator.engine.control.pause_run`)."""
    retry_failed: bool = True
    """``migrator resume`` means "try the failed steps again". False: a failed step in the
    selection stops the run until the operator retries it with a reason (``retry``)."""


@dataclass(frozen=True)
class RunReport:
    run_id: int
    status: str
    message: str
    summary: RunSummary
    next_command: str | None


class Runner:
    def __init__(
        self,
        store: Store,
        loaded: Any,
        step_runner: StepRunner,
        prompter: Prompter | None,
        *,
        run: RunInfo,
        options: RunOptions,
        listeners: Sequence[Listener] = (),
        redactor: Redactor | None = None,
    ) -> None:
        self.store, self.loaded, self.options = store, loaded, options
        self.order: list[str] = list(loaded.order)
        self.deps: dict[str, list[str]] = {k: list(v) for k, v in loaded.deps.items()}
        self.commands = CommandQueue()
        self.book = Bookkeeper(store, run, actor=options.actor, listeners=listeners)
        self.driver = StepDriver(
            self.book,
            step_runner,
            prompter,
            redactor=redactor or Redactor(),
            commands=self.commands,
            settings=DriverSettings(
                yes=options.yes,
                sleep=options.sleep,
                window_gate=self._window_gate,
                go_reason=options.go_reason,
                plan_name=loaded.plan.name,
                resume_hint=template(resume_command(store, "{run}")),
                abort_hint=template(abort_command(store, "{run}")),
            ),
        )
        self._estimates: dict[str, Estimate] | None = None  # for the window gate, on first use
        self._check_selection()

    @property
    def run_id(self) -> int:
        return self.book.run_id

    def execute(self, lease: LeaseKeeper | None = None) -> RunReport:
        """Run under the plan's lease: ``lease`` when the caller already holds it (a TUI
        session keeps it between actions; it is not released here), else a new one."""
        if lease is not None:
            lease.check()
            return self._execute(lease)
        own = LeaseKeeper(self.store, self.loaded.plan.name, self.run_id, ttl=self.options.lease_ttl)
        fresh = self.book.run_state is RunState.CREATED
        try:
            # Only a resume takes over its own run's lease from this operator's dead process by
            # itself: a new run (a second `migrator run`) never does.
            own.acquire(take_over_reason=self.options.take_over_reason, resuming=not fresh)
        except LockHeldError as exc:
            if fresh:
                # A run that never started: ended for good, so that no resume picks it up.
                self.book.move_run("refuse", f"refused: {exc.message}", summary=f"refused: {exc.message}",
                                   ended_at=now())  # fmt: skip
            raise
        try:
            return self._execute(own)
        finally:
            own.release()

    # -- the loop -----------------------------------------------------------------------------------

    def _execute(self, lease: LeaseKeeper) -> RunReport:
        book = self.book
        book.load()
        resumed = book.run_state.value != "created"
        self._recover()
        self._load_values()
        self._apply_resolutions()
        if not (self.options.keep_running and book.run_state is RunState.RUNNING):
            # How the run last stopped no longer holds once it runs again (never stored stale).
            book.move_run("resume" if resumed else "start", "resumed" if resumed else "", summary="")
        book.emit(RunStarted(self.run_id, self.loaded.plan.name, self.options.mode, len(self.order), resumed))
        stop, position = "", 0
        try:
            while True:
                lease.check()
                stop = self._apply_commands()
                if stop:
                    break
                states = {sid: book.state(sid).value for sid in self.order}
                # The rule is pure and shared with the TUI's "next" key (engine.states).
                action = next_action(self.order, self.deps, states, self._selected, start=position)
                if action.kind == "done":
                    break
                if action.kind == "settle":  # failed, not retried (retry_failed=False): settle it first
                    stop = "failed"
                    break
                assert action.step_id is not None
                position = action.index + 1  # each step once per pass, as the order says
                result = self._step(action.step_id)
                if result is S.IN_DOUBT:
                    raise self._in_doubt(action.step_id)
                if result is S.FAILED:
                    self._block_dependents(action.step_id)
                    stop = "failed"
                    break
        except OperatorNeeded as exc:
            book.flush()
            return self._finish("pause", str(exc), raise_exc=exc)
        except JobLost as exc:  # a detached job's host is out of reach: the job goes on there
            book.flush()
            return self._finish("pause", str(exc), raise_exc=exc)
        except ExecutorError as exc:  # an action could not be started (the step is pending again)
            book.flush()
            return self._finish("pause", f"could not execute: {exc}", raise_exc=exc)
        except Aborted as exc:
            book.flush()
            return self._finish("abort", f"aborted by the operator: {exc.reason}")
        return self._conclude(stop)

    def _step(self, sid: str) -> StepState:
        book, step = self.book, self.loaded.step(sid)
        state = book.state(sid)
        if state is S.IN_DOUBT:
            return self.driver.resolve_in_doubt(step)
        if state is not S.PENDING:
            raise RunStateError(f"step {sid} is {state}, cannot run it", where=f"run {self.run_id}")
        bad = [d for d in self.deps.get(sid, []) if self._bad(d)]
        if bad:
            book.move(sid, "block", f"dependency {bad[0]} is {book.state(bad[0])}", reason=f"needs {bad[0]}")
            book.flush()
            return S.BLOCKED
        missing = crossplan.unmet(self.store, step, inventory_name=self.loaded.inventory.name)
        for assumed in [m for m in missing if f"{m.plan}:{m.step}" in self.options.assume_done]:
            why = self.options.assume_done[f"{assumed.plan}:{assumed.step}"]
            self.store.note(self.run_id, actor=self.options.actor, trigger="assume_done", step_id=sid,
                            reason=f"{assumed.text()}: taken as done by the operator: {why}")  # fmt: skip
            missing.remove(assumed)
        if missing:  # another plan's step first (migrator.engine.crossplan); a resume looks again
            book.move(sid, "block", missing[0].text(), reason=missing[0].text())
            book.flush()
            return S.BLOCKED
        if sid in self.options.skip:
            why = self.options.skip[sid]
            book.move(sid, "skip", why, reason=why)
            book.flush()
            return S.SKIPPED
        return self.driver.run(step)

    def _in_doubt(self, sid: str) -> OperatorNeeded:
        """A step whose action's outcome is unknown: the run stops here (exit 5); resume
        settles the step by its post-checks, without running it again unless they say so."""
        summary = self.book.records[sid].summary or "outcome unknown"
        return OperatorNeeded(
            f"step {sid} is in doubt ({summary}); it is not run again by itself",
            where=f"step {sid} on {self.loaded.step(sid).host}",
            hint=f"`migrator resume {self.run_id}` settles it by its post-checks (and asks you "
            "when they cannot tell)",
        )

    def _conclude(self, stop: str) -> RunReport:
        summary = self.book.summary(self.order)
        if stop == "abort":
            why = getattr(self, "_abort_reason", "")
            return self._finish("abort", "aborted by the operator" + (f": {why}" if why else ""))
        if all(self.book.state(s) in STEP_DONE for s in self.order):
            return self._finish("complete", "all steps done")
        if stop == "failed" or summary.failed or summary.blocked or summary.in_doubt:
            what = ", ".join(summary.failed or summary.blocked or summary.in_doubt)
            return self._finish(
                "fail", f"stopped: step {what} failed" if summary.failed else f"stopped: {what}"
            )
        if stop == "pause":
            return self._finish("pause", "paused by the operator")
        if self.options.keep_running:
            # The operator's own selection ended: nothing happened to the run, say so quietly.
            message = f"stopped as selected; {len(summary.pending)} step(s) pending"
            return RunReport(self.run_id, self.book.run_state.value, message, summary, None)
        return self._finish("pause", f"{len(summary.pending)} step(s) not selected remain pending")

    def _finish(self, trigger: str, message: str, raise_exc: Exception | None = None) -> RunReport:
        book = self.book
        summary = book.summary(self.order)
        final = trigger in ("complete", "abort")
        fields: dict[str, object] = {"summary": message}
        if final:
            fields["ended_at"] = now()
        book.move_run(trigger, message, **fields)
        next_command = None if final else resume_command(self.store, self.run_id)
        report = RunReport(self.run_id, book.run_state.value, message, summary, next_command)
        book.emit(RunFinished(self.run_id, report.status, message, summary, next_command))
        if raise_exc is not None:
            raise raise_exc
        return report

    # -- the window gate (migrator.engine.window) ---------------------------------------------

    def _window_gate(self, step: Step) -> GateVerdict | None:
        """Window arithmetic before a point of no return or an irreversible step (None: no gate).

        A live run's window opens at the plan's ``window.start``; a rehearsal's (or a window
        without a start) at the run's start: the plan's date is the real window's.
        """
        from migrator.engine import window

        plan = self.loaded.plan
        if plan.window is None or not window.needs_gate(step):
            return None
        if self._estimates is None:
            from migrator.estimates import learned
            from migrator.store.durations import measured_durations

            measured = measured_durations(plan.name, self.store.url, before_run=self.run_id)
            self._estimates = learned(plan, measured)
        opened = plan.window.start if plan.window.start is not None and self.options.mode == "live" else None
        done = {sid for sid in self.order if self.book.state(sid) in STEP_DONE}
        undoable = {
            sid: s for sid, s in window.rollback_costs(plan).items() if self.book.state(sid) is S.SUCCEEDED
        }
        return window.gate(
            self.loaded,
            self._estimates,
            now=now(),
            window_start=opened or self._run_start(),
            done=done,
            rollback_cost=undoable,
        )

    def _run_start(self) -> datetime:
        for entry in self.store.journal(self.run_id, all_steps=False):
            if entry.trigger == "start":
                return entry.at if entry.at.tzinfo is not None else entry.at.replace(tzinfo=UTC)

        return now()

    # -- selection and dependencies ----------------------------------------------------------------

    def _check_selection(self) -> None:
        o = self.options
        for sid in [o.from_step, o.until_step, *o.only, *o.skip, *o.retry, *o.mark_done]:
            if sid is not None and sid not in self.order:
                raise UsageError(
                    f"no step '{sid}' in plan {self.loaded.plan.name}",
                    hint="`migrator plan NAME` lists the step ids",
                )
        self._position = {sid: i for i, sid in enumerate(self.order)}

    def _selected(self, sid: str) -> bool:
        o, pos = self.options, self._position[sid]
        if o.only and sid not in o.only:
            return False
        if o.from_step is not None and pos < self._position[o.from_step]:
            return False
        return not (o.until_step is not None and pos > self._position[o.until_step])

    def _bad(self, dep: str) -> bool:
        if dep not in self.book.steps:
            return False
        state = self.book.state(dep)
        return state in BAD_FOR_DEPENDENTS or (
            state is S.SKIPPED and self.book.records[dep].blocks_dependents
        )

    def _block_dependents(self, failed: str) -> None:
        bad = {failed}
        for sid in self.order:
            if sid in bad or not any(d in bad for d in self.deps.get(sid, [])):
                continue
            bad.add(sid)
            if self.book.state(sid) is S.PENDING:
                self.book.move(sid, "block", f"dependency {failed} did not succeed", reason=f"needs {failed}")
        self.book.flush()

    def _unblock(self) -> None:
        for sid in self.order:
            if self.book.state(sid) is S.BLOCKED and not any(self._bad(d) for d in self.deps.get(sid, [])):
                self.book.move(sid, "unblock", "its dependencies may succeed now", reason="")
        self.book.flush()

    # -- resume: recovery, resolutions, operator commands ------------------------------------------

    def _recover(self) -> None:
        """Steps found active after a crash: before the action -> pending; after -> in doubt."""
        for sid, fsm in self.book.steps.items():
            state = fsm.current
            if state in (S.PRECHECKING, S.READY):
                self.book.move(sid, "reset", "found before its action after a stop; nothing ran")
            elif state in (S.RUNNING, S.VERIFYING):
                attempt = self.book.attempt(sid)
                self.book.move(
                    sid, "crash_found", f"found {state} (attempt {attempt}) after a stop: in doubt"
                )
        self.book.flush()

    def _load_values(self) -> None:
        values = self.driver.settings.values
        for v in self.store.values(self.run_id):
            if v.value is not None:
                values.setdefault(v.step_id, {})[v.name] = v.value

    def _apply_resolutions(self) -> None:
        o = self.options
        for sid, why in o.mark_done.items():
            self._operator(CommandKind.MARK_DONE, sid, why)
        for sid, why in o.retry.items():
            self._operator(CommandKind.RETRY, sid, why)
        for sid, why in o.skip.items():
            if self.book.state(sid) in (S.FAILED, S.IN_DOUBT, S.BLOCKED):
                self._operator(CommandKind.SKIP, sid, why)
        for sid in self.order:  # `resume` means: try the failed steps again
            if self.options.retry_failed and self.book.state(sid) is S.FAILED and self._selected(sid):
                self.book.move(sid, "retry", "resume: try again")
        self._unblock()

    def _operator(self, kind: CommandKind, sid: str, why: str) -> None:
        from migrator.store.dto import Decision

        state = self.book.state(sid)
        trigger = {CommandKind.SKIP: "skip", CommandKind.RETRY: "retry", CommandKind.MARK_DONE: "mark_done"}[
            kind
        ]
        if not self.book.steps[sid].may(trigger):
            raise RunStateError(
                f"step {sid} is {state}: cannot {kind.value.replace('_', ' ')} it",
                where=f"run {self.run_id}",
                hint=f"`migrator status {self.run_id}`",
            )
        if not why:
            raise UsageError(
                f"{kind.value.replace('_', ' ')} of step {sid} needs a reason", hint="--reason TEXT"
            )
        self.book.flush()
        self.store.add_decision(
            Decision(self.run_id, sid, now(), self.book.actor, kind.value, kind.value, why)
        )
        if kind is CommandKind.RETRY and state is S.IN_DOUBT:
            # The operator checked and says: run it again, without another question.
            self.book.move(sid, "retry", f"operator: {why}")
        elif kind is CommandKind.SKIP:
            self.book.move(
                sid, "skip", f"operator: {why}", reason=why, blocks_dependents=state is not S.PENDING
            )
        else:
            self.book.move(sid, trigger, f"operator: {why}", reason=why)
        self.book.flush()

    def _apply_commands(self) -> str:
        """Operator commands queued by another thread; return 'pause'/'abort' to stop."""
        stop = ""
        for command in self.commands.drain():
            if command.kind in (CommandKind.PAUSE, CommandKind.ABORT):
                stop = "abort" if command.kind is CommandKind.ABORT or stop == "abort" else "pause"
                if command.kind is CommandKind.ABORT and command.reason:
                    self._abort_reason = command.reason  # the journal says why, as typed
            elif command.kind is CommandKind.ROLLBACK and command.step_id is not None:
                if self._rollback(command.step_id, command.reason) and stop != "abort":
                    stop = "pause"
            elif command.step_id is not None:
                self._operator(command.kind, command.step_id, command.reason)
                self._unblock()
        return stop

    def _rollback(self, sid: str, why: str) -> bool:
        """A queued rollback; True when it ran (then the run pauses: what ran after the step
        may depend on what was undone). A refused or declined one is a warning only."""
        from migrator.engine.events import StepWarning
        from migrator.engine.rollback import StepRollback

        if sid not in self.book.steps:
            self.book.emit(StepWarning(self.run_id, sid, f"rollback refused: no step '{sid}' in this run"))
            return False
        undo = StepRollback(
            self.book,
            self.driver.runner,
            self.driver.prompter,
            redactor=self.driver.redactor,
            order=self.order,
            deps=self.deps,
            yes=self.options.yes,
        )
        try:
            report = undo.roll_back(self.loaded.step(sid), why)
        except (RunStateError, UsageError) as exc:
            self.book.emit(StepWarning(self.run_id, sid, f"rollback refused: {exc}"))
            return False
        return report.status != "declined"


# -- entry points -------------------------------------------------------------------------------------


def prepare_run(
    store: Store,
    loaded: Any,
    step_runner: StepRunner,
    prompter: Prompter | None,
    options: RunOptions,
    *,
    listeners: Sequence[Listener] = (),
    redactor: Redactor | None = None,
) -> Runner:
    """Record a new run of ``loaded`` and return its runner (not started)."""
    hashes = step_hashes(loaded)
    run = store.create_run(
        plan_name=loaded.plan.name,
        plan_path=str(Path(loaded.path).absolute()),
        plan_fingerprint=loaded.fingerprint,
        step_hashes=hashes,
        inventory_name=loaded.inventory.name,
        mode=options.mode,
        operator=options.actor,
        steps=list(loaded.order),
        inputs=run_inputs.record(loaded, store),
    )
    return Runner(
        store, loaded, step_runner, prompter, run=run, options=options, listeners=listeners, redactor=redactor
    )


def find_run(store: Store, plan_name: str | None, run_id: int | None) -> RunInfo:
    """The run to resume: by id; else, of the newest resumable run's plan, the run that plan's
    lease belongs to (the one an operator was driving), else that newest resumable run.

    Resumable: a live or rehearsal run that started and has not ended (a run still
    ``created`` never started: a crash between its creation and its start, or a refusal)."""
    if run_id is not None:
        return store.run(run_id)
    final = {str(state) for state in RUN_FINAL}
    runs = [
        r
        for r in store.runs(plan_name)
        if r.mode != "dry-run" and r.status not in final and r.status != RunState.CREATED.value
    ]
    if runs:
        newest = runs[0]
        lease = store.lease(newest.plan_name)
        if lease is not None:
            held = next((r for r in runs if r.id == lease.run_id), None)
            if held is not None:
                return held
        return newest
    raise UsageError(
        "no unfinished run to resume" + (f" for plan {plan_name}" if plan_name else ""),
        hint="see `migrator runs`",
    )


def prepare_resume(
    store: Store,
    loaded: Any,
    run_id: int,
    step_runner: StepRunner,
    prompter: Prompter | None,
    *,
    options: RunOptions,
    listeners: Sequence[Listener] = (),
    redactor: Redactor | None = None,
) -> Runner:
    run = store.run(run_id)
    if run.plan_name != loaded.plan.name:
        raise UsageError(f"run {run_id} is of plan {run.plan_name}, not {loaded.plan.name}")
    if run.status in {str(state) for state in RUN_FINAL} or run.mode == "dry-run":
        raise RunStateError(
            f"run {run_id} is {run.status} ({run.mode}): nothing to resume",
            hint="start a new run with `migrator run PLAN`",
        )
    if run.plan_fingerprint != loaded.fingerprint:
        hashes = step_hashes(loaded)
        diff = diff_steps(run.step_hashes, hashes, list(loaded.order))
        if options.accept_plan_change is None:
            listing = "; ".join(diff.lines()) or "no step changed (plan-level fields did)"
            raise PlanChangedError(
                f"plan {loaded.plan.name} changed since run {run_id} started: {listing}",
                diff,
                where=str(loaded.path),
                hint="review the diff, then add --accept-plan-change --reason TEXT",
            )

        known = {r.step_id for r in store.steps(run_id)}
        store.add_steps(run_id, [(sid, i) for i, sid in enumerate(loaded.order) if sid not in known])
        store.reposition(run_id, {sid: i for i, sid in enumerate(loaded.order)})
        store.add_amendment(
            Amendment(
                run_id,
                now(),
                options.actor,
                options.accept_plan_change,
                run.plan_fingerprint,
                loaded.fingerprint,
                diff.added,
                diff.removed,
                diff.changed,
            ),
            new_hashes=hashes,
        )
        run = store.run(run_id)
    return Runner(
        store, loaded, step_runner, prompter, run=run, options=options, listeners=listeners, redactor=redactor
    )


def start_run(
    store: Store,
    loaded: Any,
    step_runner: StepRunner,
    prompter: Prompter | None,
    options: RunOptions,
    **kw: Any,
) -> RunReport:
    return prepare_run(store, loaded, step_runner, prompter, options, **kw).execute()


def resume_run(
    store: Store,
    loaded: Any,
    run_id: int,
    step_runner: StepRunner,
    prompter: Prompter | None,
    *,
    options: RunOptions,
    **kw: Any,
) -> RunReport:
    return prepare_resume(store, loaded, run_id, step_runner, prompter, options=options, **kw).execute()
