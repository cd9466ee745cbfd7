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

from tests.engine.crash_driver import after_exit, assert_run_invariants  # noqa: E402


def trial(base: Path, rng: random.Random) -> int:
    db, work = str(base / "state.db"), base / "work"
    work.mkdir(parents=True)
    kills, retry = 0, list[str]()
    for round_ in range(60):
        kill_at = rng.randint(1, 60) if rng.random() < 0.8 and round_ < 10 else 0
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.engine.crash_driver", db, str(work), str(kill_at), *retry], cwd=ROOT
        )
        if round_ < 10 and rng.random() < 0.5:
            time.sleep(rng.uniform(0.3, 1.5))  # imports take ~0.5 s; then the run is under way
            proc.send_signal(signal.SIGKILL)
        code = proc.wait()
        following = after_exit(code, db, work)
        if following is None:
            break
        retry = following
        kills += code == -9
    else:
        raise AssertionError("never completed")
    assert_run_invariants(db, work)
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
