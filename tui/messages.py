"""Messages posted to the app from other threads (the runner, workers): the only way in."""

from __future__ import annotations

from textual.message import Message

from migrator.engine.events import Event
from tui.facade import RunView


class EngineEvent(Message):
    """An engine event other than output (step moved, check done, run finished ...)."""

    def __init__(self, event: Event) -> None:
        super().__init__()
        self.event = event


class OutputBatch(Message):
    """Output lines of the running step, batched (one Log.write_lines per batch)."""

    def __init__(self, step_id: str, lines: list[str]) -> None:
        super().__init__()
        self.step_id = step_id
        self.lines = lines


class SnapshotLoaded(Message):
    def __init__(self, view: RunView) -> None:
        super().__init__()
        self.view = view


class StoredOutput(Message):
    """The stored output of a step, loaded for the output pane when nothing runs."""

    def __init__(self, step_id: str, lines: list[str]) -> None:
        super().__init__()
        self.step_id = step_id
        self.lines = lines


class ActionDone(Message):
    """An engine action (run, skip, rollback ...) returned; ``message`` says how it ended."""

    def __init__(self, action: str, message: str, error: bool = False, engine: bool = False) -> None:
        super().__init__()
        self.engine = engine
        """It was the runner's action (the app is idle again), not a queued command."""
        self.action = action
        self.message = message
        self.error = error
