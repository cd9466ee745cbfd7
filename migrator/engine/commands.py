"""Operator commands sent to a running run from another thread (a TUI, a signal handler).

The runner drains the queue between steps (and checks ``abort`` while waiting for a retry),
so a command never interrupts an action half-way: pause takes effect after the current step.
A rollback is applied between steps too, then the run pauses.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from enum import StrEnum


class CommandKind(StrEnum):
    PAUSE = "pause"  # stop after the current step; `migrator resume` continues
    ABORT = "abort"  # stop after the current step and end the run for good
    SKIP = "skip"  # skip a step (pending, failed, blocked, in doubt), with a reason
    RETRY = "retry"  # put a failed / in-doubt step back to pending, with a reason
    MARK_DONE = "mark_done"  # record a step as done by hand, with a reason
    ROLLBACK = "rollback"  # run a step's rollback (confirmed through the Prompter), with a reason


@dataclass(frozen=True)
class OperatorCommand:
    kind: CommandKind
    step_id: str | None = None
    reason: str = ""


class CommandQueue:
    """Thread-safe: any thread may ``put``; the runner thread ``drain``s."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[OperatorCommand] = queue.SimpleQueue()
        self.abort_requested = threading.Event()

    def put(self, command: OperatorCommand) -> None:
        if command.kind is CommandKind.ABORT:
            self.abort_requested.set()  # seen at once by a waiting retry or a cancel() probe
        self._queue.put(command)

    def pause(self) -> None:
        self.put(OperatorCommand(CommandKind.PAUSE))

    def abort(self, reason: str = "") -> None:
        self.put(OperatorCommand(CommandKind.ABORT, reason=reason))

    def rollback(self, step_id: str, reason: str) -> None:
        """Roll back ``step_id`` between steps; the run then pauses (what ran after it may
        depend on what was undone)."""
        self.put(OperatorCommand(CommandKind.ROLLBACK, step_id, reason))

    def drain(self) -> list[OperatorCommand]:
        out: list[OperatorCommand] = []
        while True:
            try:
                out.append(self._queue.get_nowait())
            except queue.Empty:
                return out
