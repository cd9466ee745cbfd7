"""A state database on a full disk (issue 12, item 5): the command completed, the write of its
output failed. The step is in doubt (never failed), and resume settles it by its post-check
without a second execution.

The disk is a small tmpfs mounted inside a private mount namespace (``unshare -m``), so the
real disk is never filled and the mount disappears with the namespace. The step itself fills
the tmpfs (leaving a little room, as a real full disk does: small writes still pass, a big
batch of output does not); the operator then frees space and resumes.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).parents[2]

PLAN = """\
name: fulldisk
title: Full disk
inventory: inventory.yaml
phases:
- id: ph
  title: Ph
  where: window
  steps:
  - id: append
    title: Append once, fill the disk, print a lot
    kind: local
    command: {command}
    post: [{{kind: command, command: "test -s {work}/count", on: local}}]
"""

# Once the disk is full, the next output batch (one 300 kB line, written when the last line
# comes after the 1 s batch interval) cannot be stored.
STEP = (
    "echo x >> {work}/count; "
    "free=$(df --output=avail -B1 {disk} | tail -n 1); "
    "head -c $((free - 96 * 1024)) /dev/zero > {disk}/filler 2>/dev/null; "
    "head -c 300000 /dev/zero | tr '\\\\0' a; echo; sleep 1.5; echo end"
)


def test_a_full_db_disk_after_the_action_started_gives_no_second_execution(tmp_path: Path) -> None:
    if shutil.which("unshare") is None or os.geteuid() != 0:
        pytest.fail("this test needs root and unshare (util-linux) for a private tmpfs", pytrace=False)
    work, disk = tmp_path / "work", tmp_path / "disk"
    work.mkdir()
    disk.mkdir()
    (tmp_path / "inventory.yaml").write_text("name: lab\nenvironment: lab\nhosts: {}\n")
    plan = tmp_path / "plan.yaml"
    command = STEP.format(work=work, disk=disk)
    plan.write_text(PLAN.format(work=work, command='"' + command.replace('"', '\\"') + '"'))
    db = disk / "state.db"
    cli = shlex.join([sys.executable, "-m", "migrator"])
    script = f"""
set -u
mount -t tmpfs -o size=4m tmpfs {disk} || exit 99
{cli} run {plan} --db {db} > {tmp_path}/run.out 2>&1; echo $? > {tmp_path}/run.rc
rm -f {disk}/filler   # the operator frees space
{cli} resume --db {db} > {tmp_path}/resume.out 2>&1; echo $? > {tmp_path}/resume.rc
cp {db} {tmp_path}/state.db
"""
    env = {**os.environ, "MIGRATOR_CRASH_DIR": str(tmp_path), "COLUMNS": "200"}
    done = subprocess.run(["unshare", "-m", "sh", "-c", script], cwd=REPO, env=env, timeout=180, check=False)
    assert done.returncode == 0, done
    run_out = (tmp_path / "run.out").read_text()[-3000:]
    resume_out = (tmp_path / "resume.out").read_text()[-3000:]

    assert (tmp_path / "run.rc").read_text().strip() != "0", run_out
    assert "database or disk is full" in run_out, run_out
    assert (work / "count").read_text() == "x\n"
    assert (tmp_path / "resume.rc").read_text().strip() == "0", resume_out
    assert (work / "count").read_text() == "x\n", "resume ran the step a second time"
    with sqlite3.connect(tmp_path / "state.db") as conn:
        journal = [t for (t,) in conn.execute("SELECT trigger FROM journal WHERE step_id = 'append'")]
        state = conn.execute("SELECT state FROM step_records WHERE step_id = 'append'").fetchone()[0]
    assert state == "succeeded"
    assert journal.count("launch") == 1 and "reconciled" in journal, journal
    assert "fail" not in journal, journal
