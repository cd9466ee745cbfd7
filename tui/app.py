"""The maintenance-window TUI: routes messages, never does I/O itself.

The engine :class:`~tui.facade.Session` is injected. Every call into it runs in a thread
worker; engine events come back as messages through the :class:`~tui.bridge.EngineBridge`
(the listener), and the engine's questions come back as modals (the bridge is also the
prompter). Observer mode polls the store through the session and allows no action.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from rich.markup import escape
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Log, Static
from textual.worker import Worker, WorkerState

from migrator.engine.events import CheckDone, RunFinished, RunStarted, StepChanged, StepVerdict, StepWarning
from migrator.errors import MigratorError
from tui.bridge import EngineBridge, ModalFactory
from tui.clock import Clock, clock_line, go_no_go, reading, span, system_clock
from tui.commands import ActionCommands
from tui.facade import CheckLine, PlanInfo, RunView, Session, StepStatus
from tui.messages import ActionDone, EngineEvent, OutputBatch, SnapshotLoaded, StoredOutput
from tui.screens.modals import (
    ChecklistModal,
    ChoiceModal,
    ConfirmModal,
    GoNoGoModal,
    ReasonModal,
    TypeNameModal,
)
from tui.walk import next_step, until_stop
from tui.widgets.detail import LEGEND, StepDetail, describe
from tui.widgets.header import ClockLine, ModeBanner, RunHeader
from tui.widgets.steps import PHASE_PREFIX, StepTable

ENDED = frozenset({"succeeded", "failed", "skipped", "rolled_back", "blocked"})
FINAL_RUN = frozenset({"completed", "aborted"})
# Actions that start the runner (one at a time), and those allowed while it runs.
ENGINE_ACTIONS = frozenset({"run_next", "run_until", "retry", "rollback"})
WHILE_RUNNING = frozenset({"pause", "abort", "skip", "mark_done", "rollback"})
"""Queued to the runner, applied between steps (a rollback then pauses the run)."""
OPERATOR_ACTIONS = ENGINE_ACTIONS | WHILE_RUNNING
SKIPPABLE = frozenset({"pending", "failed", "in_doubt", "blocked"})
RETRYABLE = frozenset({"failed", "in_doubt", "rolled_back"})
ROLLBACKABLE = frozenset({"succeeded", "failed", "in_doubt"})

RETRY_QUESTION = "Retry step {step}: why is it safe to run it again?"
RETRY_REASON = "the cause was fixed"

ACTION_TITLES: dict[str, str] = {
    "run_next": "Run the next step",
    "run_until": "Run until the next manual step, gate or phase end",
    "pause": "Pause after the current step",
    "retry": "Retry the selected step",
    "skip": "Skip the selected step (reason required)",
    "mark_done": "Mark the selected step done (reason recorded)",
    "rollback": "Roll back the selected step",
    "abort": "Abort the run",
    "refresh": "Reload the run from the store",
}


class MigratorApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "migrator"
    COMMANDS = App.COMMANDS | {ActionCommands}
    BINDINGS = [
        Binding("n", "run_next", "Next"),
        Binding("u", "run_until", "Until gate"),
        Binding("p", "pause", "Pause"),
        Binding("r", "retry", "Retry"),
        Binding("s", "skip", "Skip"),
        Binding("d", "mark_done", "Done"),
        Binding("b", "rollback", "Rollback"),
        Binding("a", "abort", "Abort"),
        Binding("tab", "focus_next", "Pane", show=False),
        Binding("f5", "refresh", "Reload", show=False),
        Binding("q", "quit_app", "Quit"),
    ]

    def __init__(
        self,
        session: Session,
        *,
        clock: Clock = system_clock,
        batch: int = 200,
        flush_interval: float = 0.05,
        poll_interval: float = 1.0,
        tick_interval: float = 1.0,
    ) -> None:
        super().__init__()
        self.session = session
        self.plan = session.plan
        self.clock = clock
        self.flush_interval, self.poll_interval, self.tick_interval = (
            flush_interval,
            poll_interval,
            tick_interval,
        )
        self.bridge = EngineBridge(
            self,
            modals=ModalFactory(self._confirm_modal, ChecklistModal, self._choice_modal, self._text_modal),
            batch=batch,
            interval=flush_interval,
        )
        self.run_id: int | None = session.run_id
        self.run_status = "loading"
        self.statuses: dict[str, StepStatus] = {}
        self.checks: dict[str, list[CheckLine]] = {}
        self.busy: str | None = None
        """The engine action in progress (run_next, retry ...), None when idle."""
        self.output_step: str | None = None
        self.output_stored = False
        """The output pane shows a stored output (replaced when a step starts)."""
        self.observed_lines = 0
        self.quit_requested = False
        self.last_message = ""
        self.lines_written = 0

    # -- layout ---------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        # Kept as attributes: message handlers must not query the screen (a modal may be on
        # top, or the app may be closing when a late message arrives).
        self.table = StepTable(self.plan)
        self.detail = StepDetail()
        self.output_log = Log(max_lines=10_000, id="output", auto_scroll=True)
        self.run_header = RunHeader(self.plan)
        self.clock_widget = ClockLine()
        self.status_line = Static("", id="status-line")
        yield ModeBanner(self.plan, self.session.observer_reason if self.session.observer else "")
        yield self.run_header
        yield self.clock_widget
        with Horizontal(id="body"):
            yield self.table
            with Vertical(id="right"):
                yield self.detail
                yield self.output_log
        yield self.status_line
        yield Footer()

    def on_mount(self) -> None:
        self.output_log.border_title = "output"
        self.table.border_title = "steps"
        self.detail.border_title = "step"
        if not self.session.observer:
            self.session.attach(self.bridge, self.bridge)
        self.set_interval(self.flush_interval, self.bridge.flush)
        self.set_interval(self.tick_interval, self._tick)
        if self.session.observer:
            self.set_interval(self.poll_interval, self._poll)
        self.table.focus()
        self._show_header()
        self._load_snapshot()

    def on_unmount(self) -> None:
        self.bridge.release()

    # -- state ----------------------------------------------------------------------------------

    def states(self) -> dict[str, str]:
        return {sid: s.state for sid, s in self.statuses.items()}

    def view(self) -> RunView:
        return RunView(
            self.run_id,
            self.run_status,
            dict(self.statuses),
            {k: tuple(v) for k, v in self.checks.items()},
        )

    def selected_step(self) -> str | None:
        key = self.table.selected_key()
        if key is None or key.startswith(PHASE_PREFIX):
            return None
        return key

    def _show_header(self) -> None:
        self.run_header.show(self.run_id, self.run_status)
        self._tick()

    def _tick(self) -> None:
        now = self.clock()
        self.clock_widget.update(clock_line(reading(self.plan, self.view(), now)))
        table = self.table
        for sid, status in self.statuses.items():
            if status.state in ("running", "verifying") and status.started_at is not None:
                table.set_time(sid, span(int((now - status.started_at).total_seconds())), True)

    def _set_status(self, sid: str, status: StepStatus) -> None:
        self.statuses[sid] = status
        table = self.table
        table.set_state(sid, status.state)
        if status.started_at is not None and status.ended_at is not None:
            seconds = int((status.ended_at - status.started_at).total_seconds())
            table.set_time(sid, span(max(0, seconds)), True)
        if sid == self.selected_step():
            self._show_detail()

    def _show_detail(self) -> None:
        sid = self.selected_step()
        detail = self.detail
        if sid is None:
            detail.show(f"[b]{escape(self.plan.title)}[/]\n\n{LEGEND}")
            return
        step = self.plan.step(sid)
        detail.show(describe(step, self.statuses.get(sid), tuple(self.checks.get(sid, []))))

    def _say(self, text: str, *, error: bool = False) -> None:
        self.last_message = text
        self.status_line.update(f"[b red]{escape(text)}[/]" if error else escape(text))

    # -- messages from the engine ---------------------------------------------------------------

    @on(EngineEvent)
    def _engine_event(self, message: EngineEvent) -> None:
        event = message.event
        now = self.clock()
        if isinstance(event, RunStarted):
            self.run_id = event.run_id
            self.run_status = "running"
            self._show_header()
        elif isinstance(event, StepChanged):
            old = self.statuses.get(event.step_id, StepStatus("pending"))
            started = old.started_at
            ended = old.ended_at
            if event.dest == "prechecking" or event.trigger == "crash_found":
                self.checks[event.step_id] = []
            if event.dest == "running":
                started, ended = now, None
                self._start_output(event.step_id, event.attempt)
            elif event.dest in ENDED:
                ended = now
            self._set_status(
                event.step_id,
                StepStatus(
                    event.dest, event.attempt, started, ended, event.reason or old.summary, old.reason
                ),
            )
            self._tick()
        elif isinstance(event, CheckDone):
            line = CheckLine(
                event.stage, event.description, event.passed, "", "", event.message, event.outcome
            )
            self.checks.setdefault(event.step_id, []).append(line)
            if event.step_id == self.selected_step():
                self._show_detail()
        elif isinstance(event, StepVerdict):
            self.table.set_verdict(event.step_id, event.verdict, event.until)
            self.statuses[event.step_id] = StepStatus(event.verdict, summary=event.detail)
            if event.step_id == self.selected_step():
                self._show_detail()
        elif isinstance(event, StepWarning):
            self._say(f"warning: {event.step_id or ''} {event.message}")
        elif isinstance(event, RunFinished):
            self.run_status = event.status
            self._show_header()
            follow = f"  (next: {event.next_command})" if event.next_command else ""
            self._say(f"run {event.run_id} {event.status}: {event.message}{follow}")

    def _start_output(self, step_id: str, attempt: int) -> None:
        log = self.output_log
        if self.output_step != step_id or self.output_stored:
            log.clear()
        self.output_step, self.output_stored = step_id, False
        log.border_title = f"output: {step_id} #{attempt}"
        log.write_line(f"--- {step_id} attempt {attempt} ---")

    @on(OutputBatch)
    def _output(self, message: OutputBatch) -> None:
        log = self.output_log
        if message.step_id != self.output_step:
            self.output_step = message.step_id
            log.border_title = f"output: {message.step_id}"
        log.write_lines(message.lines)
        self.lines_written += len(message.lines)

    @on(StoredOutput)
    def _stored_output(self, message: StoredOutput) -> None:
        if self.busy is not None or self.session.observer:
            return
        log = self.output_log
        log.clear()
        self.output_step, self.output_stored = message.step_id, True
        log.border_title = f"output: {message.step_id} (stored)"
        log.write_lines(message.lines or ["(no output recorded)"])

    @on(SnapshotLoaded)
    def _snapshot(self, message: SnapshotLoaded) -> None:
        if not self._screen_stacks.get(self._current_mode):
            return  # the app is closing: a snapshot loaded by a worker has no screen left to update
        view = message.view
        self.run_id, self.run_status = view.run_id, view.status
        # A dry-run never moves its steps (the store says pending): the verdicts are the events.
        for sid in [] if self.plan.mode == "dry-run" else [s.id for s in self.plan.steps]:
            status = view.steps.get(sid)
            if status is not None:
                self._set_status(sid, status)
        self.checks = {k: list(v) for k, v in view.checks.items()}
        if self.session.observer and view.running_output is not None:
            self._observe_output(view)
        self._show_header()
        self._show_detail()
        self.refresh_bindings()

    def _observe_output(self, view: RunView) -> None:
        running = [sid for sid, s in view.steps.items() if s.state in ("running", "verifying")]
        log = self.output_log
        if not running:
            return
        if running[0] != self.output_step:
            log.clear()
            self.output_step, self.observed_lines = running[0], 0
            log.border_title = f"output: {running[0]} (observed)"
        new = list(view.running_output[self.observed_lines :])
        if new:
            log.write_lines(new)
            self.observed_lines += len(new)

    @on(ActionDone)
    def _action_done(self, message: ActionDone) -> None:
        if message.engine:
            self.busy = None
        self._say(message.message, error=message.error)
        if message.error:
            self.notify(
                message.message,
                title=ACTION_TITLES.get(message.action, message.action),
                severity="error",
                timeout=8,
            )
        self.refresh_bindings()
        self._load_snapshot()
        if self.quit_requested and self.busy is None:
            self.exit()

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR:
            # A bug, not an operator error: say so loudly and keep the app usable.
            error = event.worker.error
            if event.worker.group == "engine":
                self.busy = None
                self.refresh_bindings()
            self._say(f"internal error in {event.worker.name}: {type(error).__name__}: {error}", error=True)

    @on(DataTable.RowHighlighted)
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_detail()
        sid = self.selected_step()
        if sid is not None and self.busy is None and not self.session.observer and self.run_id is not None:
            self._load_output(sid)

    # -- workers (the only place the session is called) -----------------------------------------

    @work(thread=True, exclusive=True, group="snapshot", exit_on_error=False)
    def _load_snapshot(self) -> None:
        self.post_message(SnapshotLoaded(self.session.snapshot(with_output=self.session.observer)))

    def _poll(self) -> None:
        if self.session.observer:
            self._load_snapshot()

    @work(thread=True, exclusive=True, group="output", exit_on_error=False)
    def _load_output(self, step_id: str) -> None:
        self.post_message(StoredOutput(step_id, self.session.output(step_id)))

    @work(thread=True, exclusive=True, group="engine", exit_on_error=False)
    def _engine(self, action: str, call: Callable[[], str]) -> None:
        try:
            text = call()
        except MigratorError as exc:  # an operator-facing error: shown, the app goes on
            self.bridge.flush()
            self.post_message(ActionDone(action, str(exc), error=True, engine=True))
            return
        self.bridge.flush()
        self.post_message(ActionDone(action, text, engine=True))

    @work(thread=True, group="control", exit_on_error=False)
    def _control(self, action: str, call: Callable[[], str]) -> None:
        try:
            text = call()
        except MigratorError as exc:
            self.post_message(ActionDone(action, str(exc), error=True))
            return
        self.post_message(ActionDone(action, text))

    def _start(self, action: str, call: Callable[[], str]) -> None:
        self.busy = action
        self.refresh_bindings()
        self._say(ACTION_TITLES[action] + " ...")
        self._engine(action, call)

    # -- actions ---------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action not in OPERATOR_ACTIONS:
            return True
        if self.session.observer or (self.run_status in FINAL_RUN and action != "rollback"):
            return False
        if self.plan.mode == "dry-run":
            return action in ("run_next", "run_until") and self.busy is None
        if self.busy is not None:
            return True if action in WHILE_RUNNING else None
        return action != "pause"

    def operator_action(self, action: str) -> None:
        """Run ``action`` if it is allowed now (the command palette goes through here)."""
        if self.check_action(action, ()):
            getattr(self, f"action_{action}")()
        else:
            self._say(f"{ACTION_TITLES.get(action, action)}: not possible now", error=True)

    def action_run_next(self) -> None:
        target = self._target("run_next", next_step)
        if target is not None:
            self.table.select_step(target)
            self._run_to("run_next", target)

    def action_run_until(self) -> None:
        target = self._target("run_until", until_stop)
        if target is not None:
            self._run_to("run_until", target)

    def _target(self, action: str, pick: Callable[[PlanInfo, Mapping[str, str]], str | None]) -> str | None:
        """The step ``action`` runs to; None when there is nothing to pick. A dry-run has no
        target: it checks the whole plan at once, started here."""
        if self.plan.mode == "dry-run":
            self._start(action, lambda: self.session.run(None))
            return None
        target = pick(self.plan, self.states())
        if target is None:
            self._say("nothing left to run")
        return target

    def _run_to(self, action: str, target: str) -> None:
        """Run up to ``target``. A failed step first in line runs again only with a reason,
        asked as for ``r`` and recorded as the operator's retry (never a silent re-run)."""
        first = next_step(self.plan, self.states())
        if first is None or self.statuses.get(first, StepStatus("pending")).state != "failed":
            self._start(action, lambda: self.session.run(target))
            return
        self.table.select_step(first)
        self._with_reason(
            RETRY_QUESTION.format(step=first),
            lambda why: self._start(action, lambda: self.session.run(target, {first: why})),
            value=RETRY_REASON,
        )

    def action_pause(self) -> None:
        self._control("pause", self.session.pause)

    def _step_in(self, allowed: frozenset[str], verb: str) -> str | None:
        sid = self.selected_step()
        if sid is None:
            self._say(f"select a step to {verb}", error=True)
            return None
        state = self.statuses.get(sid, StepStatus("pending")).state
        if state not in allowed:
            self._say(f"cannot {verb} step {sid}: it is {state}", error=True)
            return None
        return sid

    def _with_reason(self, question: str, then: Callable[[str], None], value: str = "") -> None:
        def answered(reason: str | None) -> None:
            if reason:
                then(reason)

        self.push_screen(ReasonModal(question, value=value), answered)

    def _resolve(self, kind: str, sid: str, reason: str) -> None:
        """While the runner runs, the command is queued for it (applied between steps); when
        idle, a short run applies it (and, for a retry, runs the step again)."""
        self._queue_or_start(kind, lambda: self.session.resolve(kind, sid, reason))

    def _queue_or_start(self, action: str, call: Callable[[], str]) -> None:
        """While the runner runs, ``call`` only queues a command (the runner applies it
        between steps); when idle it runs as the engine's action."""
        if self.busy is not None:
            self._control(action, call)
        else:
            self._start(action, call)

    def action_retry(self) -> None:
        sid = self._step_in(RETRYABLE, "retry")
        if sid is not None:
            self._with_reason(
                RETRY_QUESTION.format(step=sid),
                lambda why: self._resolve("retry", sid, why),
                value=RETRY_REASON,
            )

    def action_skip(self) -> None:
        sid = self._step_in(SKIPPABLE, "skip")
        if sid is not None:
            self._with_reason(f"Skip step {sid}: why?", lambda why: self._resolve("skip", sid, why))

    def action_mark_done(self) -> None:
        sid = self._step_in(SKIPPABLE, "mark done")
        if sid is not None:
            self._with_reason(
                f"Mark step {sid} done by hand: what proves it is done?",
                lambda why: self._resolve("mark_done", sid, why),
            )

    def action_rollback(self) -> None:
        """The reason first; the engine then asks for the confirmation itself (typing the host
        for a destructive step, naming later steps that stay as they are)."""
        sid = self._step_in(ROLLBACKABLE, "roll back")
        if sid is None:
            return
        step = self.plan.step(sid)
        if not step.rollback or step.irreversible:
            self._say(f"step {sid} has no rollback: {step.irreversible or 'none written'}", error=True)
            return
        self._with_reason(
            f"Roll back step {sid} on {step.host} ({step.rollback.splitlines()[0]}): why?",
            lambda why: self._resolve_rollback(sid, why),
        )

    def _resolve_rollback(self, sid: str, why: str) -> None:
        # Queued while running: the runner applies it between steps, then pauses.
        self._queue_or_start("rollback", lambda: self.session.rollback(sid, why))

    def action_abort(self) -> None:
        def confirmed(yes: bool | None) -> None:
            if yes:
                self._with_reason("Abort: why?", self._abort_because)

        when = " after the current step" if self.busy else ""
        self.push_screen(
            ConfirmModal(f"End run {self.run_id} for good{when}? It cannot be resumed.", title="ABORT"),
            confirmed,
        )

    def _abort_because(self, why: str) -> None:
        self._control("abort", lambda: self.session.abort(why))

    def action_refresh(self) -> None:
        self._load_snapshot()

    def action_quit_app(self) -> None:
        if self.busy is None or self.session.observer:
            self.exit()
            return
        self.quit_requested = True
        self._control("pause", self.session.pause)
        self._say("quitting after the current step (paused; resume later)")

    # -- modals for the engine's questions (built on the UI thread) ------------------------------

    def _confirm_modal(self, question: str, expect: str | None, step_id: str | None) -> Screen[Any]:
        if expect:
            return TypeNameModal(question, expect)
        if step_id is not None and self.plan.step(step_id).point_of_no_return:
            states = dict(self.statuses)
            for sid, state in self.bridge.states.items():  # the runner is ahead of our messages
                states[sid] = replace(states.get(sid, StepStatus(state)), state=state)
            view = replace(self.view(), steps=states)
            return GoNoGoModal(question, go_no_go(self.plan, view, self.clock()).lines())
        return ConfirmModal(question)

    def _choice_modal(
        self, question: str, choices: list[str], step_id: str | None, found: list[str]
    ) -> Screen[Any]:
        details = ["what reconciling found:", *[f"  {line}" for line in found]] if found else []
        return ChoiceModal(question, choices, details)

    def _text_modal(self, question: str) -> Screen[Any]:
        return ReasonModal(question, cancellable=False)  # the engine waits for an answer

    def save_svg(self, directory: Path, name: str) -> Path:
        """A screenshot (for the README and the tests)."""
        return Path(self.save_screenshot(filename=name, path=str(directory)))
