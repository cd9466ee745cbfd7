"""Progress as the CLI shows it (a bar redrawn in place on a terminal, a percent line every few
seconds in a log) and as the store keeps it (sampled, first and last always)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from migrator.cli.printer import Printer
from migrator.engine import progress as sampling
from migrator.engine.bookkeeping import Bookkeeper
from migrator.engine.events import StepOutput, StepProgress
from migrator.executors.progress import Progress
from migrator.store.db import Store
from migrator.store.progress import samples


def event(fraction: float | None, **kw: object) -> StepProgress:
    return StepProgress(1, "copy", 1, fraction, **kw)  # type: ignore[arg-type]


def test_terminal_gets_a_bar_redrawn_in_place_that_gives_way_to_lines() -> None:
    buffer = io.StringIO()
    printer = Printer(Console(file=buffer, force_terminal=True, width=100, color_system=None))
    printer(event(0.25, done_bytes=256 * 1024**2, total_bytes=1024**3, rate=50 * 1024**2, eta=15.4))
    printer(event(0.5))
    printer(StepOutput(1, "copy", "off2", "stdout", "a line"))
    text = buffer.getvalue()
    assert (
        "\r\x1b[2K   progress copy [######..................] 25% 256.0 MiB of 1.0 GiB, 50.0 MiB/s, ETA 0:15"
        in text
    )
    assert "[############............] 50%" in text
    assert text.index("50%") < text.rindex("\r\x1b[2K") < text.index("a line")


def test_a_log_gets_a_percent_line_every_few_seconds_and_the_last(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = iter([0.0, 1.0, 2.0, 6.0, 7.0])
    monkeypatch.setattr("migrator.cli.printer.time.monotonic", lambda: next(clock))
    out = io.StringIO()
    monkeypatch.setattr("sys.stdout", out)
    printer = Printer(None)
    for fraction in (0.1, 0.2, 0.3, 0.6, 1.0):
        printer(event(fraction))
    assert out.getvalue().splitlines() == [
        "   progress copy 10%",
        "   progress copy 60%",
        "   progress copy 100%",
    ]


def test_samples_are_stored_sparsely_first_and_last_kept(tmp_path: Path) -> None:
    store = Store.open(str(tmp_path / "state.db"))
    try:
        run = store.create_run(
            plan_name="p",
            plan_path="p.yaml",
            plan_fingerprint="f",
            step_hashes={},
            inventory_name="lab",
            mode="rehearsal",
            operator="me",
            steps=["copy"],
        )
        book = Bookkeeper(store, run, actor="me")
        seen: list[object] = []
        book.listeners.append(seen.append)
        ticks = iter(float(i) for i in range(1000))
        sampler = sampling.ProgressSampler(book, "copy", 1, clock=lambda: next(ticks))
        for i in range(101):  # one line per "second", 1% each
            sampler(Progress(i / 100 if i < 100 else 0.999, done_bytes=i))
        sampler.finish()
        stored = samples(store, run.id, "copy")
        output_rows = store.output(run.id)
    finally:
        store.close()
    assert 10 <= len(stored) <= 25  # every 5% (or 10 s), not 101 rows
    assert stored[0].fraction == 0.0 and stored[-1].done_bytes == 100
    assert stored[0].at <= stored[-1].at
    assert len([e for e in seen if isinstance(e, StepProgress)]) == 101  # listeners: every 0.25 s
    assert output_rows == []  # samples are not output lines
