"""Failed means it ran and failed; everything else is in doubt (issue 12, item 5).

Driven through the CLI (`python -m migrator`) against a real sshd, with real faults: the
connection's own ``sshd: USER@notty`` process killed while a non-idempotent command runs.
The remote command goes on and completes; the step must be ``in_doubt`` (never ``failed``),
and a plain ``migrator resume`` settles it by its post-checks without running it again.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from migrator.lab.sshd import children
from tests.fixtures.sshd import SshdFactory, SshdServer

REPO = Path(__file__).parents[2]


def inventory(tmp_path: Path, server: SshdServer) -> Path:
    path = tmp_path / "inventory.yaml"
    path.write_text(
        "name: outcome-lab\nenvironment: lab\n"
        f"known_hosts: {server.known_hosts_path}\n"
        "hosts:\n"
        "  lab1:\n"
        f"    address: {server.host}\n    port: {server.port}\n    user: {server.user}\n"
        f"    key: {server.key_path}\n    agent: false\n",
        encoding="utf-8",
    )
    return path


def plan(tmp_path: Path, inventory_path: Path, command: str, post: str) -> Path:
    path = tmp_path / "plan.yaml"
    path.write_text(
        f"""\
name: outcomes
title: Unknown outcomes
inventory: {inventory_path}
phases:
- id: ph
  title: Ph
  where: window
  steps:
  - id: append
    title: Append once (not idempotent)
    host: lab1
    kind: ssh
    command: {command!r}
    post: [{{kind: command, command: {post!r}}}]
  - id: after
    title: After it
    host: lab1
    kind: ssh
    command: "true"
""",
        encoding="utf-8",
    )
    return path


def migrator(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "migrator", *args],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )


def finish(proc: subprocess.Popen[str]) -> tuple[int, str]:
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out + err


def environment(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)  # no ~/.ssh of the real user is read
    return {
        **os.environ,
        "HOME": str(home),
        "MIGRATOR_DB": str(tmp_path / "state.db"),
        "MIGRATOR_CRASH_DIR": str(tmp_path),
        "COLUMNS": "200",
    }


def step_states(db: Path, run_id: int | None = None) -> dict[str, str]:
    """The steps' states in run ``run_id`` (default: the newest run)."""
    with sqlite3.connect(db) as conn:
        run = run_id or conn.execute("SELECT max(id) FROM runs").fetchone()[0]
        return dict(conn.execute("SELECT step_id, state FROM step_records WHERE run_id = ?", (run,)))


def wait_for(path: Path, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{what}: {path} never appeared"
        time.sleep(0.05)


def session_processes(server: SshdServer) -> list[int]:
    """The unprivileged per-connection ``sshd: USER@notty`` processes of ``server``."""
    found = []
    for pid in _descendants(server.pid):
        try:
            title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except OSError:
            continue
        if title.startswith("sshd:") and title.endswith("@notty"):
            found.append(pid)
    return found


def _descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        for child in children(todo.pop()):
            out.append(child)
            todo.append(child)
    return out


def test_killing_the_connections_sshd_mid_step_gives_one_completion_and_an_in_doubt_step(
    tmp_path: Path, sshd_factory: SshdFactory
) -> None:
    server = sshd_factory.start()
    work = tmp_path / "work"
    work.mkdir()
    started, count = work / "started", work / "count"
    # Writes to stdout only before the kill (after it, a write would get SIGPIPE); completes
    # on its own a moment later.
    command = f"touch {started}; sleep 2; echo x >> {count}"
    plan_path = plan(tmp_path, inventory(tmp_path, server), command, f"test -s {count}")
    env = environment(tmp_path)

    run = migrator("run", str(plan_path), "--yes", env=env)
    wait_for(started, "the remote command did not start")
    sessions = session_processes(server)
    assert sessions, "no sshd session process found for the run's connection"
    for pid in sessions:
        os.kill(pid, signal.SIGKILL)
    code, output = finish(run)

    assert code == 5, output  # stopped for the operator: the step is in doubt
    assert step_states(tmp_path / "state.db")["append"] == "in_doubt", output
    assert "in doubt" in output and "outcome unknown" in output, output
    wait_for(count, "the remote command did not complete after its connection died")
    assert count.read_text() == "x\n"

    code, output = finish(migrator("resume", env=env))
    assert code == 0, output
    assert count.read_text() == "x\n", "resume ran the in-doubt step again"
    states = step_states(tmp_path / "state.db")
    assert states == {"append": "succeeded", "after": "succeeded"}, output
    with sqlite3.connect(tmp_path / "state.db") as conn:
        triggers = [t for (t,) in conn.execute("SELECT trigger FROM journal WHERE step_id = 'append'")]
    assert "outcome_unknown" in triggers and "reconciled" in triggers, triggers
    assert triggers.count("launch") == 1, triggers  # one attempt, never a second


def test_a_refused_host_key_exits_3_and_runs_nothing(tmp_path: Path, sshd_factory: SshdFactory) -> None:
    server = sshd_factory.start()
    impostor = sshd_factory.start()  # another key on another port: the pinned key is wrong
    inv = inventory(tmp_path, server)
    inv.write_text(inv.read_text().replace(f"port: {server.port}", f"port: {impostor.port}"))
    work = tmp_path / "work"
    work.mkdir()
    count = work / "count"
    plan_path = plan(tmp_path, inv, f"echo x >> {count}", f"test -s {count}")
    env = environment(tmp_path)

    code, output = finish(migrator("run", str(plan_path), "--yes", env=env))

    assert code == 3, output
    assert "host key" in output.lower(), output
    assert not count.exists()
    assert step_states(tmp_path / "state.db")["append"] == "pending", output  # nothing ran: not "failed"
