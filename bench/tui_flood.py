"""Flood the TUI: a real local step prints 100,000 lines while keys are pressed.

The step runs through the real engine (SQLite store, executor registry, `seq` as a local
command); the app runs headless (``run_test``). Every 50 ms a cursor key is posted and the
time until the app handled it (the cursor moved) is measured. The last line prints
``key_latency_ms=X lines_per_s=Y``: the worst key latency and the output throughput into
the Log widget. Target: key_latency_ms <= 100.

    python bench/tui_flood.py [--lines 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from textual import events

from migrator.cli.tui import PrompterProxy, TuiSession
from migrator.store.db import Store
from tests.tui.conftest import local_executors, plan_of
from tui.app import MigratorApp


async def flood(lines: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(str(Path(tmp) / "state.db"))
        proxy = PrompterProxy()
        steps = [
            {"id": "flood", "command": f"seq 1 {lines}"},
            {"id": "a", "command": "true"},
            {"id": "b", "command": "true"},
        ]
        executors = local_executors(Path(tmp), proxy)
        session = TuiSession.open(store, plan_of(steps), executors, proxy, redactor=executors.redactor)
        app = MigratorApp(session)
        worst = 0.0
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause(0.2)
            started = time.perf_counter()
            app.action_run_next()  # not pilot.press: it would wait for the app to be idle
            down = True
            while app.lines_written < lines:
                if app.busy is None and app.lines_written < lines and time.perf_counter() - started > 60:
                    raise SystemExit(f"the step ended with only {app.lines_written} lines shown")
                before = app.table.cursor_row
                t0 = time.perf_counter()
                app.post_message(events.Key("down" if down else "up", None))
                while app.table.cursor_row == before:
                    await asyncio.sleep(0.001)
                worst = max(worst, time.perf_counter() - t0)
                down = not down
                await asyncio.sleep(0.05)
            elapsed = time.perf_counter() - started
            while app.busy is not None:
                await asyncio.sleep(0.01)
        session.close()
        store.close()
    return worst * 1000, lines / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100_000)
    args = parser.parse_args()
    latency, rate = asyncio.run(flood(args.lines))
    print(f"key_latency_ms={latency:.1f} lines_per_s={rate:.0f}")


if __name__ == "__main__":
    main()
