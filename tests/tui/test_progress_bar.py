"""A long step's progress on the window screen (issues 14 item 4, 17 item 4): the real rsync
parser, the engine's sampler and the bridge feed a bar with the percent in the step's row and a
bar with bytes, rate and ETA in the detail pane, at 80x24; the bar goes when the step ends."""

from __future__ import annotations

import threading

from migrator.executors.base import ActionOutcome, StepContext
from migrator.executors.progress import RsyncProgress2
from migrator.executors.scripted import ScriptedExecutor
from migrator.plan.model import Step
from migrator.store.db import Store
from tests.tui.conftest import app_for, idle, plan_of, session_for, until
from tests.tui.screen import shows

SIZE = (80, 24)
# rsync --info=progress2 as it redraws (unix.stackexchange.com/questions/215271, rsync(1))
HALF_WAY = "    527,302,656  50%   50.29MB/s    0:00:10"


class Rsyncing(ScriptedExecutor):
    """The step's tool prints rsync's progress; the action holds until the test lets it end."""

    def __init__(self) -> None:
        super().__init__()
        self.go_on = threading.Event()

    def execute(self, step: Step, ctx: StepContext) -> ActionOutcome:
        parser = RsyncProgress2()
        found = parser.feed(HALF_WAY)
        assert found is not None
        ctx.on_progress(found)
        self.go_on.wait(20)
        return super().execute(step, ctx)


async def test_running_step_shows_its_progress_in_the_row_and_the_detail(store: Store) -> None:
    runner = Rsyncing()
    steps = [{"id": "presync-old-data", "command": "rsync -a --info=progress2 /srv/ off2:/srv/"}]
    session = session_for(store, plan_of(steps), runner)
    app = app_for(session)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n")
        await until(pilot, lambda: "presync-old-data" in app.progress, "the progress event")
        await pilot.pause()
        cell = str(app.table.get_cell("presync-old-data", "time"))
        assert cell == "██░ 50%"
        assert shows(app, app.detail.body, "[######......] 50% 502.9 MiB of 1005.8 MiB, 50.3 MiB/s, ETA 0:10")
        runner.go_on.set()
        await idle(pilot, app)
        assert "presync-old-data" not in app.progress
        assert "%" not in str(app.table.get_cell("presync-old-data", "time"))
        assert not shows(app, app.detail.body, "ETA 0:10")
        assert shows(app, app.detail.body, "state succeeded")
