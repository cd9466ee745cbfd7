"""A stand-in for systemd's transient units: ``systemd-run --unit``, ``systemctl show|stop``,
``journalctl -u``, for hosts without systemd (the lab, tests).

It keeps the semantics migrator's detached jobs rely on (man systemd-run, systemd.service,
systemd.exec):

* ``systemd-run --unit=NAME [--collect] [--quiet] [-p KEY=VALUE]... CMD...`` starts
  ``NAME.service`` and returns at once; a second start of an active unit fails ("Unit NAME.service
  already exists", exit 1). The command runs in its own process group (the unit's cgroup).
* ``RuntimeMaxSec=``: the unit is stopped after that long, ``Result=timeout``.
* ``ExecStopPost=``: run after the main process ends, with ``SERVICE_RESULT``, ``EXIT_CODE``
  (``exited``/``killed``) and ``EXIT_STATUS`` in its environment; ``$$`` in the line is a ``$``.
* ``--collect``: once inactive (even failed) the unit is forgotten: ``systemctl show`` then
  answers ``LoadState=not-found``, ``ActiveState=inactive``.
* ``systemctl stop`` sends SIGTERM to the unit's processes, SIGKILL after ``TimeoutStopSec``
  (here 5 s), and waits; a main process ended by SIGTERM is a clean stop (``Result=success``).
* stdout/stderr go to the journal, unless ``StandardOutput=``/``StandardError=`` say
  ``file:``/``append:``; ``journalctl -u NAME`` prints the unit's journal.

State lives in ``$MIGRATOR_STANDIN_SYSTEMD`` (default ``/run/migrator-standin-systemd``), one
JSON file per unit. Entry point: ``python -m migrator.lab.standins.transient TOOL ARGS...``.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

STOP_TIMEOUT = 5.0


def _dir() -> Path:
    path = Path(os.environ.get("MIGRATOR_STANDIN_SYSTEMD", "/run/migrator-standin-systemd"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def _unit(name: str) -> str:
    return name if "." in name else f"{name}.service"


def _state_file(unit: str) -> Path:
    return _dir() / f"{unit}.json"


def _read(unit: str) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads(_state_file(unit).read_text())
    except (OSError, ValueError):
        return None
    return data


def _write(unit: str, state: dict[str, Any]) -> None:
    tmp = _state_file(unit).with_suffix(".tmp")
    tmp.write_text(json.dumps(state))
    tmp.replace(_state_file(unit))


def systemd_run(args: list[str]) -> int:
    unit, collect, props, i = "", False, {}, 0
    while i < len(args) and args[i].startswith("-"):
        arg = args[i]
        if arg.startswith("--unit="):
            unit = arg.split("=", 1)[1]
        elif arg == "--collect":
            collect = True
        elif arg in ("-p", "--property"):
            i += 1
            key, _, value = args[i].partition("=")
            props[key] = value
        elif arg == "--":
            i += 1
            break
        i += 1
    command = args[i:]
    if not unit or not command:
        print("systemd-run: this stand-in needs --unit=NAME and a command", file=sys.stderr)
        return 1
    unit = _unit(unit)
    current = _read(unit)
    if current is not None and current["ActiveState"] in ("active", "activating", "deactivating"):
        print(f"Failed to start transient service unit: Unit {unit} already exists.", file=sys.stderr)
        return 1
    _write(unit, {"ActiveState": "activating", "SubState": "start", "Result": "success", "MainPID": 0,
                  "LoadState": "loaded", "props": props, "collect": collect})  # fmt: skip
    if os.fork() == 0:  # the "manager": supervises the unit after systemd-run has returned
        os.setsid()
        if os.fork() != 0:
            os._exit(0)
        # A unit shares nothing with the caller of systemd-run: not its stdin/stdout/stderr
        # (holding them would keep the caller's pipes open until the unit ends).
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        _supervise(unit, command, props, collect)
        os._exit(0)
    os.wait()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and (_read(unit) or {}).get("MainPID", 0) == 0:
        time.sleep(0.02)
    return 0


def _output(props: dict[str, str], key: str, journal: Path) -> Any:
    spec = props.get(key, "journal")
    if spec.startswith("file:"):
        return open(spec[5:], "w")
    if spec.startswith("append:"):
        return open(spec[7:], "a")
    return open(journal, "a")


def _supervise(unit: str, command: list[str], props: dict[str, str], collect: bool) -> None:
    journal = _dir() / f"{unit}.journal"
    devnull = open(os.devnull)  # noqa: SIM115
    out, err = _output(props, "StandardOutput", journal), _output(props, "StandardError", journal)
    child = subprocess.Popen(command, stdin=devnull, stdout=out, stderr=err, start_new_session=True)
    state = _read(unit) or {}
    state.update(ActiveState="active", SubState="running", MainPID=child.pid)
    _write(unit, state)
    limit = float(props["RuntimeMaxSec"]) if props.get("RuntimeMaxSec") else None
    started, result = time.monotonic(), None
    while child.poll() is None:
        if (_read(unit) or {}).get("stop_requested"):
            result = _stop_group(child, unit, "success")
            break
        if limit is not None and time.monotonic() - started > limit:
            result = _stop_group(child, unit, "timeout")
            break
        time.sleep(0.05)
    code = child.wait()
    if code < 0:
        exit_code, exit_status = "killed", signal.Signals(-code).name.removeprefix("SIG")
        result = result or ("success" if -code == signal.SIGTERM else "signal")
    else:
        exit_code, exit_status = "exited", str(code)
        result = result or ("success" if code == 0 else "exit-code")
    post = props.get("ExecStopPost")
    if post:
        env = dict(os.environ, SERVICE_RESULT=result, EXIT_CODE=exit_code, EXIT_STATUS=exit_status)
        subprocess.run(shlex.split(post.replace("$$", "$")), env=env, stdin=devnull, stdout=out, stderr=err,
                       check=False)  # fmt: skip
    if collect:
        _state_file(unit).unlink(missing_ok=True)
        return
    state = _read(unit) or {}
    state.update(ActiveState="inactive" if result == "success" else "failed", SubState="dead",
                 Result=result, MainPID=0, ExecMainStatus=exit_status)  # fmt: skip
    _write(unit, state)


def _stop_group(child: subprocess.Popen[bytes], unit: str, result: str) -> str:
    state = _read(unit) or {}
    state.update(ActiveState="deactivating", SubState="stop-sigterm")
    _write(unit, state)
    try:
        os.killpg(child.pid, signal.SIGTERM)
        child.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
    except ProcessLookupError:
        return result  # the unit's processes had already ended: nothing left to stop
    return result


def systemctl(args: list[str]) -> int:
    if not args:
        return 1
    if args[0] == "show":
        wanted, units, i = [], [], 1
        while i < len(args):
            if args[i] in ("-p", "--property"):
                wanted += args[i + 1].split(",")
                i += 2
                continue
            units.append(_unit(args[i]))
            i += 1
        for unit in units:
            state = _read(unit)
            shown = {"LoadState": "not-found", "ActiveState": "inactive", "SubState": "dead",
                     "Result": "success", "MainPID": 0} if state is None else state  # fmt: skip
            for key in wanted or ["LoadState", "ActiveState", "SubState", "Result", "MainPID"]:
                print(f"{key}={shown.get(key, '')}")
        return 0
    if args[0] == "stop":
        for unit in map(_unit, args[1:]):
            state = _read(unit)
            if state is None:
                continue  # stopping an unknown unit: nothing to do
            state["stop_requested"] = True
            _write(unit, state)
            deadline = time.monotonic() + STOP_TIMEOUT + 5
            while time.monotonic() < deadline and (_read(unit) or {}).get("ActiveState") in (
                "active", "activating", "deactivating",
            ):  # fmt: skip
                time.sleep(0.05)
        return 0
    print(f"systemctl: this stand-in knows show and stop, not {args[0]}", file=sys.stderr)
    return 1


def journalctl(args: list[str]) -> int:
    unit = next((_unit(args[i + 1]) for i, a in enumerate(args) if a == "-u" and i + 1 < len(args)), None)
    if unit is None:
        return 1
    journal = _dir() / f"{unit}.journal"
    if journal.exists():
        sys.stdout.write(journal.read_text(errors="replace"))
    else:
        print("-- No entries --")
    return 0


def main(argv: list[str]) -> int:
    tool, args = Path(argv[0]).name, argv[1:]
    return {"systemd-run": systemd_run, "systemctl": systemctl, "journalctl": journalctl}[tool](args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
