"""The headless commands end to end: a real plan file, the real executors (local steps),
a real SQLite file, `python -m migrator` in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PLAN = """\
name: cli-demo
title: CLI demo
inventory: inventory.yaml
phases:
- id: ph
  title: Ph
  where: window
  steps:
  - id: first
    title: First
    kind: local
    command: echo one >> {work}/first
    post: [{{kind: command, command: "test -s {work}/first", probe_from: local}}]
  - id: second
    title: Second
    kind: local
    command: test -f {work}/go && touch {work}/second
"""


def setup(tmp_path: Path, environment: str = "lab") -> tuple[Path, dict[str, str]]:
    work = tmp_path / "work"
    work.mkdir()
    (tmp_path / "inventory.yaml").write_text(
        f"name: {environment}\nenvironment: {environment}\nhosts: {{}}\n"
    )
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN.format(work=work))
    env = {**os.environ, "MIGRATOR_DB": str(tmp_path / "state.db"), "MIGRATOR_CRASH_DIR": str(tmp_path)}
    return plan, env


def migrator(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "migrator", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
        check=False,
    )


def test_run_fails_then_resume_completes_and_status_log_show_it(tmp_path: Path) -> None:
    plan, env = setup(tmp_path)
    cwd = Path(__file__).parents[2]
    first = migrator("run", str(plan), env=env, cwd=cwd)
    assert first.returncode == 1, first.stderr
    assert "migrator resume 1" in first.stdout
    assert "failed" in first.stdout
    (tmp_path / "work" / "go").touch()
    second = migrator("resume", env=env, cwd=cwd)
    assert second.returncode == 0, second.stdout + second.stderr
    assert (tmp_path / "work" / "first").read_text() == "one\n"
    assert (tmp_path / "work" / "second").exists()
    status = migrator("status", "1", env=env, cwd=cwd)
    assert "completed" in status.stdout and "succeeded" in status.stdout
    log = migrator("log", "1", "--step", "second", env=env, cwd=cwd)
    assert "running -> failed" in log.stdout and "running -> verifying" in log.stdout
    runs = migrator("runs", env=env, cwd=cwd)
    assert "cli-demo" in runs.stdout and "rehearsal" in runs.stdout


def test_dry_run_never_acts_and_yes_is_refused_in_production(tmp_path: Path) -> None:
    plan, env = setup(tmp_path, environment="production")
    cwd = Path(__file__).parents[2]
    dry = migrator("run", str(plan), "--dry-run", env=env, cwd=cwd)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "would_run" in dry.stdout
    assert not (tmp_path / "work" / "first").exists()
    refused = migrator("run", str(plan), "--yes", env=env, cwd=cwd)
    assert refused.returncode == 2
    assert "--i-mean-it" in refused.stderr
    states = migrator("states", "--format", "mermaid", env=env, cwd=cwd)
    assert states.stdout.count("stateDiagram-v2") == 2
