"""Longer crash soak: real `python` processes running the crash plan, killed with SIGKILL by
the parent at random times (and at random engine events), resumed until done; checks the
same invariants as tests/engine/test_crash.py. Usage: python bench/crash_soak.py [TRIALS].

Last line: ``trials=N kills=K ok=1``.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from migrator.engine.states import STEP_TABLE, illegal_chain_reason  # noqa: E402
from migrator.store.db import Store  # noqa: E402
from tests.engine.crash_driver import NON_IDEMPOTENT, PLAN_NAME, crash_steps  # noqa: E402


def trial(base: Path, rng: random.Random) -> int:
    db, work = str(base / "state.db"), base / "work"
    work.mkdir(parents=True)
    kills, retry = 0, []
    for round_ in range(60):
        kill_at = rng.randint(1, 60) if rng.random() < 0.8 and round_ < 10 else 0
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.engine.crash_driver", db, str(work), str(kill_at), *retry], cwd=ROOT
        )
        if round_ < 10 and rng.random() < 0.5:
            time.sleep(rng.uniform(0.3, 1.5))  # imports take ~0.5 s; then the run is under way
            proc.send_signal(signal.SIGKILL)
        code = proc.wait()
        retry = []
        if code == 0:
            break
        if code == 5:
            store = Store.open(db)
            run = store.runs(PLAN_NAME)[0]
            for s in store.steps(run.id):
                if s.state == "in_doubt":
                    assert not (work / f"count-{s.step_id[-1]}").exists(), s
                    retry.append(s.step_id)
            store.close()
            continue
        assert code == -9, f"driver exited {code}"
        kills += 1
    else:
        raise AssertionError("never completed")
    store = Store.open(db)
    run = store.runs(PLAN_NAME)[0]
    assert run.status == "completed"
    assert {s.state for s in store.steps(run.id)} == {"succeeded"}
    for sid in NON_IDEMPOTENT:
        assert (work / f"count-{sid[-1]}").read_text() == "x\n", sid
    chains: dict[str, list[tuple[str, str, str]]] = {}
    for e in store.journal(run.id):
        if e.step_id and e.kind == "transition":
            chains.setdefault(e.step_id, []).append((e.from_state, e.trigger, e.to_state))
    assert set(chains) == {s["id"] for s in crash_steps()}
    for sid, chain in chains.items():
        assert illegal_chain_reason(chain, table=STEP_TABLE, initial="pending") is None, (sid, chain)
    store.close()
    return kills


def main() -> None:
    trials = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    rng = random.Random()
    kills = 0
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(trials):
            kills += trial(Path(tmp) / f"t{n}", rng)
    print(f"trials={trials} kills={kills} ok=1")


if __name__ == "__main__":
    main()
