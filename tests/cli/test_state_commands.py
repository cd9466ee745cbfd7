"""The commands that read the state (status, runs, log, report) and the state file itself, as
an operator meets them: `python -m migrator` in a subprocess on real SQLite files.

Reading never creates or writes (a missing file is exit 2 naming it; a read-only directory
works; another program's SQLite file is refused untouched); an unknown run is exit 2; every
"how to continue" line works pasted from anywhere; --format json; piped tables are plain
columns; backup copies a live database, WAL included; a resume against another inventory
is refused with the difference, or accepted with a reason and recorded.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from migrator.store.db import Store

ROOT = Path(__file__).resolve().parents[2]

PLAN = """\
name: state-demo
title: State demo
inventory: inventory.yaml
phases:
- id: ph
  title: Ph
  where: window
  steps:
  - id: first-step-with-a-long-identifier-that-a-table-would-wrap
    title: First
    kind: local
    command: echo one >> {work}/first
  - id: second
    title: Second
    kind: local
    command: test -f {work}/go && echo two >> {work}/second
"""


def migrator(
    *args: str, cwd: Path = ROOT, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {
        k: v for k, v in os.environ.items() if k not in ("MIGRATOR_DB", "TTY_COMPATIBLE", "FORCE_COLOR")
    }
    argv = [sys.executable, "-m", "migrator", *args]
    return subprocess.run(argv, cwd=cwd, env={**environment, **(env or {})}, capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL, check=False)  # fmt: skip


def failed_run(tmp_path: Path, environment: str = "lab") -> tuple[Path, Path, Path]:
    """A run whose second step failed: (plan, db, work)."""
    work = tmp_path / "work"
    work.mkdir()
    (tmp_path / "inventory.yaml").write_text(
        f"name: {environment}\nenvironment: {environment}\nhosts: {{}}\n"
    )
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN.format(work=work))
    db = tmp_path / "state.db"
    first = migrator("run", str(plan), "--db", str(db))
    assert first.returncode == 1, first.stdout + first.stderr
    return plan, db, work


@pytest.mark.parametrize("command", [["status"], ["runs"], ["log", "1"], ["report", "1"]])
def test_reading_a_path_with_no_database_is_exit_2_naming_it_and_creates_nothing(
    tmp_path: Path, command: list[str]
) -> None:
    for where in (Path("/nonexistent/x.db"), tmp_path / "missing.db"):
        got = migrator(*command, "--db", str(where))
        assert got.returncode == 2, got.stdout + got.stderr
        assert f"no state database at {where}" in got.stderr
        assert "Traceback" not in got.stderr
        assert not where.exists()
    assert not Path("/nonexistent").exists()
    assert list(tmp_path.iterdir()) == []
    # The default ./state.db is not created either.
    got = migrator(*command, cwd=tmp_path)
    assert got.returncode == 2 and f"no state database at {tmp_path / 'state.db'}" in got.stderr
    assert list(tmp_path.iterdir()) == []


def test_an_unknown_run_is_exit_2(tmp_path: Path) -> None:
    _, db, _ = failed_run(tmp_path)
    for command in (["status", "99"], ["log", "99"], ["report", "99"], ["handover", "99", "--to", "x"]):
        got = migrator(*command, "--db", str(db), cwd=tmp_path)
        assert got.returncode == 2, (command, got.stdout, got.stderr)
        assert "no run 99" in got.stderr
    assert not (tmp_path / "x").exists()
    got = migrator("log", "1", "--step", "nope", "--db", str(db))
    assert got.returncode == 2 and "has no step 'nope'" in got.stderr


def test_reading_writes_nothing_beside_the_file(tmp_path: Path) -> None:
    _, db, _ = failed_run(tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    for command in (["status"], ["runs"], ["log", "1"], ["report", "1"], ["status", "1", "--format", "json"]):
        got = migrator(*command, "--db", str(db))
        assert got.returncode == 0, (command, got.stderr)
    after = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    assert after == before  # no -wal, no -shm, the file unchanged


def test_reading_works_in_a_read_only_directory(tmp_path: Path) -> None:
    """A read-only bind mount (the tests may run as root, for whom chmod is no obstacle)."""
    _, db, _ = failed_run(tmp_path)
    live = Store.open(str(db))  # and a -wal left beside it, as a killed run leaves one
    live.note(1, actor="a@b", trigger="test", reason="in the WAL")
    shown = tmp_path / "ro"
    shown.mkdir()
    for name in ("state.db", "state.db-wal"):
        (shown / name).write_bytes((tmp_path / name).read_bytes())
    live.close()
    read = f"{sys.executable} -m migrator log 1 --db {shown / 'state.db'}"
    script = f"mount --bind -r {shown} {shown} && exec {read}"
    got = subprocess.run(["unshare", "-m", "sh", "-c", script], cwd=ROOT, capture_output=True, text=True,
                         timeout=60, check=False)  # fmt: skip
    assert got.returncode == 0, got.stderr
    assert "in the WAL" in got.stdout


def test_a_reader_does_not_wait_behind_a_writer(tmp_path: Path) -> None:
    _, db, _ = failed_run(tmp_path)
    writer = sqlite3.connect(db, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # a writer mid-transaction (a run recording a step)
    writer.execute("UPDATE runs SET summary = 'being written'")
    try:
        got = migrator("status", "--db", str(db), "--format", "json")
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout)["run"]["summary"] == "stopped: step second failed"


def test_a_sqlite_file_of_another_program_is_refused_and_left_untouched(tmp_path: Path) -> None:
    other = tmp_path / "app.db"
    conn = sqlite3.connect(other)
    conn.execute("create table users (id integer primary key, name text)")
    conn.commit()
    conn.close()
    before = other.read_bytes()
    plan = tmp_path / "plan.yaml"
    (tmp_path / "inventory.yaml").write_text("name: lab\nenvironment: lab\nhosts: {}\n")
    plan.write_text(PLAN.format(work=tmp_path))
    for command in (["runs"], ["status"], ["run", str(plan)]):
        got = migrator(*command, "--db", str(other))
        assert got.returncode == 1, (command, got.stdout, got.stderr)
        assert "not a migrator state database" in got.stderr
    assert other.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app.db", "inventory.yaml", "plan.yaml"]


def test_the_continue_line_works_pasted_from_another_directory(tmp_path: Path) -> None:
    _, db, work = failed_run(tmp_path)
    status = migrator("status", "--db", str(db))
    (line,) = [x for x in status.stdout.splitlines() if x.startswith("to continue: ")]
    command = line.removeprefix("to continue: ").split()
    assert command[:2] == ["migrator", "resume"] and str(db) in command
    (work / "go").touch()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    resumed = migrator(*command[1:], cwd=elsewhere)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert list(elsewhere.iterdir()) == []  # no state.db made here
    assert (work / "first").read_text() == "one\n" and (work / "second").read_text() == "two\n"


def test_json_documents_and_plain_piped_columns(tmp_path: Path) -> None:
    _, db, _ = failed_run(tmp_path)
    runs = json.loads(migrator("runs", "--db", str(db), "--format", "json").stdout)
    (run,) = runs["runs"]
    assert runs["db"] == str(db)
    assert run["id"] == 1 and run["status"] == "failed" and run["environment"] == "lab"
    assert run["inventory_path"] == str(tmp_path / "inventory.yaml")
    assert run["inventory_fingerprint"].startswith("sha256:")
    status = json.loads(migrator("status", "--db", str(db), "--format", "json").stdout)
    assert [s["state"] for s in status["steps"]] == ["succeeded", "failed"]
    assert status["next_command"] == f"migrator resume 1 --db {db}"
    log = json.loads(migrator("log", "1", "--db", str(db), "--format", "json").stdout)
    assert log["run"] == 1 and any(e["to_state"] == "failed" for e in log["journal"])

    piped = migrator("status", "--db", str(db), env={"COLUMNS": "40"}).stdout
    assert "first-step-with-a-long-identifier-that-a-table-would-wrap" in piped
    assert "│" not in piped and "┃" not in piped  # no box drawing into a pipe
    table = migrator("runs", "--db", str(db), env={"COLUMNS": "40"}).stdout.splitlines()
    assert table[0].split()[:4] == ["run", "plan", "mode", "status"]
    assert table[1].split()[:4] == ["1", "state-demo", "rehearsal", "failed"]


def test_backup_of_a_live_database_includes_the_wal(tmp_path: Path) -> None:
    _, db, _ = failed_run(tmp_path)
    live = Store.open(str(db))  # a run still writing: its last commits are in state.db-wal
    try:
        live.note(1, actor="a@b", trigger="test", reason="only in the WAL so far")
        assert (tmp_path / "state.db-wal").stat().st_size > 0
        copy = tmp_path / "copy.db"
        got = migrator("backup", str(copy), "--db", str(db))
        assert got.returncode == 0, got.stderr
    finally:
        live.close()
    assert not (tmp_path / "copy.db-wal").exists()
    alone = tmp_path / "alone"
    alone.mkdir()
    (alone / "state.db").write_bytes(copy.read_bytes())  # the single file, nothing beside it
    log = migrator("log", "1", "--db", str(alone / "state.db"))
    assert "only in the WAL so far" in log.stdout


def test_resume_against_another_inventory_is_refused_or_accepted_with_a_reason(tmp_path: Path) -> None:
    _, db, work = failed_run(tmp_path)
    (work / "go").touch()
    (tmp_path / "inventory.yaml").write_text("name: lab\nenvironment: lab\nhosts: {}\n# edited\n")
    changed = migrator("resume", "--db", str(db))
    assert changed.returncode == 2, changed.stdout + changed.stderr
    assert f"the file {tmp_path / 'inventory.yaml'} changed since the run started" in changed.stderr
    assert not (work / "second").exists()

    production = tmp_path / "production.yaml"
    production.write_text("name: production\nenvironment: production\nhosts: {}\n")
    switched = migrator("resume", "--db", str(db), "--inventory", str(production))
    assert switched.returncode == 2
    assert "environment: the run was lab (inventory lab), this inventory is production" in switched.stderr
    assert not (work / "second").exists()

    accepted = migrator("resume", "--db", str(db), "--inventory", str(production),
                        "--accept-inventory-change", "--reason", "rehearsal over, going live")  # fmt: skip
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    status = json.loads(migrator("status", "--db", str(db), "--format", "json").stdout)
    assert status["run"]["environment"] == "production" and status["run"]["mode"] == "live"
    log = migrator("log", "1", "--db", str(db)).stdout
    assert "inventory change accepted: environment: the run was lab" in log
    assert "rehearsal over, going live" in log
    store = Store.open(str(db), read_only=True)
    try:
        (decision,) = [d for d in store.decisions(1) if d.kind == "inventory_change"]
    finally:
        store.close()
    assert decision.choice == "accept" and "rehearsal over, going live" in decision.reason
