"""`migrator validate` and `migrator plan` on a 10,000-step plan: wall time and peak memory.

Targets (issue 18, on the project's 2-core machine): validate <= 2 s and <= 150 MB, plan <= 3 s
and <= 200 MB. The plan is generated like the real ones: ssh steps with pre/post checks,
{{ hosts.* }} and {{ params.* }} references, outputs used by later steps, block-scalar
commands, in-window estimates, against plans/inventory.yaml. Each figure is the median of
--runs whole processes; peak memory is the child's maximum resident set size. CPU time (user +
system, of the child) is printed too: the machine is shared, and CPU time moves far less with
the load than wall time does.

Usage: python bench/plan_scale.py [--steps 10000] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent

_STEP = """\
      - id: s{i}
        title: Step {i} copies dataset {i} to off2
        host: {host}
        kind: ssh
        command: >
          zfs send zfs-hdd/off/d{i}@last |
          ssh root@{{{{ params.target }}}} zfs recv -F zfs-hdd/off/d{i}
        idempotent: true
        timeout: 1h
        estimate: 2m
        outputs:
          size: {{regex: "(\\\\d+) bytes"}}
        pre:
          - {{kind: zfs_dataset, dataset: zfs-hdd/off/d{i}}}
        post:
          - {{kind: command, command: "zfs list -H zfs-hdd/off/d{i}", stdout_contains: d{i},
             probe_from: off2}}
          - {{kind: tcp_open, address: "{{{{ hosts.off2.address }}}}", port: 22, probe_from: local}}
"""
_USER = """\
      - id: u{i}
        title: Record the size of dataset {prev}
        kind: local
        command: "echo {{{{ outputs.s{prev}.size }}}}"
        estimate: 10s
"""


def write_plan(folder: Path, steps: int) -> Path:
    shutil.copy(ROOT / "plans" / "inventory.yaml", folder / "inventory.yaml")
    parts = [
        "name: scale\ntitle: Scale\ninventory: inventory.yaml\n",
        "window: {start: 2026-12-18T08:00:00+01:00, length: 200d}\n",
        "params:\n  target: '{{ hosts.off2.private_ip }}'\n",
        "phases:\n  - id: window\n    title: Window\n    where: window\n    steps:\n",
    ]
    for i in range(steps):
        host = ("off1", "off2", "off2/ct:101", "ovh1/ct:113")[i % 4]
        parts.append(_USER.format(i=i, prev=i - 1) if i % 5 == 4 else _STEP.format(i=i, host=host))
    path = folder / "scale.yaml"
    path.write_text("".join(parts), encoding="utf-8")
    return path


class Run(NamedTuple):
    wall: float  # seconds
    cpu: float  # user + system seconds of the child
    user: float
    rss: float  # peak resident set size, MB
    code: int


def measure(command: list[str], cwd: Path) -> Run:
    """Wall and CPU seconds, peak RSS in MB of one child process, and its exit status."""
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # the child: become the command, output discarded
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        os.chdir(cwd)
        os.execvp(command[0], command)
    _, status, usage = os.wait4(pid, 0)
    return Run(
        time.perf_counter() - start,
        usage.ru_utime + usage.ru_stime,
        usage.ru_utime,
        usage.ru_maxrss / 1024,
        os.waitstatus_to_exitcode(status),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    script = shutil.which("migrator", path=str(Path(sys.executable).parent)) or shutil.which("migrator")
    base = [script] if script else [sys.executable, "-m", "migrator"]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = write_plan(folder, args.steps)
        print(f"plan: {args.steps} steps, {path.stat().st_size / 1e6:.1f} MB of YAML")
        for name, extra in (("validate", ["validate", str(path)]), ("plan", ["plan", str(path)])):
            runs = [measure([*base, *extra], folder) for _ in range(args.runs)]
            codes = {r.code for r in runs}
            if codes != {0}:
                sys.exit(f"{name} exited {codes}: the generated plan should be valid")
            wall = statistics.median(r.wall for r in runs)
            cpu = statistics.median(r.cpu for r in runs)
            user = statistics.median(r.user for r in runs)
            rss = statistics.median(r.rss for r in runs)
            print(f"{name}: runs={args.runs} min={min(r.wall for r in runs):.2f}s")
            print(
                f"{name}_median_s={wall:.2f} {name}_cpu_s={cpu:.2f} {name}_user_s={user:.2f} "
                f"{name}_peak_rss_mb={rss:.0f}"
            )
        print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
