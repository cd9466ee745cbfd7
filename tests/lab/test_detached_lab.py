"""A detached ``rsync --info=progress2`` of ~300 MB on a lab host, through ``migrator run``:
the job runs by setsid on the host (the lab has no systemd), the piped CLI prints a moving
percentage, and progress samples are in the store."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from migrator.store.db import Store
from migrator.store.progress import samples
from tests.lab.conftest import RunningLab

REPO = Path(__file__).resolve().parents[2]

PLAN = """\
name: detached-lab
title: A detached rsync with progress on the lab
inventory: {inventory}
phases:
- id: ph
  title: Ph
  where: before
  steps:
  - id: make-data
    title: 300 MB of data to copy on off2
    kind: ssh
    host: off2
    idempotent: true
    command: >-
      mkdir -p /srv/detached-src /srv/detached-dst &&
      for i in 1 2 3 4 5 6; do head -c 50M /dev/urandom > /srv/detached-src/part$i; done
  - id: presync
    title: Copy it, detached, at 25 MB/s
    kind: ssh
    host: off2
    detach: true
    timeout: 10m
    command: "rsync -a --info=progress2 --bwlimit=25m /srv/detached-src/ /srv/detached-dst/"
    post:
    - {{kind: command, command: "test -s /srv/detached-dst/part6"}}
"""


def test_a_detached_rsync_shows_a_moving_percentage_and_stores_samples(
    lab: RunningLab, tmp_path: Path
) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN.format(inventory=lab.dir / "inventory.yaml"))
    db = tmp_path / "state.db"
    env = {**os.environ, "MIGRATOR_CRASH_DIR": str(tmp_path)}
    argv = [sys.executable, "-m", "migrator", "run", str(plan), "--db", str(db), "--yes"]
    result = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    percents = [int(p) for p in re.findall(r"progress presync (\d+)%", result.stdout)]
    assert len(set(percents)) >= 3, result.stdout
    assert percents == sorted(percents) and percents[-1] == 100
    # ... and rsync's own time left, while it runs (the final line's time is the elapsed one)
    assert re.search(r"progress presync \d+% .*ETA \d", result.stdout), result.stdout[-3000:]
    assert "job migrator-detached-lab-r1-presync-a1 started on off2 (setsid)" in result.stdout
    store = Store.open(str(db))
    try:
        stored = samples(store, 1, "presync")
    finally:
        store.close()
    fractions = [s.fraction for s in stored if s.fraction is not None]
    assert len(fractions) >= 3 and fractions == sorted(fractions) and fractions[-1] == 1.0
    assert any(s.rate for s in stored) and any(s.eta for s in stored)
    assert lab.run("off2", "ls /var/lib/migrator/jobs").stdout.count("presync-a1.rc") == 1
