"""The window clock follows a running step's own ETA (issue 14, item 4), at 80x24: the real
rsync parser and the engine's sampler feed the TUI; the clock line's "in-window work left"
and slack move with the ETA rsync prints, not with the step's estimate, and count down from
the last figure while the tool is quiet. On the old code the clock showed the estimate less
the time spent whatever rsync said."""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from datetime import timedelta

from migrator.executors.base import ActionOutcome, StepContext
from migrator.executors.progress import RsyncProgress2
from migrator.executors.scripted import ScriptedExecutor
from migrator.plan.model import Step
from migrator.store.db import Store
from tests.tui.conftest import FakeClock, app_for, idle, plan_of, session_for, until
from tests.tui.screen import shows

SIZE = (80, 24)
QUIET = "quiet"


def rsync_line(eta: str) -> str:
    """rsync --info=progress2 as it redraws (rsync(1)): bytes, percent, rate, time left."""
    return f"    527,302,656  50%   50.29MB/s    {eta}"


class Rsyncing(ScriptedExecutor):
    """The step's tool redraws its progress line (as rsync does, several times a second) until
    the test gives it the next one; QUIET stops the redraws (a stalled copy), None ends the
    action."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.quiet = threading.Event()

    def execute(self, step: Step, ctx: StepContext) -> ActionOutcome:
        parser = RsyncProgress2()
        line = self.lines.get(timeout=20)
        deadline = time.monotonic() + 60  # a failed test must not leave it redrawing forever
        while line is not None and time.monotonic() < deadline:
            if line == QUIET:
                self.quiet.set()
                line = self.lines.get(timeout=20)
                continue
            found = parser.feed(line)
            assert found is not None, line
            ctx.on_progress(found)
            with contextlib.suppress(queue.Empty):  # else redraw the same line, as rsync does
                line = self.lines.get(timeout=0.05)
        return super().execute(step, ctx)


async def test_the_window_clock_moves_with_the_running_steps_eta(store: Store) -> None:
    runner = Rsyncing()
    steps = [
        {"id": "presync-old-data", "command": "rsync -a --info=progress2 /srv/ o2:/srv/", "estimate": "20m"},
        {"id": "switch-over", "command": "true", "estimate": "5m"},
    ]
    session = session_for(store, plan_of(steps, window="2h"), runner)
    clock = FakeClock()
    app = app_for(session)
    app.clock = clock
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert shows(app, app.clock_widget, "in-window work left 25m"), app.clock_widget.render()

        def eta_is(seconds: float) -> bool:
            event = app.progress.get("presync-old-data")
            return event is not None and event.eta == seconds

        await pilot.press("n")
        runner.lines.put(rsync_line("0:00:10"))  # far ahead of the estimate: 10 s more
        await until(pilot, lambda: eta_is(10.0), "the first ETA")
        await pilot.pause()
        assert shows(app, app.clock_widget, "in-window work left 5m10s")

        runner.lines.put(rsync_line("1:00:00"))  # the copy slowed down: one hour more
        await until(pilot, lambda: eta_is(3600.0), "the second ETA")
        await pilot.pause()
        assert shows(app, app.clock_widget, "in-window work left 1h5m")
        assert shows(app, app.clock_widget, "slack +55m")

        # rsync goes quiet (its last figure stays 1:00:00): the clock counts down from it.
        runner.lines.put(QUIET)
        await until(pilot, runner.quiet.is_set, "the tool to go quiet")
        app.bridge.flush()  # the last redraw's event, if it is still on its way
        await pilot.pause(0.1)
        clock.at += timedelta(minutes=10)
        app._tick()
        await pilot.pause()
        assert shows(app, app.clock_widget, "in-window work left 55m")
        assert "presync-old-data" in app.progress  # still running, still no new figure
        runner.lines.put(None)
        await idle(pilot, app)
        # The step ended: the clock is back on estimates (only switch-over is left).
        assert shows(app, app.clock_widget, "in-window work left 5m"), app.clock_widget.render()
