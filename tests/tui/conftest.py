"""Helpers for the TUI tests: a real SQLite store, the real engine behind TuiSession,
step runners that are ScriptedExecutor, real local commands (Executors) or the real sshd."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from migrator.cli.tui import PrompterProxy, TuiSession
from migrator.executors.base import StepRunner
from migrator.executors.connections import Connections
from migrator.executors.registry import Executors
from migrator.plan.inventory import Environment, Inventory
from migrator.plan.model import Phase, Plan, Step, Where, Window
from migrator.secrets import Redactor
from migrator.store.db import Store
from tests.engine.doubles import FakeLoaded
from tui.app import MigratorApp

FIXED = datetime(2024, 12, 3, 22, 0, tzinfo=UTC)


class FakeClock:
    """The app's clock in tests: it moves only when told to (snapshots must not see time)."""

    def __init__(self, at: datetime = FIXED) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(str(tmp_path / "state.db"))
    yield s
    s.close()


def plan_of(
    steps: Sequence[Any],
    *,
    name: str = "demo",
    window: str | None = "2h",
    inventory: Inventory | None = None,
) -> FakeLoaded:
    """A plan of ``steps`` (Step fields; kind defaults to local; ``phase`` names the phase,
    default ``prepare``), each step depending on the one before, with a window."""
    phases: dict[str, list[Step]] = {}
    for s in steps:
        fields = {k: v for k, v in s.items() if k != "phase"}
        model = Step.model_validate({"kind": "local", "title": f"step {s['id']}", **fields})
        phases.setdefault(s.get("phase", "prepare"), []).append(model)
    plan = Plan(
        name=name,
        title=f"{name} rehearsal plan",
        description=None,
        inventory="lab.yaml",
        window=Window.model_validate({"length": window}) if window else None,
        phases=[
            Phase(id=pid, title=pid.capitalize(), where=Where.WINDOW, steps=models)
            for pid, models in phases.items()
        ],
    )
    order = [st.id for st in plan.steps()]
    models = plan.steps()
    deps = {
        st.id: (list(st.depends_on) if st.depends_on is not None else order[i - 1 : i])
        for i, st in enumerate(models)
    }
    prints = {st.id: hashlib.sha256(st.model_dump_json().encode()).hexdigest() for st in models}
    fp = hashlib.sha256("".join(prints.values()).encode()).hexdigest()
    inventory = inventory or Inventory(name="lab", environment=Environment.LAB, known_hosts=None)
    return FakeLoaded(plan, inventory, Path(f"plans/{name}.yaml"), fp, order, deps, prints)


def session_for(
    store: Store,
    plan: FakeLoaded,
    runner: StepRunner,
    proxy: PrompterProxy | None = None,
    **kw: Any,
) -> TuiSession:
    """A session on ``runner``, masking with the runner's own Redactor when it has one (the
    real Executors), as ``migrator tui`` does."""
    redactor = getattr(runner, "redactor", None) or Redactor()
    session = TuiSession.open(
        store, plan, runner, proxy or PrompterProxy(), redactor=redactor, actor="tester@lab", **kw
    )
    OPEN_SESSIONS.append(session)
    return session


OPEN_SESSIONS: list[TuiSession] = []


@pytest.fixture(autouse=True)
def _close_sessions(store: Store) -> Iterator[None]:
    """Every session a test opened is closed (lease released, heartbeat stopped) before its
    store is: as ``migrator tui`` does on quit."""
    yield
    while OPEN_SESSIONS:
        OPEN_SESSIONS.pop().close()


def power_cut(session: TuiSession) -> None:
    """The session's process dies: its lease heartbeat stops, nothing is released or paused,
    and the lease goes stale after its ttl (a test gives the dying session a short one)."""
    import time

    lease = session.lease
    assert lease is not None and lease._thread is not None
    lease._stop.set()  # what a dead process does: no more heartbeats
    lease._thread.join()
    session.lease = None  # close() must not release it: a dead process cannot
    session.close()
    while (
        row := session.store.lease(session.loaded.plan.name)
    ) is not None and row.expires_at > datetime.now(UTC):
        time.sleep(0.01)


def app_for(session: TuiSession, **kw: Any) -> MigratorApp:
    return MigratorApp(session, clock=FakeClock(), **kw)


async def until(
    pilot: Pilot[Any], condition: Callable[[], bool], what: str = "", limit: float = 20.0
) -> None:
    """Let the app run until ``condition`` holds; fail (not hang) after ``limit`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"never happened: {what or condition}")
        await pilot.pause(0.02)


async def idle(pilot: Pilot[Any], app: MigratorApp) -> None:
    """Wait for the engine action to end and its snapshot to be shown."""
    await until(pilot, lambda: app.busy is None, "the engine action to end")
    await until(pilot, lambda: all(w.is_finished for w in app.workers), "the workers to finish")
    await pilot.pause()


async def press_and_idle(pilot: Pilot[Any], app: MigratorApp, *keys: str) -> None:
    """Press ``keys``, then wait as :func:`idle` does for what they started."""
    await pilot.press(*keys)
    await idle(pilot, app)


def table_states(app: MigratorApp) -> dict[str, str]:
    return {sid: s.state for sid, s in app.statuses.items()}


def store_states(store: Store, run_id: int) -> dict[str, str]:
    return {r.step_id: r.state for r in store.steps(run_id)}


def local_executors(tmp_path: Path, proxy: PrompterProxy, inventory: Inventory | None = None) -> Executors:
    """The real executor registry (local commands, manual checklists through the TUI); it
    reads only the test's files, never ~/.ssh."""
    inventory = inventory or Inventory(name="lab", environment=Environment.LAB, known_hosts=None)
    redactor = Redactor()
    connections = Connections(
        inventory, inventory_dir=tmp_path, redactor=redactor, user_known_hosts=None, ssh_config=None
    )
    return Executors(
        inventory, inventory_dir=tmp_path, prompter=proxy, redactor=redactor, connections=connections
    )


def screen_text(app: MigratorApp) -> str:
    """Everything the screen (and an open modal) shows, as plain text."""
    from textual.widgets import Static

    parts = []
    for widget in app.screen.query(Static):
        parts.append(str(widget.render()))
    return "\n".join(parts)


async def enter_text(pilot: Pilot[Any], app: MigratorApp, text: str) -> None:
    """Fill the focused input of the open modal and press enter (typing key by key is slow)."""
    from textual.widgets import Input

    focused = app.screen.focused
    assert isinstance(focused, Input), f"focus is on {focused!r}, not an input"
    focused.value = text
    await pilot.press("enter")
