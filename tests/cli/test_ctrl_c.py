"""Ctrl-C, wherever it lands, ends migrator as an interruption: exit 130, one line, what was
recorded kept, nothing it started left running (README, exit codes).

Each case puts the SIGINT at a precise point by sending it from inside the process (a tiny
hook at that point): a test that sent it from outside after a sleep would hit a different
line on every machine. All were seen on main under a loaded machine (bench-like stress of
`migrator resume` interrupted at random moments): a step's process left running after the
run said "interrupted"; a traceback of the import machinery and exit -2; "internal error"
and exit 70 for a Ctrl-C that pydantic wrapped in a SchemaError while building a model.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from migrator import interrupts
from migrator.executors import local
from migrator.executors.local import LocalTransport

ROOT = Path(__file__).resolve().parents[2]


def python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
        stdin=subprocess.DEVNULL, check=False,
    )  # fmt: skip


@pytest.fixture
def migrator_handles_sigint() -> Iterator[None]:
    """SIGINT as `migrator` itself sets it up (main() calls install), restored afterwards."""
    before = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    assert interrupts.install()
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)


def _group_alive(pgid: int) -> bool:
    """A live (not zombie) process in group ``pgid``: killpg(pgid, 0) also counts the killed
    ones that their new parent has not reaped yet."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def test_ctrl_c_just_after_the_fork_leaves_no_step_process_running(
    migrator_handles_sigint: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[int] = []

    class InterruptedRightAfterTheFork(subprocess.Popen[bytes]):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            started.append(self.pid)
            os.kill(os.getpid(), signal.SIGINT)  # the operator's Ctrl-C, at the worst moment

    monkeypatch.setattr(local.subprocess, "Popen", InterruptedRightAfterTheFork)
    try:
        with pytest.raises(KeyboardInterrupt):
            LocalTransport().run("sleep 30")
        assert started, "the command never started"
        assert not _group_alive(started[0]), "the step's process outlived the interrupted run"
    finally:
        for pgid in started:
            if _group_alive(pgid):
                os.killpg(pgid, signal.SIGKILL)  # what the old code left behind


def test_a_held_ctrl_c_is_raised_as_the_section_ends(migrator_handles_sigint: None) -> None:
    reached_the_end = False
    with pytest.raises(KeyboardInterrupt), interrupts.held():
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)  # the handler has run by now: held, not raised
        reached_the_end = True
    assert reached_the_end
    assert interrupts.interrupted()


@pytest.mark.usefixtures("ctrl_c_reaches_children")
def test_ctrl_c_during_the_imports_is_one_line_and_exit_130() -> None:
    # SIGINT as the CLI starts importing click: the first thing `migrator` imports.
    code = (
        "import os, signal, sys\n"
        "class CtrlC:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'click':\n"
        "            os.kill(os.getpid(), signal.SIGINT)\n"
        "        return None\n"
        "sys.meta_path.insert(0, CtrlC())\n"
        "sys.argv = ['migrator', '--version']\n"
        "import runpy\n"
        "runpy.run_module('migrator', run_name='__main__')\n"
    )
    result = python(code)
    assert result.returncode == 130, result.stderr
    assert result.stderr == "migrator: interrupted before it started; nothing was done\n"
    assert result.stdout == ""


@pytest.mark.usefixtures("ctrl_c_reaches_children")
def test_ctrl_c_that_a_library_wraps_in_its_own_error_is_still_an_interruption(tmp_path: Path) -> None:
    # pydantic-core does this while building a model's validator: the KeyboardInterrupt
    # becomes a SchemaError. Reported as a bug (exit 70, crash file) it sent the operator to
    # file an issue for their own Ctrl-C.
    code = (
        "import os, signal\n"
        "import migrator.cli.entry as entry\n"
        "def command(**kwargs):\n"
        "    try:\n"
        "        os.kill(os.getpid(), signal.SIGINT)\n"
        "        import time; time.sleep(1)\n"
        "    except KeyboardInterrupt as exc:\n"
        "        raise RuntimeError('Error building \"model\" validator: KeyboardInterrupt') from exc\n"
        "entry.cli.main = command\n"
        "entry.run_and_exit()\n"
    )
    env = {**os.environ, "MIGRATOR_CRASH_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120, env=env,
        stdin=subprocess.DEVNULL, check=False,
    )  # fmt: skip
    assert result.returncode == 130, result.stderr
    assert "internal error" not in result.stderr
    assert result.stderr.startswith("migrator: interrupted (RuntimeError on the way out);")
    assert not list(tmp_path.glob("migrator-crash-*")), "a crash report for a Ctrl-C"


def test_sigint_ignored_by_the_parent_stays_ignored() -> None:
    # `migrator run ... &` from a script, nohup: the parent chose; migrator keeps its choice,
    # as every Unix tool does (such a run is stopped with SIGTERM).
    code = (
        "import signal\n"
        "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
        "from migrator import interrupts\n"
        "print(interrupts.install(), signal.getsignal(signal.SIGINT) is signal.SIG_IGN)\n"
    )
    result = python(code)
    assert result.stdout == "False True\n", result.stderr
