"""A long-lived engine session that a front end drives one action at a time (the TUI).

It holds the plan's lease from opening to closing (heartbeat thread), not only while a step
runs: a second session on the plan becomes an observer and ``migrator run``/``resume`` is
refused with the holder named. It drives the run with ``keep_running``: the run stays
``running`` between the operator's actions (no pause/resume pair per keypress) and is paused
once, when the session ends. Every method may block (SQLite, SSH): a front end calls them
from worker threads; events come back through the listener given to :meth:`attach`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Self

from migrator.engine.commands import CommandKind, OperatorCommand
from migrator.engine.events import Event, Listener
from migrator.engine.lease import LeaseKeeper, operator_name
from migrator.engine.progress import running_progress
from migrator.engine.runner import Runner, RunOptions, find_run, prepare_resume, prepare_run
from migrator.engine.session.compose import Flags, Front, build_tools, load, run_mode
from migrator.engine.session.view import CheckLine, OperatorPrompter, RunView, StepStatus
from migrator.engine.states import RUN_FINAL
from migrator.errors import ExecutorError, LockHeldError, OperatorNeeded, RunStateError, UsageError
from migrator.executors.base import ChecklistAnswer, StepRunner
from migrator.secrets import Redactor
from migrator.store.db import Store
from migrator.store.durations import measured_durations

FINAL = frozenset(str(state) for state in RUN_FINAL)
STAGES = {"pre": 0, "reconcile": 1, "post": 2}
_SHOWS_OUTPUT = ("running", "verifying")
"""States of the step whose stored output an observer is shown."""


def _ignore(event: Event) -> None:
    """The listener until the app attaches its own."""


class PrompterProxy:
    """The executors' Prompter, forwarding to the TUI once it is attached (the executors are
    built before the app exists)."""

    interactive = True

    def __init__(self) -> None:
        self.target: OperatorPrompter | None = None

    def _to(self) -> OperatorPrompter:
        if self.target is None:
            raise OperatorNeeded("no operator interface is attached", hint="start `migrator tui`")
        return self.target

    def confirm(self, question: str, *, expect: str | None = None) -> bool:
        return self._to().confirm(question, expect=expect)

    def checklist(self, title: str, instructions: str, items: list[str]) -> ChecklistAnswer | None:
        reply = self._to().checklist(title, instructions, items)
        return None if reply is None else ChecklistAnswer(list(reply.confirmed), reply.evidence)

    def choose(self, question: str, choices: list[str]) -> str:
        return self._to().choose(question, choices)

    def text(self, question: str) -> str:
        return self._to().text(question)


class EngineSession:
    """The engine and the store behind one plan's run, for a front end (the TUI's
    ``tui.facade.Session`` is this plus the plan as the TUI shows it)."""

    def __init__(
        self,
        store: Store,
        loaded: Any,
        step_runner: StepRunner,
        proxy: PrompterProxy,
        *,
        redactor: Redactor,
        mode: str,
        run_id: int | None,
        observer_reason: str = "",
        actor: str | None = None,
        lease: LeaseKeeper | None = None,
    ) -> None:
        self.store, self.loaded, self.step_runner, self.proxy = store, loaded, step_runner, proxy
        self.redactor, self.mode, self._run_id = redactor, mode, run_id
        self.actor = actor or operator_name()
        self.observer = bool(observer_reason)
        self.observer_reason = observer_reason
        self.lease = lease
        """The plan's lease, held (with its heartbeat) while this session drives the run."""
        self.listener: Listener = _ignore
        self._runner: Runner | None = None
        self._acting = False
        """An engine action (a run or a rollback) is in progress: one at a time."""
        self._lock = threading.Lock()
        self._closed = False
        from migrator.estimates import learned

        measured = measured_durations(loaded.plan.name, store.url, before_run=run_id)
        self.estimates: Mapping[str, Any] = learned(loaded.plan, measured)
        """Each step's estimate, learned from the durations of earlier runs of the plan."""

    # -- building -------------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        store: Store,
        loaded: Any,
        step_runner: StepRunner,
        proxy: PrompterProxy,
        *,
        redactor: Redactor,
        dry_run: bool = False,
        run_id: int | None = None,
        observe: bool = False,
        actor: str | None = None,
        take_over_reason: str | None = None,
        lease_ttl: float = 30.0,
    ) -> Self:
        """Start or resume the plan's run (or open ``run_id``) and take the plan's lease for
        the session; watch it read-only when asked to, when it is finished, or when another
        operator holds the lease. ``redactor`` must be the one the executors mask with."""
        if dry_run:
            return cls(store, loaded, step_runner, proxy, redactor=redactor, mode="dry-run", run_id=None,
                       actor=actor)  # fmt: skip
        if run_id is None:
            try:
                run_id = _leased_run(store, loaded.plan.name) or find_run(store, loaded.plan.name, None).id
            except UsageError:
                if observe:
                    raise
                options = RunOptions(mode=run_mode(loaded), actor=actor or operator_name())
                run_id = prepare_run(store, loaded, step_runner, proxy, options).run_id
        run = store.run(run_id)
        if run.plan_name != loaded.plan.name:
            raise UsageError(f"run {run_id} is of plan {run.plan_name}, not {loaded.plan.name}")
        reason, lease = "", None
        if observe:
            reason = "--observe"
        elif run.status in FINAL:
            reason = f"run {run.id} is {run.status}"
        else:
            lease = LeaseKeeper(store, run.plan_name, run.id, ttl=lease_ttl)
            try:
                lease.acquire(take_over_reason=take_over_reason)
            except LockHeldError as exc:
                lease, reason = None, _held_by(store, run.plan_name, exc)
        return cls(store, loaded, step_runner, proxy, redactor=redactor, mode=run.mode, run_id=run.id,
                   observer_reason=reason, actor=actor, lease=lease)  # fmt: skip

    # -- Session ---------------------------------------------------------------------------------

    @property
    def run_id(self) -> int | None:
        return self._run_id

    @property
    def running(self) -> bool:
        return self._runner is not None

    def attach(self, listener: Listener, prompter: OperatorPrompter) -> None:
        self.listener = listener
        self.proxy.target = prompter

    def snapshot(self, *, with_output: bool = False) -> RunView:
        if self._run_id is None:
            return RunView(None, "not started")
        run = self.store.run(self._run_id)
        records = self.store.steps(run.id)
        ran = self.store.commands(run.id)  # what each step's last attempt ran, secrets masked
        steps = {
            r.step_id: StepStatus(
                r.state, r.attempt, r.started_at, r.ended_at, r.summary, r.reason, ran.get(r.step_id, "")
            )
            for r in records
        }
        latest: dict[str, int] = {}
        found = self.store.checks(run.id)
        for c in found:
            latest[c.step_id] = max(latest.get(c.step_id, 0), c.attempt)
        checks: dict[str, list[CheckLine]] = {}
        for c in sorted(found, key=lambda c: (STAGES.get(c.stage, 3), c.position)):
            if c.attempt == latest[c.step_id]:
                line = CheckLine(
                    c.stage, c.description or c.kind, c.passed, c.observed, c.expected, c.message, c.outcome
                )
                checks.setdefault(c.step_id, []).append(line)
        lease = self.store.lease(run.plan_name)
        holder = lease.holder if lease is not None and lease.run_id == run.id else None
        output: tuple[str, ...] = ()
        running = [r.step_id for r in records if r.state in _SHOWS_OUTPUT]
        if with_output and running:
            output = tuple(self.output(running[0], limit=10_000))
        held = lease if holder is not None else None
        beat, expires = (held.heartbeat_at, held.expires_at) if held is not None else (None, None)
        progress = running_progress(self.store, run.id) if running else {}  # nothing to read otherwise
        return RunView(run.id, run.status, steps, {k: tuple(v) for k, v in checks.items()}, holder, output,
                       run.ended_at if run.status in FINAL else None, beat, expires,
                       {sid: p for sid, (p, _) in progress.items()},
                       {sid: at for sid, (_, at) in progress.items()})  # fmt: skip

    def run(self, until: str | None, retry: Mapping[str, str] | None = None) -> str:
        if self.mode == "dry-run":
            from migrator.engine.dryrun import dry_run

            report = dry_run(self.store, self.loaded, self.step_runner, listeners=[self.listener],
                             redactor=self.redactor)  # fmt: skip
            self._run_id = report.run_id
            return f"dry-run recorded as run {report.run_id}: {'GO' if report.go else 'NO-GO'}"
        return self._execute(RunOptions(until_step=until, retry=dict(retry or {})))

    def _driving(self) -> int:
        """The run id, if this session may act on it."""
        if self.observer or self._run_id is None:
            raise RunStateError("this TUI only watches the run", hint="it is in observer mode")
        return self._run_id

    @contextmanager
    def _action(self) -> Iterator[None]:
        with self._lock:
            if self._acting:
                raise RunStateError("the engine is busy with another action", hint="wait for it, or pause")
            self._acting = True
        try:
            yield
        finally:
            with self._lock:
                self._acting, self._runner = False, None

    def _execute(self, options: RunOptions) -> str:
        run_id = self._driving()
        options.mode, options.actor = self.mode, self.actor
        options.keep_running, options.retry_failed = True, False
        with self._action():
            runner = prepare_resume(
                self.store,
                self.loaded,
                run_id,
                self.step_runner,
                self.proxy,
                options=options,
                listeners=[self.listener],
                redactor=self.redactor,
            )
            self._runner = runner
            try:
                message = runner.execute(lease=self.lease).message
            except (OperatorNeeded, ExecutorError) as exc:  # the run paused: say why
                message = str(exc)
        late = [self._apply_late(c) for c in runner.commands.drain()]
        if self.store.run(run_id).status in FINAL:
            self._release()  # a finished run needs no lease: the next run of the plan may start
        return "; ".join([message, *late])

    def _apply_late(self, command: OperatorCommand) -> str:
        """A command queued while the runner was ending (after its last look at the queue)."""
        if command.kind is CommandKind.ABORT:
            return self.abort(command.reason)
        if command.kind is CommandKind.PAUSE:
            return "nothing runs any more"
        assert command.step_id is not None
        try:
            if command.kind is CommandKind.ROLLBACK:
                return self.rollback(command.step_id, command.reason)
            return self.resolve(command.kind.value, command.step_id, command.reason)
        except (RunStateError, UsageError) as exc:
            return f"{command.kind.value} of {command.step_id} not applied: {exc}"

    def _queue(self, command: OperatorCommand) -> bool:
        """Hand ``command`` to the running runner, if one runs. Under the lock that also
        clears the runner, so a command is either seen by it or drained after it."""
        with self._lock:
            if self._runner is None:
                return False
            self._runner.commands.put(command)
            return True

    def pause(self) -> str:
        if not self._queue(OperatorCommand(CommandKind.PAUSE)):
            return "nothing is running"
        return "pausing after the current step"

    def abort(self, reason: str) -> str:
        if self._queue(OperatorCommand(CommandKind.ABORT, reason=reason)):
            return "aborting after the current step"
        if self._run_id is None:
            return "no run to abort"
        from migrator.engine.control import abort_run

        token = self.lease.token if self.lease is not None else None
        abort_run(self.store, self._run_id, reason, actor=self.actor, token=token)
        self._release()
        return f"run {self._run_id} aborted: {reason}"

    def resolve(self, kind: str, step_id: str, reason: str) -> str:
        command = CommandKind(kind)
        if command not in (CommandKind.SKIP, CommandKind.RETRY, CommandKind.MARK_DONE):
            raise UsageError(f"'{kind}' is not a step resolution", hint="skip, retry or mark_done")
        if not reason.strip():
            raise UsageError(f"{kind.replace('_', ' ')} of step {step_id} needs a reason")
        if self._queue(OperatorCommand(command, step_id, reason)):
            return f"{kind.replace('_', ' ')} of {step_id} queued: applied after the current step"
        field = {CommandKind.SKIP: "skip", CommandKind.RETRY: "retry", CommandKind.MARK_DONE: "mark_done"}
        options = RunOptions(only=(step_id,))
        setattr(options, field[command], {step_id: reason})
        return self._execute(options)

    def rollback(self, step_id: str, reason: str) -> str:
        """The engine's rollback: queued to the runner while a step runs (applied between
        steps, then the run pauses), else run now under the session's lease."""
        from migrator.engine.rollback import rollback_step

        run_id = self._driving()
        if not reason.strip():
            raise UsageError(f"rolling back step {step_id} needs a reason")
        if self._queue(OperatorCommand(CommandKind.ROLLBACK, step_id, reason)):
            return f"rollback of {step_id} queued: applied after the current step, then the run pauses"
        with self._action():
            report = rollback_step(
                self.store, self.loaded, run_id, step_id, self.step_runner, self.proxy, reason=reason,
                actor=self.actor, listeners=[self.listener], redactor=self.redactor, lease=self.lease,
            )  # fmt: skip
        if report.ok:
            return f"step {step_id} rolled back"
        return f"step {step_id} not rolled back ({report.status}): {report.message}; it stays {report.state}"

    def output(self, step_id: str, limit: int = 2000) -> list[str]:
        if self._run_id is None:
            return []
        chunks = self.store.output(self._run_id, step_id)
        if not chunks:
            return []
        last = max(c.attempt for c in chunks)
        lines = [line for c in chunks if c.attempt == last for line in c.lines]
        return lines[-limit:]

    def _release(self) -> None:
        lease, self.lease = self.lease, None
        if lease is not None:
            lease.release()

    def close(self) -> None:
        """End the session: a run left ``running`` between actions is paused (one journal
        entry for the session), the lease is released, connections closed."""
        if self._closed:
            return
        self._closed = True
        try:
            if self.lease is not None and self._run_id is not None and not self.lease.lost.is_set():
                from migrator.engine.control import pause_run

                pause_run(self.store, self._run_id, f"TUI session of {self.actor} ended", actor=self.actor,
                          token=self.lease.token)  # fmt: skip
        finally:
            self._release()
            self.step_runner.close()


def _leased_run(store: Store, plan_name: str) -> int | None:
    """The unfinished run the plan's lease is held for. A TUI's run stays ``created`` until
    its first step, and ``find_run`` (what ``resume`` takes) skips created runs: without this
    a second TUI on the plan would open a run of its own and watch it, not the holder's."""
    lease = store.lease(plan_name)
    if lease is None:
        return None
    run = store.run(lease.run_id)
    if run.plan_name != plan_name or run.mode == "dry-run" or run.status in FINAL:
        return None
    return run.id


def _held_by(store: Store, plan_name: str, exc: LockHeldError) -> str:
    """Why this session only watches: who holds the plan's lease (or that it went stale)."""
    lease = store.lease(plan_name)
    if lease is None:
        return str(exc.message)
    if lease.expires_at > datetime.now(UTC) and "expired" not in exc.message:
        return f"{lease.holder} holds the lease"
    return f"the lease of {lease.holder} went stale: migrator tui --take-over --reason TEXT"


def session_plan(
    store: Store, plan: str | None, inventory: str | None, *, run_id: int | None, observe: bool
) -> Any:
    """The plan a session opens: ``plan`` (with ``inventory``), or run ``run_id``'s own plan
    and inventory as recorded (issue 15: never the plan's default inventory). Driving a run
    binds it to that inventory (a changed inventory is refused, see ``run_inputs``)."""
    from migrator.engine import run_inputs

    if plan is None:
        if run_id is None:
            raise UsageError("say which plan (migrator tui PLAN) or which run (--run ID)")
        plan_path, recorded = run_inputs.resume_paths(store.run(run_id), None, inventory)
        plan, inventory = str(plan_path), str(recorded) if recorded else None
    loaded = load(plan, inventory)
    if run_id is not None and not observe:
        run_inputs.bind(store, store.run(run_id), loaded, actor=operator_name(), accept_reason=None)
    return loaded


def open_session(
    store: Store,
    loaded: Any,
    *,
    front: Front | None = None,
    confirm_manual: bool = False,
    dry_run: bool = False,
    run_id: int | None = None,
    observe: bool = False,
    take_over_reason: str | None = None,
    session_class: type[EngineSession] | None = None,
) -> EngineSession:
    """Open a session: the executors built as for ``migrator run`` (one Redactor shared with
    the engine, lab hooks, plan directory), the front end answering their questions through
    a :class:`PrompterProxy` once it attaches. ``session_class``: the front end's subclass."""
    proxy = PrompterProxy()
    front = front or Front()
    tools = build_tools(loaded, Front(prompter=proxy, lab_hooks=front.lab_hooks),
                        Flags(confirm_manual=confirm_manual))  # fmt: skip
    cls = session_class or EngineSession
    try:
        return cls.open(
            store, loaded, tools.executors, proxy, redactor=tools.redactor, dry_run=dry_run, run_id=run_id,
            observe=observe, take_over_reason=take_over_reason,
        )  # fmt: skip
    except BaseException:
        tools.executors.close()
        raise
