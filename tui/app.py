"""The maintenance-window TUI: routes messages, never does I/O itself.

The engine :class:`~tui.facade.Session` is injected. Every call into it runs in a thread
worker; engine events come back as messages through the :class:`~tui.bridge.EngineBridge`
(the listener), and the engine's questions come back as modals (the bridge is also the
prompter). Observer mode polls the store through the session and allows no action.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.markup import escape
from textual import events, on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Log, Static
from textual.worker import Worker, WorkerState

from migrator.engine.events import (
    CheckDone,
    RunFinished,
    RunStarted,
    StepChanged,
    StepProgress,
    StepVerdict,
    StepWarning,
)
from migrator.engine.states import (
    RUN_FINAL,
    STEP_ACTIVE,
    STEP_ENDED,
    STEP_MARKABLE,
    STEP_RETRYABLE,
    STEP_ROLLBACKABLE,
    STEP_SKIPPABLE,
    STEP_WORKING,
    StepState,
    next_action,
)
from migrator.engine.window import clock_time
from migrator.errors import MigratorError
from tui.bridge import EngineBridge, ModalFactory
from tui.clock import Clock, clock_line, eta_left, go_no_go, reading, span, system_clock
from tui.commands import ActionCommands
from tui.facade import CheckLine, PlanInfo, RunView, Session, StepStatus
from tui.messages import ActionDone, EngineEvent, OutputBatch, SnapshotLoaded, StoredOutput
from tui.screens.modals import (
    ChecklistModal,
    ChoiceModal,
    ConfirmModal,
    GoNoGoModal,
    HelpModal,
    ReasonModal,
    TypeNameModal,
)
from tui.walk import next_step, until_stop
from tui.widgets.detail import LEGEND, StepDetail, describe
from tui.widgets.header import ClockLine, ModeBanner, RunHeader
from tui.widgets.steps import PHASE_PREFIX, StepTable

# Operator actions: those that start the runner (one at a time), and those allowed while it
# runs. Which step states each one may act on come from the lifecycle table (engine.states).
ENGINE_ACTIONS = frozenset({"run_next", "run_until", "retry", "rollback"})
WHILE_RUNNING = frozenset({"pause", "abort", "skip", "mark_done", "rollback"})
"""Queued to the runner, applied between steps (a rollback then pauses the run)."""
OPERATOR_ACTIONS = ENGINE_ACTIONS | WHILE_RUNNING
UNDER_A_MODAL = OPERATOR_ACTIONS | {"help", "quit_app"}
"""The app's keys that a modal greys out: its own keys answer it (escape first, then q)."""

CRASHED = "was {state} when the process running it stopped: it may have run"
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
    "quit_app": "Quit (a running step finishes first; the run pauses)",
    "help": "This help",
}


class MigratorApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "migrator"
    COMMANDS = App.COMMANDS | {ActionCommands}
    # Quit, Abort and Help first: the footer drops what does not fit from the right.
    BINDINGS = [
        Binding("q", "quit_app", "Quit"),
        Binding("a", "abort", "Abort"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("n", "run_next", "Next"),
        Binding("u", "run_until", "Until gate"),
        Binding("p", "pause", "Pause"),
        Binding("r", "retry", "Retry"),
        Binding("s", "skip", "Skip"),
        Binding("d", "mark_done", "Done"),
        Binding("b", "rollback", "Rollback"),
        # Priority: focus moves while the tab key is handled, before the next key is routed
        # (else a key typed right after tab can reach the old widget and be lost).
        Binding("tab", "focus_next", "Pane", show=False, priority=True),
        Binding("shift+tab", "focus_previous", "Pane", show=False, priority=True),
        Binding("f5", "refresh", "Reload", show=False),
    ]
    NARROW = 120
    """Under this many columns the step list takes the whole width (ids and hosts whole)."""

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
        self.run_ended_at: datetime | None = None
        self.lease_note = ""
        self.signals: list[signal.Signals] = []
        self.followed: str | None = None
        """The step the app last moved the cursor to (the running one)."""
        self.crashed: list[str] = []
        """Steps the store has as working while nobody runs them: in doubt (found on start)."""
        self.statuses: dict[str, StepStatus] = {}
        self.checks: dict[str, list[CheckLine]] = {}
        self.progress: dict[str, StepProgress] = {}
        """The latest progress of each running step (from its tool's output: rsync, zfs send ...)."""
        self.progress_seen: dict[str, datetime] = {}
        """When each step's latest progress came (its ETA counts down from there)."""
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
        yield Footer(show_command_palette=False)  # ctrl+p still opens it; the help says so

    def on_mount(self) -> None:
        self.output_log.border_title = "output"
        self.table.border_title = "steps"
        self.detail.border_title = "step"
        if not self.session.observer:
            self.session.attach(self.bridge, self.bridge)
        self._catch_signals()
        self.set_interval(self.flush_interval, self.bridge.flush)
        self.set_interval(self.tick_interval, self._tick)
        if self.session.observer:
            self.set_interval(self.poll_interval, self._poll)
        self.table.focus()
        self._fit(self.size.width)
        self._show_header()
        self._load_snapshot()

    def on_resize(self, event: events.Resize) -> None:
        self._fit(event.size.width)

    def _fit(self, width: int) -> None:
        if self._screen_stacks.get(self._current_mode):
            self.screen_stack[0].set_class(width < self.NARROW, "narrow")

    def _catch_signals(self) -> None:
        """SIGTERM, SIGHUP (the terminal closed) and SIGQUIT end the app as q does: the driver
        then restores the terminal (alternate screen, mouse mode), which a default signal
        death skips. Ctrl+C is a key here (Textual's raw mode), not a signal."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
            with suppress(NotImplementedError, RuntimeError, ValueError):  # no signals off the main thread
                loop.add_signal_handler(sig, self._signalled, sig)
                self.signals.append(sig)

    def _signalled(self, sig: signal.Signals) -> None:
        self.exit(return_code=128 + int(sig), message=f"migrator tui: {sig.name}, the terminal is restored")

    def on_unmount(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in self.signals:
            loop.remove_signal_handler(sig)
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
            ended_at=self.run_ended_at,
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
        self._show_clock(now)
        table = self.table
        for sid, status in self.statuses.items():
            if sid in self.progress:  # a step that says how far it is shows that, not its age
                table.set_progress(sid, self.progress[sid].fraction)
            elif status.state in STEP_WORKING and status.started_at is not None:
                table.set_time(sid, span(max(0, int((now - status.started_at).total_seconds()))), True)

    def _show_clock(self, now: datetime) -> None:
        r = reading(self.plan, self.view(), now, self._eta_left(now))
        self.clock_widget.update(clock_line(self.plan, r, now))

    def _eta_left(self, now: datetime) -> dict[str, int]:
        """Running steps' own ETAs (the window clock counts those, not their estimates)."""
        seen = self.progress_seen
        return eta_left({sid: (p.eta, seen.get(sid, now)) for sid, p in self.progress.items()}, now)

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
        detail.show(
            describe(step, self.statuses.get(sid), tuple(self.checks.get(sid, [])), self.progress.get(sid))
        )

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
            old = self.statuses.get(event.step_id, StepStatus(StepState.PENDING))
            started = old.started_at
            ended = old.ended_at
            if event.dest == StepState.PRECHECKING or event.trigger == "crash_found":
                self.checks[event.step_id] = []
            if event.dest == StepState.RUNNING:
                started, ended = now, None
                self._start_output(event.step_id, event.attempt)
                self._follow(event.step_id)
            elif event.dest in STEP_ENDED:
                ended = now
            if event.dest != StepState.RUNNING:  # the bar is for a running action only
                self.progress.pop(event.step_id, None)
                self.progress_seen.pop(event.step_id, None)
            self._set_status(
                event.step_id,
                StepStatus(
                    event.dest,
                    event.attempt,
                    started,
                    ended,
                    event.reason or old.summary,
                    old.reason,
                    event.command or old.command,
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
        elif isinstance(event, StepProgress):
            self.progress[event.step_id] = event
            self.progress_seen[event.step_id] = now
            self.table.set_progress(event.step_id, event.fraction)
            self._show_clock(now)  # the window clock follows the step's own ETA
            if event.step_id == self.selected_step():
                self._show_detail()
        elif isinstance(event, StepWarning):
            self._say(f"warning: {event.step_id or ''} {event.message}")
        elif isinstance(event, RunFinished):
            self.run_status = event.status
            if event.status in RUN_FINAL:
                self.run_ended_at = now  # the window clock stops here
            self._show_header()
            follow = f"  (next: {event.next_command})" if event.next_command else ""
            self._say(f"run {event.run_id} {event.status}: {event.message}{follow}")

    def _what_next(self) -> str:
        """Every stop says what comes next (the runner's own rule, on the states shown)."""
        if self.run_status in RUN_FINAL:
            return f"Run {self.run_id} is {self.run_status}: nothing more to run (q quits)."
        states = self.states() | dict(self.bridge.states)
        action = next_action([s.id for s in self.plan.steps], self.plan.deps, states)
        if action.step_id is None:
            return "Nothing left to run."
        step = self.plan.step(action.step_id)
        where = f"{step.id} on {step.host}"
        return {
            "settle": f"Next: {where} failed; r retries it (with a reason), s skips, d marks it done.",
            "reconcile": f"Next: {where} is in doubt; n reconciles it (its post-checks decide).",
            "block": f"Next: {where} is blocked by {action.because}; settle that step first.",
        }.get(action.kind, f"Next: n runs {where}; u runs to the next manual step, gate or phase end.")

    def _follow(self, step_id: str) -> None:
        """The list and the detail follow the running step, unless the operator moved the
        cursor away from where the app last put it (then they stay where the operator is)."""
        selected = self.selected_step()
        if selected is None or selected == self.followed or self.followed is None:
            self.followed = step_id
            self.table.select_step(step_id)

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
        self.run_ended_at = view.ended_at or (self.run_ended_at if view.status in RUN_FINAL else None)
        # A dry-run never moves its steps (the store says pending): the verdicts are the events.
        crashed = []
        for sid in [] if self.plan.mode == "dry-run" else [s.id for s in self.plan.steps]:
            status = view.steps.get(sid)
            if status is None:
                continue
            idle = self.busy is None and not self.session.running and not self.session.observer
            if status.state in STEP_ACTIVE and idle:
                # Working in the store, yet this session holds the lease and runs nothing: the
                # process that ran it died. Say so now, not after a key (no ticking timer).
                crashed.append(sid)
                status = replace(status, state=StepState.IN_DOUBT, summary=CRASHED.format(state=status.state))
            self._set_status(sid, status)
        self.checks = {k: list(v) for k, v in view.checks.items()}
        self._tell_in_doubt(crashed, view)
        if self.session.observer:
            self._watch_lease(view)
        if self.session.observer and view.running_output is not None:
            self._observe_output(view)
        if self.session.observer:
            self._observe_progress(view)
        self._show_header()
        self._show_detail()
        self.refresh_bindings()

    def _tell_in_doubt(self, crashed: list[str], view: RunView) -> None:
        doubtful = crashed + [
            sid for sid, st in view.steps.items() if st.state == StepState.IN_DOUBT and sid not in crashed
        ]
        if not doubtful or self.busy is not None or doubtful == self.crashed:
            return
        self.crashed = doubtful
        first = doubtful[0]
        found = [
            f"{'pass' if c.passed else 'FAIL'} {c.stage} {c.description}"
            + (f" ({c.message})" if c.message else "")
            for c in view.checks.get(first, ())
            if c.stage == "reconcile"
        ]
        step = self.plan.step(first)
        what = "n reconciles it: its post-checks decide" + (
            "" if step.idempotent else "; if they cannot, you choose (retry, mark done, skip, abort)"
        )
        seen = f"; reconciling found: {'; '.join(found)}" if found else ""
        self._say(f"IN DOUBT: {', '.join(doubtful)} (the run stopped while it ran){seen}. Next: {what}.",
                  error=True)  # fmt: skip
        self.table.select_step(first)

    def _watch_lease(self, view: RunView) -> None:
        """An observer: the holder's heartbeat, and once it is stale, the exact take-over."""
        if view.lease_holder is None or view.lease_expires_at is None:
            return
        now = self.clock()
        expires = view.lease_expires_at
        expires = expires if expires.tzinfo is not None else expires.replace(tzinfo=UTC)
        if expires <= now:
            command = f"migrator tui {self.plan.name} --run {view.run_id} --take-over --reason TEXT"
            since = clock_time(expires, now=now, zone=None)
            text = f"the lease of {view.lease_holder} went STALE at {since}; take over: quit, run `{command}`"
            self.lease_note = text
            self._say(text, error=True)
        elif self.lease_note:
            self.lease_note = ""
            self._say(f"{view.lease_holder} holds the lease again (heartbeat fresh)")

    def _observe_progress(self, view: RunView) -> None:
        """An observer gets no progress events: it shows what the engine says the store has
        (the latest sample of each running step), the same bar the driving TUI shows."""
        self.progress, self.progress_seen = dict(view.progress), dict(view.progress_at)
        for sid, progress in self.progress.items():
            self.table.set_progress(sid, progress.fraction)

    def _observe_output(self, view: RunView) -> None:
        running = [sid for sid, s in view.steps.items() if s.state in STEP_WORKING]
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
        text = message.message
        if message.engine:
            self.busy = None
            text = f"{text}. {self._what_next()}"
        self._say(text, error=message.error)
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
        if action in UNDER_A_MODAL and self.screen is not self.screen_stack[0]:
            # A modal is open: its keys are answers, never run shortcuts (an "a" typed in a
            # dialog once opened ABORT; a "q" would quit). App bindings would otherwise still
            # fire under it. None, not False: the footer keeps them, greyed (Quit, Abort and
            # Help are always on screen; the dialog's own keys are written in it).
            return None
        return self._allowed(action)

    def _allowed(self, action: str) -> bool | None:
        if action not in OPERATOR_ACTIONS:
            return True
        if self.session.observer or (self.run_status in RUN_FINAL and action != "rollback"):
            return False
        if self.plan.mode == "dry-run":
            return action in ("run_next", "run_until") and self.busy is None
        if self.busy is not None:
            return True if action in WHILE_RUNNING else None
        return action != "pause"

    def operator_action(self, action: str) -> None:
        """Run ``action`` if it is allowed now (the command palette goes through here)."""
        if self._allowed(action):  # the palette is itself a modal: ask as if it were closed
            getattr(self, f"action_{action}")()
        else:
            self._say(f"{ACTION_TITLES.get(action, action)}: not possible now", error=True)

    def action_run_next(self) -> None:
        target = self._target("run_next", next_step)
        if target is not None:
            self.table.select_step(target)
            self.followed = target
            self._run_to("run_next", target)

    def action_run_until(self) -> None:
        target = self._target("run_until", until_stop)
        if target is not None:
            self.followed = self.selected_step()
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
        if first is None or self.statuses.get(first, StepStatus(StepState.PENDING)).state != StepState.FAILED:
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
        state = self.statuses.get(sid, StepStatus(StepState.PENDING)).state
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
        sid = self._step_in(STEP_RETRYABLE, "retry")
        if sid is not None:
            self._with_reason(
                RETRY_QUESTION.format(step=sid),
                lambda why: self._resolve("retry", sid, why),
                value=RETRY_REASON,
            )

    def action_skip(self) -> None:
        sid = self._step_in(STEP_SKIPPABLE, "skip")
        if sid is not None:
            self._with_reason(f"Skip step {sid}: why?", lambda why: self._resolve("skip", sid, why))

    def action_mark_done(self) -> None:
        sid = self._step_in(STEP_MARKABLE, "mark done")
        if sid is not None:
            self._with_reason(
                f"Mark step {sid} done by hand: what proves it is done?",
                lambda why: self._resolve("mark_done", sid, why),
            )

    def action_rollback(self) -> None:
        """The reason first; the engine then asks for the confirmation itself (typing the host
        for a destructive step, naming later steps that stay as they are)."""
        sid = self._step_in(STEP_ROLLBACKABLE, "roll back")
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

    def action_help(self) -> None:
        lines = [f"[b]{escape(b.key_display or b.key)}[/]  {ACTION_TITLES.get(b.action, b.description)}"
                 for b in self.BINDINGS if isinstance(b, Binding) and b.show]  # fmt: skip
        lines += [
            "[b]tab[/]  next pane    [b]f5[/]  reload from the store    [b]ctrl+p[/]  all actions",
            "",
            LEGEND,
            "Keys that are greyed out are not possible now (a step runs, or you only watch).",
        ]
        self.push_screen(HelpModal(lines))

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
            return TypeNameModal(question, expect, self._what_runs(step_id, question))
        if step_id is not None and self.plan.step(step_id).point_of_no_return:
            states = dict(self.statuses)
            for sid, state in self.bridge.states.items():  # the runner is ahead of our messages
                states[sid] = replace(states.get(sid, StepStatus(state)), state=state)
            view = replace(self.view(), steps=states)
            now = self.clock()
            lines = go_no_go(self.plan, view, now, self._eta_left(now)).lines()
            return GoNoGoModal(question, lines + self._what_runs(step_id, question))
        return ConfirmModal(question, details=self._what_runs(step_id, question))

    def _what_runs(self, step_id: str | None, question: str) -> list[str]:
        """What the operator confirms: whether it can be undone, then the step's action. Only
        for the engine's questions before the action (a rollback's question names its own
        command; a host-key question is about the key). The warning comes first: a long
        action (a manual step's checklist) scrolls inside the dialog, the warning never does."""
        before_action = question.startswith((f"Step {step_id} is destructive", "Go/no-go"))
        if step_id is None or not before_action or "Roll back step" in question:
            return []
        step = self.plan.step(step_id)
        out: list[str] = []
        if step.irreversible:
            out.append(f"[b red]IRREVERSIBLE[/]: {escape(step.irreversible)}")
        elif not step.rollback:
            out.append("[b red]no rollback written[/]")
        return [*out, f"[b]on {escape(step.host)}:[/]", *[escape(line) for line in step.action.splitlines()]]

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
