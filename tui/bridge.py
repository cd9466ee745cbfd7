"""The runner thread's side of the TUI: the engine listener and the operator prompter.

Both are called on the runner's thread. The listener must return at once, so it only
posts messages (``post_message`` is thread-safe and does not block). Output lines are
buffered and posted as one batch every ``interval`` seconds or ``batch`` lines: one message
per line would flood the app's queue and freeze the screen (libraries.md: batched
``Log.write_lines`` is ~30x faster). The app calls :meth:`EngineBridge.flush` on a timer so
the tail of a quiet stream still shows.

The prompter pushes a modal with ``call_from_thread(push_screen, modal, future.set_result)``
and waits on the future: the runner blocks, the UI stays live.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, TypeVar

from migrator.engine.events import CheckDone, Event, StepChanged, StepOutput
from tui.facade import ChecklistReply
from tui.messages import EngineEvent, OutputBatch

if TYPE_CHECKING:
    from textual.app import App
    from textual.screen import Screen

T = TypeVar("T")
AT_REST = frozenset({"pending", "succeeded", "failed", "skipped", "blocked", "rolled_back"})


class EngineBridge:
    def __init__(
        self,
        app: App[Any],
        *,
        modals: ModalFactory,
        batch: int = 200,
        interval: float = 0.05,
    ) -> None:
        self.app = app
        self.modals = modals
        self.batch = batch
        self.interval = interval
        self.current_step: str | None = None
        """The step the runner works on (set on the runner thread, before any question)."""
        self.states: dict[str, str] = {}
        """Step states as the runner moved them: ahead of the app, whose messages may lag."""
        self.checks: dict[str, list[str]] = {}
        """Check results of each step's current attempt (shown with an in-doubt decision)."""
        self._lock = threading.Lock()
        self._lines: list[str] = []
        self._lines_step = ""
        self._last_post = time.monotonic()
        self._waiting: set[Future[Any]] = set()
        self.closed = False

    # -- the listener -------------------------------------------------------------------------

    def __call__(self, event: Event) -> None:
        if isinstance(event, StepOutput):
            with self._lock:
                if event.step_id != self._lines_step and self._lines:
                    self._post_lines()
                self._lines_step = event.step_id
                self._lines.append(event.line)
                due = len(self._lines) >= self.batch or time.monotonic() - self._last_post >= self.interval
                if due:
                    self._post_lines()
            return
        self.flush()  # keep output before the move that follows it
        if isinstance(event, StepChanged):
            self.states[event.step_id] = event.dest
            if event.dest in ("prechecking", "ready", "running"):
                self.current_step = event.step_id
            elif event.step_id == self.current_step and event.dest in AT_REST:
                # Its questions are over: a later one (a rollback) must not be taken for its go/no-go.
                self.current_step = None
            if event.dest == "prechecking" or event.trigger == "crash_found":
                self.checks[event.step_id] = []
        elif isinstance(event, CheckDone):
            self.current_step = event.step_id  # e.g. reconciling an in-doubt step
            mark = "pass" if event.passed else "CANNOT TELL" if event.outcome == "cannot_tell" else "FAIL"
            self.checks.setdefault(event.step_id, []).append(
                f"{mark} {event.stage}: {event.description}" + ("" if event.passed else f" ({event.message})")
            )
        self.app.post_message(EngineEvent(event))

    def flush(self) -> None:
        with self._lock:
            if self._lines:
                self._post_lines()

    def _post_lines(self) -> None:
        lines, self._lines = self._lines, []
        self._last_post = time.monotonic()
        self.app.post_message(OutputBatch(self._lines_step, lines))

    # -- the prompter -------------------------------------------------------------------------

    def _ask(self, build: Callable[[], Screen[Any]], default: T) -> T:
        """Show the screen ``build`` makes (on the UI thread: widgets are built there) and wait
        for its result; ``default`` if the app is going away."""
        if self.closed:
            return default
        future: Future[Any] = Future()
        with self._lock:
            self._waiting.add(future)
        try:

            def show() -> None:
                self.app.push_screen(build(), future.set_result)

            self.app.call_from_thread(show)
            answer: T = future.result()
            return answer
        except RuntimeError:  # the app is no longer running: nobody can answer
            return default
        finally:
            with self._lock:
                self._waiting.discard(future)

    def release(self) -> None:
        """The app is closing: answer every open question with "no"/stop."""
        self.closed = True
        with self._lock:
            waiting = list(self._waiting)
        for future in waiting:
            if not future.done():
                future.set_result(None)

    def confirm(self, question: str, *, expect: str | None = None) -> bool:
        step = self.current_step
        return bool(self._ask(lambda: self.modals.confirm(question, expect, step), False))

    def checklist(self, title: str, instructions: str, items: list[str]) -> ChecklistReply | None:
        reply = self._ask(lambda: self.modals.checklist(title, instructions, items), None)
        return reply if isinstance(reply, ChecklistReply) else None

    def choose(self, question: str, choices: list[str]) -> str:
        step, found = self.current_step, list(self.checks.get(self.current_step or "", []))
        answer = self._ask(lambda: self.modals.choose(question, choices, step, found), None)
        # The app closing while the operator decides means: stop, decide nothing.
        return str(answer) if answer is not None else choices[-1]

    def text(self, question: str) -> str:
        answer = self._ask(lambda: self.modals.text(question), None)
        return str(answer) if answer else "the TUI was closed before a reason was given"


class ModalFactory:
    """Builds the modal for each question; the app provides one that knows the run state."""

    def __init__(
        self,
        confirm: Callable[[str, str | None, str | None], Screen[Any]],
        checklist: Callable[[str, str, list[str]], Screen[Any]],
        choose: Callable[[str, list[str], str | None, list[str]], Screen[Any]],
        text: Callable[[str], Screen[Any]],
    ) -> None:
        self.confirm = confirm
        self.checklist = checklist
        self.choose = choose
        self.text = text
