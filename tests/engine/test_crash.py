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

from migrator.engine.states import STEP_TABLE, illegal_chain_reason
from migrator.store.db import Store
from tests.engine.crash_driver import NON_IDEMPOTENT, PLAN_NAME, crash_steps, drive

TRIALS = 50
CTX = multiprocessing.get_context("fork")


def _child(db: str, work: str, kill_at: int, retry: list[str]) -> None:
    import os

    os._exit(drive(db, Path(work), kill_at, retry))


def one_trial(base: Path, rng: random.Random) -> int:
    db, work = str(base / "state.db"), base / "work"
    work.mkdir(parents=True)
    kills, retry = 0, []
    for _ in range(30):
        kill_at = rng.randint(1, 40) if kills < 4 else 0  # after a few kills, let it finish
        child = CTX.Process(target=_child, args=(db, str(work), kill_at, retry))
        child.start()
        child.join(60)
        code = child.exitcode
        retry = []
        if code == 0:
            break
        if code == 5:
            # The operator's check: an in-doubt append whose effect is absent did not run.
            store = Store.open(db)
            run = store.runs(PLAN_NAME)[0]
            for s in store.steps(run.id):
                if s.state == "in_doubt":
                    assert not (work / f"count-{s.step_id[-1]}").exists(), s
                    retry.append(s.step_id)
            store.close()
            continue
        assert code == -9, f"child exited {code}"
        kills += 1
    else:
        raise AssertionError("the run never completed")
    store = Store.open(db)
    try:
        runs = store.runs(PLAN_NAME)
        assert len(runs) == 1 and runs[0].status == "completed"
        steps = store.steps(runs[0].id)
        assert {s.state for s in steps} == {"succeeded"}, steps
        for sid in NON_IDEMPOTENT:
            assert (work / f"count-{sid[-1]}").read_text() == "x\n", f"{sid} ran more than once"
        chains: dict[str, list[tuple[str, str, str]]] = {}
        for e in store.journal(runs[0].id):
            if e.step_id and e.kind == "transition":
                chains.setdefault(e.step_id, []).append((e.from_state, e.trigger, e.to_state))
        assert set(chains) == {s["id"] for s in crash_steps()}
        for sid, chain in chains.items():
            assert illegal_chain_reason(chain, table=STEP_TABLE, initial="pending") is None, (sid, chain)
            assert chain[-1][2] == "succeeded"
    finally:
        store.close()
    return kills


def test_sigkill_at_random_points_then_resume_runs_everything_exactly_once(tmp_path: Path) -> None:
    rng = random.Random(20240607)
    total_kills = 0
    for trial in range(TRIALS):
        total_kills += one_trial(tmp_path / f"t{trial}", rng)
    assert total_kills >= TRIALS  # the kills really happened
