"""The README's exit-code table, walked: every documented code is the one the commands give, in
a subprocess as an operator runs them, and the table and :class:`ExitCode` list the same codes.

Not walked yet: 3 (could not execute). On this code a run whose step cannot connect or whose
secret does not resolve exits 1 through the step's failure; issue 12 item 7 (branch i12b)
makes those exit 3, and adds its scenario here.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from migrator.errors import ExitCode
from migrator.store.db import Store

ROOT = Path(__file__).resolve().parents[2]
STEP = """\
name: {name}
title: Exit {name}
inventory: inventory.yaml
phases:
- id: ph
  title: Ph
  where: window
  steps:
  - id: s
    title: S
{body}
"""


def documented() -> dict[int, str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8").split("## Exit codes", 1)[1]
    return {int(code): meaning for code, meaning in re.findall(r"^\| (\d+) \| (.+) \|$", text, re.M)}


def migrator(tmp: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "MIGRATOR_DB"}
    environment.update(MIGRATOR_CRASH_DIR=str(tmp), **env)
    return subprocess.run([sys.executable, "-m", "migrator", *args], cwd=tmp, env=environment, text=True,
                          capture_output=True, timeout=60, stdin=subprocess.DEVNULL, check=False)  # fmt: skip


def plan(tmp: Path, name: str, body: str) -> str:
    (tmp / "inventory.yaml").write_text("name: lab\nenvironment: lab\nhosts: {}\n")
    path = tmp / f"{name}.yaml"
    path.write_text(STEP.format(name=name, body=body))
    return str(path)


def done(tmp: Path) -> subprocess.CompletedProcess[str]:
    migrator(tmp, "run", plan(tmp, "ok", "    kind: local\n    command: 'true'"), "--db", "s.db")
    return migrator(tmp, "status", "--db", "s.db")


def failed(tmp: Path) -> subprocess.CompletedProcess[str]:
    return migrator(tmp, "run", plan(tmp, "bad", "    kind: local\n    command: 'exit 7'"), "--db", "s.db")


def usage(tmp: Path) -> subprocess.CompletedProcess[str]:
    return migrator(tmp, "status", "--db", str(tmp / "none" / "x.db"))


def lock_held(tmp: Path) -> subprocess.CompletedProcess[str]:
    path = plan(tmp, "held", "    kind: local\n    command: 'true'")
    store = Store.open(str(tmp / "s.db"))
    try:
        run = store.create_run(plan_name="held", plan_path=path, plan_fingerprint="", step_hashes={},
                               inventory_name="lab", mode="rehearsal", operator="b", steps=["s"])  # fmt: skip
        store.acquire_lease(plan_name="held", run_id=run.id, holder="bob@elsewhere:1", token="t", ttl=3600,
                            actor="bob@elsewhere")  # fmt: skip
    finally:
        store.close()
    return migrator(tmp, "run", path, "--db", "s.db")


def operator_needed(tmp: Path) -> subprocess.CompletedProcess[str]:
    body = "    kind: manual\n    instructions: plug the cable\n    checklist: [cable plugged]"
    return migrator(tmp, "run", plan(tmp, "hands", body), "--db", "s.db")


def internal(tmp: Path) -> subprocess.CompletedProcess[str]:
    bug = (
        "import migrator.cli.inspect as m, migrator.cli as c\n"
        "def boom(fmt): raise ZeroDivisionError('a bug')\n"
        "m.states_command.callback = boom\n"
        "c.run_and_exit()\n"
    )
    environment = {**os.environ, "MIGRATOR_CRASH_DIR": str(tmp)}
    return subprocess.run([sys.executable, "-c", bug, "states"], cwd=ROOT, env=environment, text=True,
                          capture_output=True, timeout=60, check=False)  # fmt: skip


def interrupted(tmp: Path) -> subprocess.CompletedProcess[str]:
    """The operator's Ctrl-C while a step runs (the terminal sends SIGINT to the process)."""
    started = tmp / "started"
    path = plan(tmp, "long", f"    kind: local\n    command: 'touch {started}; sleep 60'")
    environment = {k: v for k, v in os.environ.items() if k != "MIGRATOR_DB"}
    before = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # so the child gets SIGINT at its default
    try:
        proc = subprocess.Popen([sys.executable, "-m", "migrator", "run", path, "--db", "s.db"], cwd=tmp,
                                env=environment, text=True, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)  # fmt: skip
    finally:
        signal.signal(signal.SIGINT, before)
    deadline = time.monotonic() + 60
    while not started.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


SCENARIOS: dict[int, Callable[[Path], subprocess.CompletedProcess[str]]] = {
    0: done,
    1: failed,
    2: usage,
    4: lock_held,
    5: operator_needed,
    70: internal,
    130: interrupted,
}


def test_the_readme_table_lists_exactly_the_exit_codes() -> None:
    assert sorted(documented()) == sorted(int(c) for c in ExitCode)


def test_every_documented_exit_code_is_what_the_commands_give(tmp_path: Path) -> None:
    assert sorted(SCENARIOS) == sorted(set(documented()) - {int(ExitCode.EXECUTOR)})
    seen = {}
    for code, scenario in SCENARIOS.items():
        where = tmp_path / str(code)
        where.mkdir()
        got = scenario(where)
        seen[code] = got.returncode
        assert got.returncode == code, (code, documented()[code], got.stdout[-1500:], got.stderr[-1500:])
        assert "Traceback" not in got.stderr
    assert list((tmp_path / "70").glob("migrator-crash-*.txt"))  # 70: the traceback file is written
    assert seen == {code: code for code in SCENARIOS}
