"""Crash injection: SIGKILL at random points of a run, then resume until done.

Each trial forks children (cheap: the imports are already done) that run or resume the plan
and kill themselves at a random engine event or right before/after an action's effect.
After the last resume: every step succeeded, every non-idempotent action ran exactly once,
and every step's journal chain is a legal path of the lifecycle.
"""

from __future__ import annotations

import multiprocessing
import random
from pathlib import Path

from tests.engine.crash_driver import after_exit, assert_run_invariants, drive

TRIALS = 50
CTX = multiprocessing.get_context("fork")


def _child(db: str, work: str, kill_at: int, retry: list[str]) -> None:
    import os

    os._exit(drive(db, Path(work), kill_at, retry))


def one_trial(base: Path, rng: random.Random) -> int:
    db, work = str(base / "state.db"), base / "work"
    work.mkdir(parents=True)
    kills, retry = 0, list[str]()
    for _ in range(30):
        kill_at = rng.randint(1, 40) if kills < 4 else 0  # after a few kills, let it finish
        child = CTX.Process(target=_child, args=(db, str(work), kill_at, retry))
        child.start()
        child.join(60)
        code = child.exitcode
        following = after_exit(code, db, work)
        if following is None:
            break
        retry = following
        kills += code == -9
    else:
        raise AssertionError("the run never completed")
    assert_run_invariants(db, work)
    return kills


def test_sigkill_at_random_points_then_resume_runs_everything_exactly_once(tmp_path: Path) -> None:
    rng = random.Random(20240607)
    total_kills = 0
    for trial in range(TRIALS):
        total_kills += one_trial(tmp_path / f"t{trial}", rng)
    assert total_kills >= TRIALS  # the kills really happened
