"""Per-step overhead of a detached trivial step against a foreground one, over SSH.

Usage: python bench/detached_overhead.py [--steps 20] [--runs 3]

One loopback sshd (``tests/fixtures/sshd.py``'s ``start_sshd``, stopped by PID at the end). Two
generated plans of N ssh steps ``command: "true"``: one foreground, one with ``detach: true``
(start the job, poll it to its end). Each is run as ``python -m migrator run`` (fresh db) for N
and for 1 step, ``--runs`` times alternately; per-step cost = (median(N) - median(1)) / (N - 1).
The jobs directory is under the bench's own temporary directory (inventory var
``migrator_jobs_dir``). Prints one line per variant and ``detached_minus_foreground_ms=X``.
Run it in a private network namespace:
``unshare -n bash -c 'ip link set lo up; python bench/detached_overhead.py'``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.fixtures.sshd import start_sshd  # noqa: E402


def plan(path: Path, steps: int, detach: bool) -> Path:
    lines = ["name: bench-detached", "title: bench", "inventory: inventory.yaml", "phases:",
             "- id: ph", "  title: Ph", "  where: before", "  steps:"]  # fmt: skip
    for i in range(steps):
        lines += [f"  - id: s{i}", f"    title: step {i}", "    kind: ssh", "    host: box",
                  '    command: "true"'] + (["    detach: true"] if detach else [])  # fmt: skip
    file = path / f"plan-{steps}-{'d' if detach else 'f'}.yaml"
    file.write_text("\n".join(lines) + "\n")
    return file


def timed(plan_file: Path, work: Path) -> float:
    db = work / f"{time.monotonic_ns()}.db"
    began = time.perf_counter()
    argv = [sys.executable, "-m", "migrator", "run", str(plan_file), "--db", str(db)]
    done = subprocess.run(
        argv, cwd=REPO, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False
    )
    took = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(
            f"{plan_file.name}: exit {done.returncode}\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
        )
    db.unlink()
    return took


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-detached-") as tmp:
        work = Path(tmp)
        server = start_sshd(work / "sshd")
        try:
            (work / "inventory.yaml").write_text(
                "name: bench\nenvironment: lab\n"
                f"known_hosts: {server.known_hosts_path}\nhosts:\n  box:\n"
                f"    address: {server.host}\n    port: {server.port}\n    user: {server.user}\n"
                f"    key: {server.key_path}\n    agent: false\n"
                f"    vars: {{migrator_jobs_dir: {work / 'jobs'}}}\n"
            )
            plans = {(n, d): plan(work, n, d) for n in (1, args.steps) for d in (False, True)}
            timed(plans[(1, False)], work)  # warm-up
            times: dict[tuple[int, bool], list[float]] = {key: [] for key in plans}
            for _ in range(args.runs):
                for key, file in plans.items():
                    times[key].append(timed(file, work))
            per_step = {}
            for detach in (False, True):
                many, one = (
                    statistics.median(times[(args.steps, detach)]),
                    statistics.median(times[(1, detach)]),
                )
                per_step[detach] = (many - one) / (args.steps - 1)
                name = "detached" if detach else "foreground"
                print(f"{name:>10}: {args.steps} steps {many:.2f}s, 1 step {one:.2f}s, "
                      f"per step {per_step[detach] * 1000:.1f} ms (median of {args.runs})")  # fmt: skip
            print(f"detached_minus_foreground_ms={(per_step[True] - per_step[False]) * 1000:.1f}")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
