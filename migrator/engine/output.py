"""Output of an action: redacted, streamed to listeners line by line, stored in batches.

One row per line would cost a transaction per line; a batch is written when it holds
``batch`` lines, when ``interval`` seconds passed since the last write, and when the attempt
ends. Executors may call the sink from their reader threads, hence the lock.

With ``hold`` (a step that declares a secret output), lines are neither shown nor stored
while the action runs: the value is not known until the action ends, and a line redacted
before then would carry it verbatim. The driver reads the raw text (:meth:`held_text`),
registers the values with the redactor, then :meth:`flush` redacts, shows and stores.

A store failure while the action runs (a full disk) is kept in :attr:`store_error`, not raised
into the executor's reader: the action goes on to its end (an exception there would stop a
command half way), lines are still shown, and the driver records the attempt's outcome as
unknown. :meth:`flush` raises it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from migrator.engine.events import Event, StepOutput
from migrator.errors import StoreError
from migrator.store.db import Store
from migrator.store.dto import OutputChunk


class OutputRecorder:
    def __init__(
        self,
        store: Store,
        *,
        run_id: int,
        step_id: str,
        attempt: int,
        host: str,
        redact: Callable[[str], str],
        emit: Callable[[Event], None],
        batch: int = 500,
        interval: float = 1.0,
        hold: bool = False,
    ) -> None:
        self.store, self.run_id, self.step_id, self.attempt, self.host = store, run_id, step_id, attempt, host
        self.redact, self.emit, self.batch, self.interval = redact, emit, batch, interval
        self._lock = threading.Lock()
        self._lines: dict[str, list[str]] = {}
        self._first: dict[str, int] = {}
        self._count: dict[str, int] = {}
        self._last_write = time.monotonic()
        self.total = 0
        self._hold = hold
        self._held: list[tuple[str, str]] = []
        self.store_error: StoreError | None = None
        """The first store write that failed (later batches are not attempted)."""

    def __call__(self, stream: str, line: str) -> None:
        if self._hold:
            with self._lock:
                self._held.append((stream, line))
            return
        self._record(stream, line)

    def held_text(self, stream: str = "stdout") -> str:
        """The raw (unredacted) held lines of ``stream``: only for finding secret values."""
        with self._lock:
            return "\n".join(line for s, line in self._held if s == stream)

    def _record(self, stream: str, line: str) -> None:
        clean = self.redact(line)
        self.emit(StepOutput(self.run_id, self.step_id, self.host, stream, clean))
        with self._lock:
            if stream not in self._lines:
                self._lines[stream] = []
                self._first[stream] = self._count.get(stream, 0)
            self._lines[stream].append(clean)
            self._count[stream] = self._count.get(stream, 0) + 1
            self.total += 1
            due = self.total % self.batch == 0 or time.monotonic() - self._last_write >= self.interval
            chunks = self._take() if due else []
        if chunks:
            self._store(chunks)

    def _store(self, chunks: list[OutputChunk]) -> None:
        if self.store_error is not None:
            return
        try:
            self.store.add_output(self.run_id, chunks)
        except StoreError as exc:
            self.store_error = exc

    def _take(self) -> list[OutputChunk]:
        chunks = [
            OutputChunk(self.step_id, self.attempt, stream, self._first[stream], lines)
            for stream, lines in self._lines.items()
            if lines
        ]
        self._lines, self._first = {}, {}
        self._last_write = time.monotonic()
        return chunks

    def flush(self) -> None:
        with self._lock:
            held, self._held, self._hold = self._held, [], False
        for stream, line in held:  # redacted now, with the values the action produced
            self._record(stream, line)
        with self._lock:
            chunks = self._take()
        self._store(chunks)
        if self.store_error is not None:
            raise self.store_error
