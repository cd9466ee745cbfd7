"""Fixed scenes of the TUI for snapshot tests and the README screenshots.

A :class:`FrozenSession` is a fake Session with canned data: snapshots must not depend on
the time a real run took, so the run, its times and the clock are fixed. The plan is the
team's real ``plans/off1.yaml``. Run ``python -m tests.tui.scenes docs/screenshots`` to write
the SVG screenshots (each scene at 160x48 and 80x24; the snapshot tests use the same scenes).
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Input

from migrator.engine.events import StepVerdict
from tui.app import MigratorApp
from tui.facade import CheckLine, OperatorPrompter, PlanInfo, RunView, StepInfo, StepStatus
from tui.messages import EngineEvent
from tui.screens.modals import ChecklistModal, ChoiceModal

T0 = datetime(2026, 12, 17, 23, 0, tzinfo=UTC)
"""The scenes' run starts here: 8 h before off1's planned window (08:00+01:00 on Dec 18),
the length of the plan's before-the-window phase."""


ROOT = Path(__file__).resolve().parents[2]


def real_plan(name: str = "off1", mode: str = "rehearsal") -> PlanInfo:
    """The team's real plan (``plans/NAME.yaml``) as the TUI gets it, with no measured
    durations; a rehearsal shows it on the lab inventory (same hosts, lab addresses)."""
    from migrator.estimates import learned
    from migrator.plan.load import load_plan
    from tui.planinfo import plan_info

    loaded = load_plan(ROOT / "plans" / f"{name}.yaml")
    info = plan_info(loaded, mode=mode, operator="alex@ops", estimates=learned(loaded.plan, {}))
    return info if mode == "live" else replace(info, inventory_name="lab", environment="lab")


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


FAILED_STEP = "destroy-old-rpool"
"""Where the scenes' run of off1 stands: every step before it done at the estimated pace,
this one failed on a pre-check."""


def _timeline(plan: PlanInfo, until: str) -> tuple[dict[str, StepStatus], int]:
    """Steps before ``until`` succeeded one after the other, each taking its estimate; the
    minute the last one ended."""
    steps: dict[str, StepStatus] = {}
    minute = 0
    for step in plan.steps:
        if step.id == until:
            break
        took = max(1, -(-(step.estimate_seconds or 60) // 60))
        steps[step.id] = StepStatus("succeeded", 1, at(minute), at(minute + took))
        minute += took
    return steps, minute


def running_view(plan: PlanInfo) -> tuple[RunView, int]:
    """The off1 run as the scenes show it, and the minute of the scenes' clock."""
    steps, minute = _timeline(plan, FAILED_STEP)
    steps[FAILED_STEP] = StepStatus(
        "failed", 1, at(minute), at(minute + 1), "pre-check failed: the old data is safe on off2"
    )
    checks = {
        FAILED_STEP: (
            CheckLine("pre", "a stale pool named rpool waits in zpool import", True, "pool: rpool (id 1234)"),
            CheckLine(
                "pre",
                "the old data is safe on off2",
                False,
                "no zfs-hdd/off1-old-srv on off2",
                "present",
                "final-sync-old-data did not leave its copy on off2",
            ),
        )
    }
    return RunView(7, "paused", steps, checks), minute + 3


RUNNING_PLAN = real_plan()
RUNNING, CLOCK_MINUTE = running_view(RUNNING_PLAN)


@dataclass
class FrozenSession:
    """A fake :class:`tui.facade.Session` with fixed data (snapshots only; never runs)."""

    plan: PlanInfo
    view: RunView
    observer: bool = False
    observer_reason: str = ""

    @property
    def run_id(self) -> int | None:
        return self.view.run_id

    @property
    def running(self) -> bool:
        return False

    def attach(self, listener: Any, prompter: OperatorPrompter) -> None:
        pass

    def snapshot(self, *, with_output: bool = False) -> RunView:
        return self.view

    def run(self, until: str | None, retry: Mapping[str, str] | None = None) -> str:
        return "frozen"

    def pause(self) -> str:
        return "frozen"

    def abort(self, reason: str) -> str:
        return "frozen"

    def resolve(self, kind: str, step_id: str, reason: str) -> str:
        return "frozen"

    def rollback(self, step_id: str, reason: str) -> str:
        return "frozen"

    def output(self, step_id: str, limit: int = 2000) -> list[str]:
        return [f"{step_id}: line {i}" for i in range(3)] if step_id == "wipe-disks" else []

    def close(self) -> None:
        pass


def make_app(session: FrozenSession, minute: int | None = None) -> MigratorApp:
    minute = CLOCK_MINUTE if minute is None else minute
    return MigratorApp(session, clock=lambda: at(minute), tick_interval=3600, flush_interval=3600)  # type: ignore[arg-type]


async def _settle(pilot: Pilot[Any]) -> None:
    app = pilot.app
    # A deadline, not 200 rounds: on a loaded machine (xdist workers, other jobs) 200 x 10 ms
    # ran out before the workers finished and the snapshot caught a half-updated screen.
    deadline = time.monotonic() + 30
    while not all(w.is_finished for w in app.workers) and time.monotonic() < deadline:
        await pilot.pause(0.01)
    # An Input's cursor blinks on a 0.5 s timer: on a loaded machine the snapshot fell in the
    # dark half and drew "off1" without its cursor (CI failed 1 in 2 under load). A still
    # cursor is always drawn.
    for field in app.screen.query(Input):
        field.cursor_blink = False
    await pilot.pause()


async def _select(pilot: Pilot[Any], step_id: str) -> None:
    await _settle(pilot)
    app: MigratorApp = pilot.app  # type: ignore[assignment]
    app.table.select_step(step_id)
    await _settle(pilot)


def scene_main() -> tuple[MigratorApp, Callable[[Pilot[Any]], Awaitable[None]]]:
    async def before(pilot: Pilot[Any]) -> None:
        await _select(pilot, FAILED_STEP)

    return make_app(FrozenSession(RUNNING_PLAN, RUNNING)), before


def scene_live_observer() -> tuple[MigratorApp, Callable[[Pilot[Any]], Awaitable[None]]]:
    plan = real_plan(mode="live")
    steps, minute = _timeline(plan, "hdd-partitions")
    steps["hdd-partitions"] = StepStatus("running", 1, at(minute))
    view = RunView(7, "running", steps, lease_holder="ops2@bastion:4242")
    session = FrozenSession(plan, view, True, "ops2@bastion:4242 holds the lease")

    async def before(pilot: Pilot[Any]) -> None:
        await _select(pilot, "hdd-partitions")

    return make_app(session, minute + 4), before


def _modal(
    build: Callable[[MigratorApp], Any], step: str
) -> tuple[MigratorApp, Callable[[Pilot[Any]], Awaitable[None]]]:
    app = make_app(FrozenSession(RUNNING_PLAN, RUNNING))

    async def before(pilot: Pilot[Any]) -> None:
        await _select(pilot, step)
        await app.push_screen(build(app))  # mounted, so _settle finds its Input
        await _settle(pilot)

    return app, before


def _engine_question(step_id: str, kind: str) -> str:
    """The question the engine asks (migrator.engine.driver words it the same way)."""
    step = RUNNING_PLAN.step(step_id)
    if kind == "destructive":
        return f"Step {step.id} is destructive: {step.title}. Type the host name to go on"
    return f"Go/no-go: after step {step.id} going back costs more than going on. Go?"


def scene_destructive() -> tuple[MigratorApp, Callable[[Pilot[Any]], Awaitable[None]]]:
    question = _engine_question(FAILED_STEP, "destructive")
    return _modal(lambda app: app._confirm_modal(question, "off1", FAILED_STEP), FAILED_STEP)


def scene_go_no_go() -> tuple[MigratorApp, Callable[[Pilot[Any]], Awaitable[None]]]:
    question = _engine_question("cluster-join", "go-no-go")
    return _modal(lambda app: app._confirm_modal(question, None, "cluster-join"), "cluster-join")


def _checklist_of(step: StepInfo) -> tuple[str, list[str]]:
    lines = step.action.splitlines()
    items = [line[4:] for line in lines if line.startswith("[ ] ")]
    return "\n".join(line for line in lines if not line.startswith("[ ] ")).strip(), items


def scene_checklist() -> tuple[MigratorApp, Callable[[Pilot[Any]], Awaitable[None]]]:
    step = RUNNING_PLAN.step("hardware")
    instructions, items = _checklist_of(step)
    return _modal(lambda app: ChecklistModal(f"{step.id}: {step.title}", instructions, items), step.id)


def scene_in_doubt() -> tuple[MigratorApp, Callable[[Pilot[Any]], Awaitable[None]]]:
    sid = "zfs-hdd-create"
    question = (
        f"Step {sid} is in doubt (post-checks do not pass (zpool zfs-hdd ONLINE, no errors: "
        "pool zfs-hdd is DEGRADED)). It is not idempotent. What now?"
    )
    found = [
        "what reconciling found:",
        "  FAIL reconcile: zpool zfs-hdd ONLINE, no errors (pool zfs-hdd is DEGRADED)",
    ]
    return _modal(lambda app: ChoiceModal(question, ["retry", "mark done", "skip", "abort"], found), sid)


def scene_dry_run() -> tuple[MigratorApp, Callable[[Pilot[Any]], Awaitable[None]]]:
    """The verdicts of a dry-run as its events leave them (nothing ran)."""
    plan = real_plan(mode="dry-run")
    app = make_app(FrozenSession(plan, RunView(None, "not started")))
    ids = [s.id for s in plan.steps]
    verdicts = {
        ids[0]: ("already_done", "its post-checks pass now", None),
        ids[1]: ("would_fail", "off2 is quorate alone: pvecm status says 'Quorate: No'", None),
        "stop-services": ("would_run", "pre-checks pass now", None),
        FAILED_STEP: ("cannot_know", "cannot know until final-sync-old-data has run", "final-sync-old-data"),
    }

    async def before(pilot: Pilot[Any]) -> None:
        await _settle(pilot)
        for sid in ids:
            verdict, detail, until = verdicts.get(sid, ("would_run", "no pre-checks", None))
            app.post_message(EngineEvent(StepVerdict(8, sid, verdict, detail, until)))
        await _select(pilot, ids[1])

    return app, before


SCENES: dict[str, Callable[[], tuple[MigratorApp, Callable[[Pilot[Any]], Awaitable[None]]]]] = {
    "main": scene_main,
    "live-observer": scene_live_observer,
    "destructive": scene_destructive,
    "go-no-go": scene_go_no_go,
    "checklist": scene_checklist,
    "in-doubt": scene_in_doubt,
    "dry-run": scene_dry_run,
}


SIZES = {"": (160, 48), "-80x24": (80, 24)}
"""Screenshot name suffix -> terminal size: every scene at 160x48 and at 80x24."""


async def _write(directory: Path) -> None:
    for name, scene in SCENES.items():
        for suffix, size in SIZES.items():
            app, before = scene()
            async with app.run_test(size=size) as pilot:
                await before(pilot)
                app.save_screenshot(filename=f"tui-{name}{suffix}.svg", path=str(directory))
                print(directory / f"tui-{name}{suffix}.svg")


if __name__ == "__main__" and sys.argv[1:2] == ["--run"]:
    # A scene in a real terminal (tests/tui/test_terminal_restore.py runs it in a pty).
    app, _ = SCENES[sys.argv[2]]()
    app.run()
    sys.exit(app.return_code or 0)
elif __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots")
    target.mkdir(parents=True, exist_ok=True)
    asyncio.run(_write(target))
