"""Opening a state database that cannot be one: a clear StoreError (what, where, hint), and
from the command line a message and an exit code, never a traceback."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from migrator.errors import ExitCode, StoreError
from migrator.store import dto
from migrator.store.db import Store, resolve_url

ROOT = Path(__file__).resolve().parents[2]


def test_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_bytes(b"this is not a SQLite file, just some text " * 100)
    with pytest.raises(StoreError, match="not a SQLite database") as caught:
        Store.open(str(junk))
    assert caught.value.where == f"sqlite:///{junk}"
    assert caught.value.hint and "--db" in caught.value.hint
    assert isinstance(caught.value.__cause__, sqlite3.DatabaseError)


def test_a_directory(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="is a directory") as caught:
        Store.open(str(tmp_path))
    assert caught.value.hint == "give --db / MIGRATOR_DB a file name"
    assert isinstance(caught.value.__cause__, sqlite3.Error)


def test_a_place_that_cannot_be_written() -> None:
    # /proc refuses new files even to root (the tests may run as root, where chmod is no
    # obstacle): nothing is written anywhere.
    with pytest.raises(StoreError, match="cannot open the state database for writing") as caught:
        Store.open("/proc/migrator-test/state.db")
    assert caught.value.hint and "writable" in caught.value.hint


@pytest.mark.parametrize("url", ["postgresql+psycopg://db.example/x", "mysql://u@h/db", "sqlite-ish://x"])
def test_only_sqlite_urls_are_accepted(url: str) -> None:
    with pytest.raises(StoreError, match="only SQLite state databases are supported") as caught:
        Store.open(url)
    assert caught.value.where == url
    assert caught.value.hint and "sqlite:///PATH" in caught.value.hint
    with pytest.raises(StoreError, match="only SQLite"):
        resolve_url(url)


def test_the_sqlite_url_form_is_still_accepted(tmp_path: Path) -> None:
    for url in (f"sqlite:///{tmp_path / 'a.db'}", f"sqlite+pysqlite:///{tmp_path / 'b.db'}"):
        store = Store.open(url)
        try:
            assert store.url == url and store.runs() == []
        finally:
            store.close()
    assert (tmp_path / "a.db").is_file() and (tmp_path / "b.db").is_file()


def test_the_command_line_reports_a_bad_database_without_a_traceback(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"\x00garbage" * 512)
    for db in (str(junk), str(tmp_path), "postgresql://db.example/x"):
        done = subprocess.run(
            [sys.executable, "-m", "migrator", "runs", "--db", db],
            cwd=ROOT, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert done.returncode == int(ExitCode.FAILED), done.stderr
        assert "Traceback" not in done.stderr + done.stdout
        assert "state database" in done.stderr + done.stdout


def test_a_closed_store_raises_a_store_error(tmp_path: Path) -> None:
    store = Store.open(str(tmp_path / "s.db"))
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.runs()


def test_threads_share_one_store(tmp_path: Path) -> None:
    # The lease heartbeat and the TUI's workers use the runner's Store from other threads.
    store = Store.open(str(tmp_path / "s.db"))
    try:
        run = store.create_run(
            plan_name="p", plan_path="p.yaml", plan_fingerprint="f", step_hashes={},
            inventory_name="i", mode="live", operator="me", steps=[],
        )  # fmt: skip
        errors: list[BaseException] = []

        def write(n: int) -> None:
            try:
                for i in range(50):
                    store.add_output(run.id, [dto.OutputChunk(f"s{n}", 1, "stdout", i, [f"{n}:{i}"])])
                    store.steps(run.id)
            except BaseException as exc:  # reported below, on the test's thread
                errors.append(exc)

        threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert len(store.output(run.id)) == 200
    finally:
        store.close()
