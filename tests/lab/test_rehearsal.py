"""Whole rehearsals through the CLI in subprocesses, against a lab: off1, and crash-and-resume."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.lab.conftest import RunningLab

REPO = Path(__file__).resolve().parents[2]
SHORT_PLAN = Path(__file__).parent / "data" / "rehearsal.yaml"
TIMEOUT = 120


def migrator(lab: RunningLab, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "migrator", *args, "--db", str(lab.dir / "state.db")],
        capture_output=True, text=True, timeout=TIMEOUT, cwd=REPO, check=False,
    )  # fmt: skip


def run_args(lab: RunningLab, plan: str) -> list[str]:
    return ["run", plan, "--inventory", str(lab.lab.paths.inventory), "--yes", "--confirm-manual"]


def first_line_of_status(lab: RunningLab) -> str:
    return migrator(lab, "status").stdout.splitlines()[0]


def test_crash_and_resume_completes(lab: RunningLab) -> None:
    """SIGKILL the runner mid-plan (during an SSH step), take over, resume: the run completes."""
    argv = [
        sys.executable,
        "-m",
        "migrator",
        *run_args(lab, str(SHORT_PLAN)),
        "--db",
        str(lab.dir / "state.db"),
    ]
    runner = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO)
    assert runner.stdout is not None
    seen = []
    for line in runner.stdout:
        seen.append(line)
        if "running settle" in line:  # a 4 s step on off1: the runner dies in the middle of it
            runner.send_signal(signal.SIGKILL)
            break
    runner.wait(TIMEOUT)
    assert runner.returncode == -signal.SIGKILL, "".join(seen)
    assert "running" in first_line_of_status(lab)

    inventory = str(lab.lab.paths.inventory)
    take_over = ["--take-over", "--reason", "the runner was killed (lab test)"]
    resumed = migrator(lab, "resume", "--inventory", inventory, "--yes", "--confirm-manual", *take_over)

    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "completed" in first_line_of_status(lab)
    assert "quorate, 2 nodes" in lab.check("off2", {"kind": "pve_quorate", "nodes": 2}).observed
    lab.reconnect()  # the lab's own known_hosts now pins off1's new key (expect_new_host_key)
    assert lab.check("off1", {"kind": "zpool_healthy", "pool": "zfs-hdd"}).passed


@pytest.mark.xfail(
    strict=True,
    reason="plans/off1.yaml stops at verify-off in the lab (54 of 65 steps pass): off2's CT 113 has "
    "no apache2 running in the lab, and the cleanup steps still need plan fixes (off2operator/"
    "off1operator/ovh3operator authorized_keys, off2 and ovh3 re-pinning off1's new host key); "
    "see the lab report",
)
def test_off1_rehearsal_completes(lab: RunningLab) -> None:
    result = migrator(lab, *run_args(lab, "off1"))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "completed" in first_line_of_status(lab)
