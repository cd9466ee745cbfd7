"""The process entry point (`python -m migrator`, the console script): it ends the process with
``os._exit`` once the command is done, so these check that nothing is lost on the way out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml

from migrator.cli import _other_threads_working, exit_status

ROOT = Path(__file__).resolve().parents[2]


def run_module(*args: str, code: str | None = None) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-c", code] if code else [sys.executable, "-m", "migrator", *args]
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=60, env=dict(os.environ))


def test_large_output_reaches_a_pipe_whole() -> None:
    # ~100 kB of JSON, more than any pipe buffer: every byte is flushed before the fast exit.
    result = run_module("plan", "off2", "--format", "json")
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    # Every step of the plan file arrives, whatever the plan's length is today.
    source = yaml.safe_load((ROOT / "plans/off2.yaml").read_text())
    in_file = sum(len(phase["steps"]) for phase in source["phases"])
    assert in_file > 50
    assert sum(len(phase["steps"]) for phase in plan["phases"]) == in_file


def test_exit_codes_and_the_error_line_survive_the_fast_exit(tmp_path: Path) -> None:
    result = run_module("validate", str(tmp_path / "missing.yaml"))
    assert result.returncode == 2
    assert "no such file" in result.stderr
    assert result.stdout == ""


def test_a_working_thread_is_waited_for() -> None:
    # A non-daemon thread still writing when the command returns gets the normal exit, which
    # joins it: its last line must be there.
    code = (
        "import sys, threading, time\n"
        "import migrator.cli.entry as cli\n"
        "def late():\n"
        "    time.sleep(0.3)\n"
        "    print('late line', flush=True)\n"
        "cli.main = lambda: threading.Thread(target=late).start()\n"
        "cli.run_and_exit()\n"
    )
    result = run_module(code=code)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "late line\n"


@pytest.mark.parametrize(("result", "expected"), [(None, 0), (0, 0), (3, 3), (130, 130)])
def test_exit_status_follows_sys_exit(result: object, expected: int) -> None:
    assert exit_status(result) == expected


def test_exit_status_of_a_message_is_one_and_prints_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert exit_status("stopped: reason") == 1
    assert capsys.readouterr().err == "stopped: reason\n"


def test_other_threads_working_sees_only_live_non_daemon_threads() -> None:
    release = threading.Event()
    daemon = threading.Thread(target=release.wait, daemon=True)
    daemon.start()
    assert not _other_threads_working()
    worker = threading.Thread(target=release.wait)
    worker.start()
    try:
        assert _other_threads_working()
    finally:
        release.set()
        worker.join()
        daemon.join()
    assert not _other_threads_working()
