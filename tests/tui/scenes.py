"""Fixed scenes of the TUI for snapshot tests and the README screenshots.

A :class:`FrozenSession` is a fake Session with canned data: snapshots must not depend on
the time a real run took, so the run, its times and the clock are fixed. Run
``python -m tests.tui.scenes docs/screenshots`` to write the SVG screenshots.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from migrator.engine.events import StepVerdict
from tui.app import MigratorApp
from tui.facade import CheckLine, OperatorPrompter, PlanInfo, RunView, StepInfo, StepStatus
from tui.messages import EngineEvent
from tui.screens.modals import ChecklistModal, ChoiceModal

T0 = datetime(2024, 12, 3, 22, 0, tzinfo=UTC)


def _step(id: str, title: str, phase: str, host: str, est: int | None, **kw: Any) -> StepInfo:
    return StepInfo(id=id, title=title, phase_id=phase, phase_title=PHASES[phase], host=host,
                    kind=kw.pop("kind", "ssh"), estimate_seconds=est, **kw)  # fmt: skip


PHASES = {"prep": "Before the window", "window": "Window: reinstall off1", "after": "After"}
STEPS = (
    _step(
        "backup-check",
        "Last backup is fresh",
        "prep",
        "off1",
        120,
        action="zfs list -t snapshot ...",
        checks=("post: newest snapshot younger than 24h",),
    ),
    _step(
        "stop-services",
        "Stop MongoDB and Redis",
        "window",
        "off1",
        300,
        action="systemctl stop mongod redis",
        rollback="systemctl start mongod redis",
        rollback_seconds=120,
    ),
    _step(
        "wipe-disks",
        "Wipe the system disks",
        "window",
        "off1",
        600,
        destructive=True,
        action="sgdisk --zap-all /dev/sda /dev/sdb",
        irreversible="the old system is gone",
        checks=("pre: services stopped", "post: no partition table"),
    ),
    _step(
        "reinstall",
        "Reinstall from the iDRAC console",
        "window",
        "off1",
        2700,
        kind="manual",
        manual=True,
        action="Boot the Proxmox ISO from the virtual media\n[ ] ISO booted\n[ ] disks selected",
    ),
    _step(
        "switch-dns",
        "Point the DNS at the new host",
        "window",
        "dns",
        900,
        point_of_no_return=True,
        action="POST /domains/off/records",
        rollback="restore the old record",
        rollback_seconds=600,
    ),
    _step("smoke", "Smoke tests", "after", "off1", 300, action="curl -fsS https://world.openfoodfacts.org/"),
)


def plan(mode: str = "rehearsal", environment: str = "lab") -> PlanInfo:
    inventory = "lab" if environment == "lab" else "production"
    return PlanInfo(
        "off1", "Move off1 to Proxmox VE", inventory, environment, mode, "alex@ops", 4 * 3600, STEPS
    )


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


RUNNING = RunView(
    7,
    "running",
    {
        "backup-check": StepStatus("succeeded", 1, at(0), at(2)),
        "stop-services": StepStatus("succeeded", 1, at(3), at(7)),
        "wipe-disks": StepStatus("failed", 1, at(8), at(9), "exit 2: /dev/sdb: device is busy"),
        "reinstall": StepStatus("pending"),
        "switch-dns": StepStatus("pending"),
        "smoke": StepStatus("pending"),
    },
    {
        "wipe-disks": (
            CheckLine("pre", "services stopped", True, "inactive"),
            CheckLine("post", "no partition table", False, "gpt found", "none", "/dev/sdb still partitioned"),
        )
    },
)


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


def make_app(session: FrozenSession) -> MigratorApp:
    return MigratorApp(session, clock=lambda: at(41), tick_interval=3600, flush_interval=3600)  # type: ignore[arg-type]


async def _settle(pilot: Pilot[Any]) -> None:
    app = pilot.app
    for _ in range(200):
        if all(w.is_finished for w in app.workers):
            break
        await pilot.pause(0.01)
    await pilot.pause()


async def _select(pilot: Pilot[Any], step_id: str) -> None:
    await _settle(pilot)
    app: MigratorApp = pilot.app  # type: ignore[assignment]
    app.table.select_step(step_id)
    await _settle(pilot)


def scene_main(
    pilot_size: tuple[int, int] = (100, 30),
) -> tuple[MigratorApp, Callable[[Pilot[Any]], Awaitable[None]]]:
    async def before(pilot: Pilot[Any]) -> None:
        await _select(pilot, "wipe-disks")

    return make_app(FrozenSession(plan(), RUNNING)), before


def scene_live_observer() -> tuple[MigratorApp, Callable[[Pilot[Any]], Awaitable[None]]]:
    session = FrozenSession(plan("live", "production"), RUNNING, True, "ops2@bastion:4242 holds the lease")

    async def before(pilot: Pilot[Any]) -> None:
        await _select(pilot, "stop-services")

    return make_app(session), before


def _modal(
    build: Callable[[MigratorApp], Any], step: str
) -> tuple[MigratorApp, Callable[[Pilot[Any]], Awaitable[None]]]:
    app = make_app(FrozenSession(plan(), RUNNING))

    async def before(pilot: Pilot[Any]) -> None:
        await _select(pilot, step)
        app.push_screen(build(app))
        await _settle(pilot)

    return app, before


def scene_destructive() -> tuple[MigratorApp, Callable[[Pilot[Any]], Awaitable[None]]]:
    question = "Step wipe-disks is destructive: Wipe the system disks. Type the host name to go on"
    return _modal(lambda app: app._confirm_modal(question, "off1", "wipe-disks"), "wipe-disks")


def scene_go_no_go() -> tuple[MigratorApp, Callable[[Pilot[Any]], Awaitable[None]]]:
    question = "Go/no-go: after step switch-dns going back costs more than going on. Go?"
    return _modal(lambda app: app._confirm_modal(question, None, "switch-dns"), "switch-dns")


def scene_checklist() -> tuple[MigratorApp, Callable[[Pilot[Any]], Awaitable[None]]]:
    return _modal(
        lambda app: ChecklistModal(
            "reinstall: Reinstall from the iDRAC console",
            "Boot the Proxmox ISO from the virtual media, install on the two SSDs (ZFS mirror).",
            ["ISO booted", "disks selected: sda, sdb", "root password from the vault"],
        ),
        "reinstall",
    )


def scene_in_doubt() -> tuple[MigratorApp, Callable[[Pilot[Any]], Awaitable[None]]]:
    question = (
        "Step wipe-disks is in doubt (post-checks do not pass (no partition table: /dev/sdb still "
        "partitioned)). It is not idempotent. What now?"
    )
    found = ["what reconciling found:", "  FAIL reconcile: no partition table (/dev/sdb still partitioned)"]
    return _modal(
        lambda app: ChoiceModal(question, ["retry", "mark done", "skip", "abort"], found), "wipe-disks"
    )


VERDICTS = (
    ("backup-check", "already_done", "its post-checks pass now", None),
    ("stop-services", "would_run", "pre-checks pass now", None),
    (
        "wipe-disks",
        "cannot_know",
        "cannot know until step 2 (stop-services): services stopped",
        "stop-services",
    ),
    ("reinstall", "would_run", "no pre-checks", None),
    ("switch-dns", "would_run", "no pre-checks", None),
    ("smoke", "would_fail", "site answers: HTTP 502", None),
)


def scene_dry_run() -> tuple[MigratorApp, Callable[[Pilot[Any]], Awaitable[None]]]:
    """The verdicts of a dry-run as its events leave them (nothing ran)."""
    app = make_app(FrozenSession(plan("dry-run"), RunView(None, "not started")))

    async def before(pilot: Pilot[Any]) -> None:
        await _settle(pilot)
        for sid, verdict, detail, until in VERDICTS:
            app.post_message(EngineEvent(StepVerdict(8, sid, verdict, detail, until)))
        await _select(pilot, "wipe-disks")

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


async def _write(directory: Path) -> None:
    for name, scene in SCENES.items():
        app, before = scene()
        async with app.run_test(size=(100, 30)) as pilot:
            await before(pilot)
            app.save_screenshot(filename=f"tui-{name}.svg", path=str(directory))
            print(directory / f"tui-{name}.svg")


if __name__ == "__main__" and sys.argv[1:2] == ["--run"]:
    # A scene in a real terminal (tests/tui/test_terminal_restore.py runs it in a pty).
    app, _ = SCENES[sys.argv[2]]()
    app.run()
    sys.exit(app.return_code or 0)
elif __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots")
    target.mkdir(parents=True, exist_ok=True)
    asyncio.run(_write(target))
