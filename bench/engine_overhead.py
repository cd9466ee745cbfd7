"""Engine overhead with durable state, and time from resume to the first action.

1. ``engine_ms_per_step``: a plan of no-op steps (no checks) on a no-op StepRunner, with the
   real SQLite store (WAL, synchronous=FULL): wall time per step (target <= 2 ms).
2. ``resume_s``: a run of 1,000 steps whose first 500 succeeded, with 100,000 stored output
   lines; the process "crashed" with step 501 running. Time from calling resume to the first
   StepRunner.execute (target <= 0.5 s).

Last line: ``engine_ms_per_step=X resume_s=Y``.
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from migrator.engine.runner import RunOptions, prepare_run, resume_run, start_run
from migrator.store.db import Store
from migrator.store.dto import OutputChunk
from tests.engine.doubles import NoopRunner, loaded


class FirstAction(NoopRunner):
    def __init__(self, crash_at: str | None = None) -> None:
        super().__init__()
        self.first_at: float | None = None
        self.crash_at = crash_at

    def execute(self, step, ctx):  # type: ignore[no-untyped-def]
        if self.first_at is None:
            self.first_at = time.perf_counter()
        if step.id == self.crash_at:
            raise KeyboardInterrupt  # a stop mid-action: the step stays running
        return super().execute(step, ctx)


def overhead(base: Path, steps: int = 500) -> float:
    store = Store.open(str(base / "overhead.db"))
    plan = loaded([{"id": f"s{i:04d}", "command": "true"} for i in range(steps)], name="overhead")
    start = time.perf_counter()
    report = start_run(store, plan, NoopRunner(), None, RunOptions())
    elapsed = time.perf_counter() - start
    assert report.status == "completed"
    store.close()
    return elapsed * 1000 / steps


def resume_time(base: Path) -> float:
    store = Store.open(str(base / "resume.db"))
    plan = loaded(
        [{"id": f"s{i:04d}", "command": "true", "idempotent": True} for i in range(1000)], name="big"
    )
    runner = prepare_run(store, plan, FirstAction(crash_at="s0500"), None, RunOptions())
    with contextlib.suppress(KeyboardInterrupt):  # the simulated crash
        runner.execute()
    chunk = [f"output line {n} of a chatty command, with some length to it" for n in range(1000)]
    store.add_output(runner.run_id, [OutputChunk(f"s{i:04d}", 1, "stdout", 0, chunk) for i in range(100)])
    store.close()
    store = Store.open(str(base / "resume.db"))
    first = FirstAction()
    start = time.perf_counter()
    report = resume_run(
        store, plan, runner.run_id, first, None, options=RunOptions(take_over_reason="bench: same process")
    )
    assert report.status == "completed", report
    assert first.first_at is not None
    store.close()
    return first.first_at - start


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        ms = overhead(base)
        resume_s = resume_time(base)
    print(f"engine_ms_per_step={ms:.2f} resume_s={resume_s:.3f}")


if __name__ == "__main__":
    main()
