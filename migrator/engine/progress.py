"""A running step's progress: to listeners (often, but not every line) and to the store (sampled).

The executor calls :meth:`ProgressSampler.__call__` for every progress line its tool prints
(rsync redraws several times a second). Listeners get a :class:`StepProgress` at most every
:data:`EMIT_EVERY` seconds; the store keeps a sample at most every :data:`STORE_EVERY` seconds
or when the fraction moved by :data:`STORE_STEP`, and always the first and the last.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from migrator.engine.events import StepProgress
from migrator.engine.states import StepState
from migrator.store.notes import now
from migrator.store.progress import ProgressSample, add_sample, latest

if TYPE_CHECKING:
    from datetime import datetime

    from migrator.engine.bookkeeping import Bookkeeper
    from migrator.executors.progress import Progress
    from migrator.store.db import Store

EMIT_EVERY = 0.25
STORE_EVERY = 10.0
STORE_STEP = 0.05


class ProgressSampler:
    def __init__(
        self, book: Bookkeeper, step_id: str, attempt: int, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.book, self.step_id, self.attempt, self.clock = book, step_id, attempt, clock
        self._emitted = -1e9
        self._stored: tuple[float, float | None] | None = None  # (clock, fraction)
        self.last: Progress | None = None
        self._last_stored: Progress | None = None

    def __call__(self, progress: Progress) -> None:
        self.last = progress
        t = self.clock()
        if t - self._emitted >= EMIT_EVERY or (progress.fraction or 0) >= 1:
            self._emitted = t
            self.book.emit(
                StepProgress(
                    self.book.run_id,
                    self.step_id,
                    self.attempt,
                    progress.fraction,
                    progress.done_bytes,
                    progress.total_bytes,
                    progress.rate,
                    progress.eta,
                )
            )
        if self._stored is None or self._due(t, progress):
            self._store(t, progress)

    def _due(self, t: float, progress: Progress) -> bool:
        assert self._stored is not None
        at, fraction = self._stored
        if t - at >= STORE_EVERY:
            return True
        if progress.fraction is not None and fraction is not None:
            return abs(progress.fraction - fraction) >= STORE_STEP or progress.fraction >= 1 > fraction
        return False

    def _store(self, t: float, progress: Progress) -> None:
        self._stored = (t, progress.fraction)
        self._last_stored = progress
        add_sample(
            self.book.store,
            self.book.run_id,
            ProgressSample(
                self.step_id,
                self.attempt,
                now(),
                progress.fraction,
                progress.done_bytes,
                progress.total_bytes,
                progress.rate,
                progress.eta,
            ),
        )

    def finish(self) -> None:
        """Keep the last progress seen, if the sampling skipped it."""
        if self.last is not None and self.last is not self._last_stored:
            self._store(self.clock(), self.last)


def running_progress(store: Store, run_id: int) -> dict[str, tuple[StepProgress, datetime]]:
    """The latest stored progress of each step of the run that is running now, of its current
    attempt, with when it was sampled: what a front end that gets no events (an observer)
    shows. A step that ended, or a sample of an earlier attempt, shows nothing."""
    found = latest(store, run_id)
    shown: dict[str, tuple[StepProgress, datetime]] = {}
    for record in store.steps(run_id):
        sample = found.get((record.step_id, record.attempt))
        if record.state != StepState.RUNNING or sample is None:
            continue
        event = StepProgress(run_id, record.step_id, record.attempt, sample.fraction, sample.done_bytes,
                             sample.total_bytes, sample.rate, sample.eta)  # fmt: skip
        shown[record.step_id] = (event, sample.at)
    return shown
