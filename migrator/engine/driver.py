"""One step, start to end: pre-checks, confirmation, write-ahead, action, outputs,
post-checks, retries; and the resolution of a step found in doubt after a crash.

All I/O goes through the :class:`~migrator.executors.base.StepRunner` and the
:class:`~migrator.executors.base.Prompter`. Before each piece of I/O the bookkeeper is
flushed, so the store never lags behind the world (DESIGN rule 4).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from migrator.checks.base import Outcome
from migrator.engine.bookkeeping import Bookkeeper
from migrator.engine.commands import CommandQueue
from migrator.engine.events import StepWarning
from migrator.engine.output import OutputRecorder
from migrator.engine.outputs import RunOutputs
from migrator.engine.probing import (
    Judged,
    cannot_evaluate,
    check_outcome,
    done_verdict,
    first_text,
    halting_text,
    judged_text,
    probe_all,
)
from migrator.engine.progress import ProgressSampler
from migrator.engine.states import StepState
from migrator.engine.window import GateVerdict
from migrator.errors import (
    ConnectError,
    ExecutorError,
    JobLost,
    MigratorError,
    OperatorNeeded,
    OutcomeUnknown,
    SecretError,
    StoreError,
)
from migrator.executors.base import ActionOutcome, Prompter, StepContext, StepRunner, is_interactive
from migrator.executors.checking import probe_target
from migrator.executors.command import RenderedCommand
from migrator.executors.detached import job_name
from migrator.plan.checks import OnFail
from migrator.plan.model import Step
from migrator.plan.params import UnknownReference
from migrator.secrets import Redactor, fingerprint
from migrator.store.dto import OutputValue
from migrator.store.notes import now

NOT_STARTED = (ConnectError, SecretError)
"""Executor errors that mean the action could not be started at all (host unreachable, host
key refused, secret unresolvable): nothing ran, so the step goes back to pending and the run
stops with the error (exit 3). :class:`OutcomeUnknown` is a ConnectError too, but raised once
the action started: it is an *unknown* outcome, never this."""


class NotStarted(Exception):
    """An attempt that could not be started (:data:`NOT_STARTED`); carries the error."""

    def __init__(self, error: ExecutorError) -> None:
        super().__init__(str(error))
        self.error = error


class Aborted(Exception):
    """The operator chose to abort while a step needed a decision."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class DriverSettings:
    yes: bool = False
    """Destructive and go/no-go confirmations are given by ``--yes`` (the CLI allows it only
    with a lab inventory or ``--i-mean-it``)."""
    sleep: Callable[[float], Any] | None = None
    """Wait between retries; by default an abort interrupts the wait."""
    resume_hint: str = "migrator resume {run}"
    abort_hint: str = "migrator abort {run}"
    """How to continue or end the run, as printed (the runner adds the absolute ``--db``)."""
    # -- the window gate (migrator.engine.window) --
    window_gate: Callable[[Step], GateVerdict | None] | None = None
    """Before a point of no return: the runner's window arithmetic (None: no gate here)."""
    go_reason: str | None = None
    """``--go-reason``: answers go when the window gate fails; recorded as the decision."""
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    plan_name: str = ""
    """Names detached jobs on the hosts (with run, step and attempt)."""


class StepDriver:
    def __init__(
        self,
        book: Bookkeeper,
        runner: StepRunner,
        prompter: Prompter | None,
        *,
        redactor: Redactor,
        commands: CommandQueue,
        settings: DriverSettings,
    ) -> None:
        self.book, self.runner, self.prompter = book, runner, prompter
        self.redactor, self.commands, self.settings = redactor, commands, settings
        self.outputs = RunOutputs(settings.values, redactor)
        """Output values and secret outputs of this run: rendered into each attempt once."""

    # -- entry points -------------------------------------------------------------------------

    def run(self, step: Step) -> StepState:
        """Run a pending step to succeeded or failed (or back to pending when held)."""
        book, sid = self.book, step.id
        book.move(sid, "start")
        attempt = book.attempt(sid)
        if step.done_when:
            done = self._judge(step, step.done_when, "done_when", attempt)
            verdict = done_verdict(done)
            if verdict is Outcome.HOLDS:
                return self._already_done(step, done, attempt)
            if verdict is Outcome.CANNOT_TELL:
                unknown = first_text(done, Outcome.CANNOT_TELL)
                return self._fail_before(step, f"cannot tell whether it is already done: {unknown}")
        failed = halting_text(self._judge(step, step.pre, "pre", attempt))
        if failed:
            return self._fail_before(step, failed)
        book.move(sid, "precheck_ok")
        self._window_go_no_go(step)
        self._confirm(step)
        return self._attempts(step, "launch")

    def _already_done(self, step: Step, done: list[Judged], attempt: int) -> StepState:
        """Every done_when check holds: the post-checks must hold too, else the step halts with
        both results shown (the work looks done but not as the step leaves it)."""
        done_texts = "; ".join(j.text for j in done)
        failed = halting_text(self._judge(step, step.post, "post", attempt))
        if failed:
            return self._fail_before(
                step, f"its done_when checks hold ({done_texts}) but a post-check does not: {failed}"
            )
        summary = f"already done: {done_texts}"
        self.book.move(step.id, "already_done", summary, ended_at=now(), summary=summary)
        self.book.flush()
        return StepState.SUCCEEDED

    def _fail_before(self, step: Step, why: str) -> StepState:
        """The step stops before its action (nothing ran)."""
        self.book.move(step.id, "fail", why, ended_at=now(), summary=why)
        self.book.flush()
        return StepState.FAILED

    def resolve_in_doubt(self, step: Step) -> StepState:
        """A step found running after a crash: its post-checks decide; never silently re-run
        a non-idempotent action. A post-check that cannot tell never reconciles."""
        book, sid = self.book, step.id
        attempt = book.attempt(sid)
        if step.detach and attempt > 0:
            return self._reattach(step)
        if step.post:
            post = self._judge(step, step.post, "reconcile", attempt)
            failed = halting_text(post) or first_text(post, Outcome.CANNOT_TELL)
            if not failed:
                book.move(
                    sid,
                    "reconciled",
                    "reconciled: post-checks pass",
                    ended_at=now(),
                    summary="reconciled after a crash",
                )
                book.flush()
                return StepState.SUCCEEDED
            why = f"post-checks do not settle it ({failed})"
        else:
            why = "it has no post-checks to tell whether it ran"
        if step.idempotent:
            return self._attempts(step, "rerun", f"in doubt, {why}; idempotent: re-run")
        return self._ask_in_doubt(step, why)

    def _reattach(self, step: Step) -> StepState:
        """A detached step found running after a crash: its job on the host is looked up by
        name (same attempt): finished -> its real exit status; running -> followed; never
        started -> started. Then the post-checks, as after any attempt. No operator decision."""
        attempt = self.book.attempt(step.id)
        name = job_name(self.settings.plan_name, self.book.run_id, step.id, attempt)
        return self._attempts(
            step, "rerun", f"in doubt: reattach to detached job {name} (attempt {attempt})", reattach=True
        )

    # -- operator questions -------------------------------------------------------------------

    def _confirm(self, step: Step) -> None:
        questions: list[tuple[str, str, str | None]] = []
        if step.point_of_no_return:
            # The window figures go with the question, so a CLI prompt shows what the TUI shows.
            verdict = self.settings.window_gate(step) if self.settings.window_gate is not None else None
            shown = verdict is not None and verdict.time_left is not None
            figures = f" Window: {verdict.message}." if verdict is not None and shown else ""
            questions.append(
                (
                    "go_no_go",
                    f"Go/no-go: after step {step.id} going back costs more than going on.{figures} Go?",
                    None,
                )
            )
        if step.destructive:
            questions.append(
                (
                    "confirm_destructive",
                    f"Step {step.id} is destructive: {step.title}. Type the host name to go on",
                    step.host,
                )
            )
        for kind, question, expect in questions:
            if self.settings.yes:
                self._decide(step.id, kind, "yes", "--yes")
                continue
            if not is_interactive(self.prompter):
                self._hold(step, f"{kind} needs an operator")
                raise OperatorNeeded(
                    f"step {step.id} needs a confirmation ({kind.replace('_', ' ')})",
                    where=f"step {step.id} on {step.host}",
                    hint="run it on a terminal, or with --yes in a lab (--i-mean-it in production)",
                )
            assert self.prompter is not None
            self.book.flush()
            answer = self.prompter.confirm(question, expect=expect)
            self._decide(step.id, kind, "yes" if answer else "no", "")
            if not answer:
                self._hold(step, "the operator declined")
                raise OperatorNeeded(
                    f"the operator declined step {step.id}",
                    where=f"step {step.id}",
                    hint=self.settings.resume_hint.format(run=self.book.run_id) + " when ready",
                )

    def _window_go_no_go(self, step: Step) -> None:
        """Before a point of no return: if the window no longer covers the rest plus rolling
        back what is done (:mod:`migrator.engine.window`), stop for an explicit go/no-go."""
        verdict = self.settings.window_gate(step) if self.settings.window_gate is not None else None
        if verdict is None or verdict.ok:
            return
        sid, run = step.id, self.book.run_id
        self.book.flush()
        self.book.store.note(
            run,
            actor=self.book.actor,
            trigger="window_gate",
            reason=verdict.message,
            step_id=sid,
            state=self.book.state(sid).value,
        )
        if self.settings.go_reason:
            self._decide(sid, "window_go_no_go", "go", f"--go-reason: {self.settings.go_reason}")
            return
        if not is_interactive(self.prompter):
            self._hold(step, "the window go/no-go needs an operator")
            raise OperatorNeeded(
                f"step {sid} is a point of no return and the window is too short: {verdict.message}",
                where=f"step {sid} on {step.host}",
                hint=f"decide: `{self.settings.resume_hint.format(run=run)} --go-reason TEXT` goes on "
                f"anyway; or roll back, or `{self.settings.abort_hint.format(run=run)} --reason TEXT`",
            )
        assert self.prompter is not None
        choice = self.prompter.choose(f"go/no-go: {verdict.message}. Go on with step {sid}?", ["go", "no-go"])
        reason = self.prompter.text("reason")
        self._decide(sid, "window_go_no_go", choice, reason)
        if choice != "go":
            self._hold(step, f"no-go: {reason}")
            raise OperatorNeeded(
                f"no-go before step {sid}: {reason}",
                where=f"step {sid}",
                hint=self.settings.resume_hint.format(run=run) + " --go-reason TEXT to go on after all; "
                "or roll back, or abort",
            )

    def _ask_in_doubt(self, step: Step, why: str) -> StepState:
        sid, run = step.id, self.book.run_id
        resume = self.settings.resume_hint.format(run=run)
        if not is_interactive(self.prompter):
            self.book.flush()
            raise OperatorNeeded(
                f"step {sid} is in doubt: it was running when migrator stopped and {why}; "
                "it is not idempotent, so it is not re-run without you",
                where=f"step {sid} on {step.host}",
                hint=(
                    f"check by hand, then one of: `{resume} --retry {sid} --reason TEXT`, "
                    f"`{resume} --mark-done {sid} --reason TEXT`, "
                    f"`{resume} --skip {sid} --reason TEXT`, `{self.settings.abort_hint.format(run=run)}`"
                ),
            )
        assert self.prompter is not None
        self.book.flush()
        choice = self.prompter.choose(
            f"Step {sid} is in doubt ({why}). It is not idempotent. What now?",
            ["retry", "mark done", "skip", "abort"],
        )
        reason = self.prompter.text("Reason (recorded in the journal)")
        self._decide(sid, "in_doubt", choice, reason)
        if choice == "retry":
            return self._attempts(step, "rerun", f"in doubt, operator says retry: {reason}")
        if choice == "mark done":
            self.book.move(sid, "mark_done", reason, ended_at=now(), reason=reason)
            self.book.flush()
            return StepState.SUCCEEDED
        if choice == "skip":
            self.book.move(sid, "skip", reason, ended_at=now(), reason=reason, blocks_dependents=True)
            self.book.flush()
            return StepState.SKIPPED
        raise Aborted(reason)

    def _decide(self, step_id: str | None, kind: str, choice: str, reason: str) -> None:
        self.book.decide(step_id, kind, choice, reason)

    def _decide_noted(self, step: Step, kind: str, choice: str, reason: str) -> None:
        """A decision taken inside an action (a new host key accepted): in the decisions (the
        change record) and, durably, in the journal."""
        self._decide(step.id, kind, choice, reason)
        self.book.store.note(
            self.book.run_id,
            actor=self.book.actor,
            trigger=kind,
            reason=f"{choice}: {reason}",
            step_id=step.id,
            state=self.book.state(step.id).value,
        )

    def _hold(self, step: Step, reason: str) -> None:
        """Back to pending: nothing ran, the run pauses."""
        self.book.move(step.id, "reset", reason)
        self.book.flush()

    # -- the attempts -------------------------------------------------------------------------

    def _attempts(self, step: Step, trigger: str, reason: str = "", *, reattach: bool = False) -> StepState:
        """Attempts until one succeeds or the retries are used up. Each attempt ends in one of
        the three outcomes (:class:`~migrator.executors.base.Outcome`): succeeded (then the
        post-checks), failed (retry or fail), unknown (the step is in doubt at once: no retry,
        nothing decided here; the run stops and resume settles it by its post-checks)."""
        book, sid = self.book, step.id
        tries = 0
        while True:
            tries += 1
            # A reattach continues the attempt that was running (its job has that attempt's name).
            attempt = book.attempt(sid) + (0 if reattach and tries == 1 else 1)
            if step.detach and not reason:
                # Write-ahead: the job's name is durable before the job starts.
                job = job_name(self.settings.plan_name, book.run_id, sid, attempt)
                reason = f"attempt {attempt}; detached job {job}"
            # Rendered once per attempt (earlier steps' outputs), before the write-ahead record,
            # so the journal says which command this attempt runs (secrets masked).
            try:
                rendered: tuple[Step, RenderedCommand | None] | UnknownReference = self.outputs.render_action(
                    step, self.redactor
                )
            except UnknownReference as exc:
                rendered = exc
            shown = rendered[1].shown if isinstance(rendered, tuple) and rendered[1] is not None else ""
            book.move(
                sid,
                trigger,
                reason or f"attempt {attempt}",
                attempt=attempt,
                command=shown,
                started_at=now(),
                ended_at=None,
                exit_code=None,
            )
            book.flush()  # write-ahead: "started attempt N" is durable before the action runs
            try:
                outcome = self._execute(step, attempt, rendered)
            except NotStarted as exc:
                if tries <= step.retries and not self.commands.abort_requested.is_set():
                    outcome = ActionOutcome(ok=False, summary=f"could not start: {exc}")
                else:
                    # Nothing ran: back to pending, and the run stops with the error (exit 3).
                    book.move(sid, "again", f"could not start: {exc}")
                    self._hold(step, "could not start the action")
                    raise exc.error from None
            if outcome.unknown:
                why = f"outcome unknown: {outcome.summary}"
                book.move(sid, "outcome_unknown", why, exit_code=None, summary=why)
                book.flush()
                return StepState.IN_DOUBT
            if outcome.ok:
                book.move(
                    sid, "action_ok", outcome.summary, exit_code=outcome.exit_code, summary=outcome.summary
                )
                failed = halting_text(self._judge(step, step.post, "post", attempt))
                if not failed:
                    book.move(sid, "verify_ok", ended_at=now())
                    book.flush()
                    return StepState.SUCCEEDED
                problem = f"post-check failed: {failed}"
            else:
                problem = outcome.summary
            if tries <= step.retries and not self.commands.abort_requested.is_set():
                book.move(
                    sid,
                    "again",
                    f"attempt {attempt} failed: {problem}; retry in {step.retry_delay}s",
                    exit_code=outcome.exit_code,
                    summary=problem,
                )
                book.flush()
                self._wait(step.retry_delay)
                trigger, reason = "launch", ""
                continue
            book.move(sid, "fail", problem, ended_at=now(), exit_code=outcome.exit_code, summary=problem)
            book.flush()
            return StepState.FAILED

    def _wait(self, seconds: float) -> None:
        if self.settings.sleep is not None:
            self.settings.sleep(seconds)
        else:
            self.commands.abort_requested.wait(seconds)

    def _execute(
        self, step: Step, attempt: int, rendered: tuple[Step, RenderedCommand | None] | UnknownReference
    ) -> ActionOutcome:
        book, values = self.book, self.settings.values
        recorder = book.recorder(
            step.id,
            attempt,
            host=step.host,
            redact=self.redactor,
            hold=any(spec.secret for spec in step.outputs.values()),
        )
        progress = ProgressSampler(book, step.id, attempt)
        ctx = StepContext(
            run_id=book.run_id,
            attempt=attempt,
            on_line=recorder,
            cancel=self.commands.abort_requested.is_set,
            outputs={k: dict(v) for k, v in values.items()},
            plan=self.settings.plan_name,
            on_progress=progress,
            decide=lambda kind, choice, reason: self._decide_noted(step, kind, choice, reason),
            command=None if isinstance(rendered, UnknownReference) else rendered[1],
        )
        secrets: dict[str, str] = {}
        try:
            if isinstance(rendered, UnknownReference):
                raise rendered
            outcome = self.runner.execute(rendered[0], ctx)
        except UnknownReference as exc:
            outcome = ActionOutcome(ok=False, summary=str(exc))
        except JobLost:
            # The job may still run on its host: the step stays running, a resume reattaches.
            self._seal_secrets(step, recorder, None)
            recorder.flush()
            progress.finish()
            book.flush()
            raise
        except OperatorNeeded:
            self._seal_secrets(step, recorder, None)
            recorder.flush()
            # Nothing was done (the operator was needed first): back to pending, run pauses.
            book.move(step.id, "again", "operator needed")
            self._hold(step, "operator needed")
            raise
        except OutcomeUnknown as exc:  # started, then lost sight of: never a failure
            self._seal_secrets(step, recorder, None)
            outcome = ActionOutcome.unknown_outcome(self.redactor(str(exc)))
        except StoreError as exc:  # the action started; what it did could not be recorded
            self._seal_secrets(step, recorder, None)
            outcome = ActionOutcome.unknown_outcome(self._store_failed(exc))
        except NOT_STARTED as exc:
            self._seal_secrets(step, recorder, None)
            self._flush_output(recorder)
            raise NotStarted(exc) from exc
        except MigratorError as exc:
            self._seal_secrets(step, recorder, None)
            outcome = ActionOutcome(ok=False, summary=self.redactor(str(exc)))
        secrets = self._seal_secrets(step, recorder, outcome)
        progress.finish()
        if not self._flush_output(recorder) and not outcome.unknown:
            assert recorder.store_error is not None
            # The action ran, but its record did not reach the store: whatever it returned, a
            # resume must not take the stored state for the truth. Settled by post-checks.
            outcome = ActionOutcome.unknown_outcome(
                self._store_failed(recorder.store_error) + f" (the action itself ended: {outcome.summary})"
            )
        outcome.summary = self.redactor(outcome.summary)
        if outcome.evidence:
            book.add_evidence(step.id, attempt, self.redactor(outcome.evidence), step.checklist)
        if outcome.ok:
            self._capture(step, outcome, secrets)
        return outcome

    def _flush_output(self, recorder: OutputRecorder) -> bool:
        """Store the attempt's last output lines; False when the store failed during or after
        the action (the recorder keeps the error instead of raising it into the action)."""
        try:
            recorder.flush()
        except StoreError as exc:
            recorder.store_error = recorder.store_error or exc
        return recorder.store_error is None

    def _store_failed(self, exc: StoreError) -> str:
        return self.redactor(f"the state database failed after the action started: {exc.message}")

    def _seal_secrets(
        self, step: Step, recorder: OutputRecorder, outcome: ActionOutcome | None
    ) -> dict[str, str]:
        """Find the step's secret output values (even of a failed attempt: it may have printed
        them) and register them with the redactor before any held line is shown or stored."""
        if not any(spec.secret for spec in step.outputs.values()):
            return {}
        found = self.outputs.found(step, outcome, recorder.held_text())
        secrets = {name: value for name, value in found.items() if step.outputs[name].secret and value}
        for value in secrets.values():
            self.redactor.add(value)
        return secrets

    def _capture(self, step: Step, outcome: ActionOutcome, secrets: dict[str, str]) -> None:
        found: list[OutputValue] = []
        plain = (
            self.outputs.found(step, outcome, "") if any(not s.secret for s in step.outputs.values()) else {}
        )
        for name, spec in step.outputs.items():
            value = secrets.get(name) if spec.secret else plain.get(name)
            if value is None:
                self.book.emit(StepWarning(self.book.run_id, step.id, f"output '{name}' was not produced"))
                continue
            if spec.secret:
                self.outputs.remember_secret(step.id, name, value)
                found.append(OutputValue(step.id, name, None, fingerprint(value), True))
            else:
                self.settings.values.setdefault(step.id, {})[name] = value
                found.append(OutputValue(step.id, name, value, None, False))
        if found:
            self.book.store.set_values(self.book.run_id, found)

    # -- checks -------------------------------------------------------------------------------

    def _with_outputs(self, checks: Sequence[Any]) -> list[Any]:
        """Checks may read values earlier steps produced (``{{ outputs.STEP.NAME }}``)."""
        return self.outputs.checks(list(checks))

    def _judge(self, step: Step, checks: Sequence[Any], stage: str, attempt: int) -> list[Judged]:
        """Probe ``checks``, record and announce each; warn about a warn check that does not hold."""
        if not checks:
            return []
        self.book.flush()
        try:
            resolved = self._with_outputs(checks)
            results = probe_all(self.runner, step, resolved, run_id=self.book.run_id, attempt=attempt)
        except UnknownReference as exc:
            resolved, results = (
                list(checks),
                cannot_evaluate(checks, f"a check cannot be evaluated yet: {exc}"),
            )
        records, judged = [], []
        for index, (check, result) in enumerate(zip(resolved, results, strict=True)):
            record, event = check_outcome(
                self.book.run_id, step.id, attempt, stage, index, check, result, self.redactor, now()
            )
            records.append(record)
            self.book.emit(event)
            one = Judged(check, result, judged_text(event, where=probe_target(check, step)))
            judged.append(one)
            if not result.passed and check.on_fail is OnFail.WARN and stage != "done_when":
                self.book.emit(StepWarning(self.book.run_id, step.id, f"{stage}-check warning: {one.text}"))
        self.book.store.add_checks(records)
        return judged
