"""The CLI printer: plain writes off a terminal, the same text as through rich, colours on a TTY."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from migrator.cli.printer import Printer, styled
from migrator.engine.events import (
    CheckDone,
    Event,
    RunFinished,
    RunStarted,
    RunSummary,
    StepChanged,
    StepOutput,
    StepVerdict,
    StepWarning,
)

ROOT = Path(__file__).resolve().parents[2]

EVENTS: list[Event] = [
    RunStarted(7, "off[1]", "rehearsal", 2, resumed=False),
    StepChanged(7, "a", "pending", "prechecking", "start", "", 0),  # not shown
    StepChanged(7, "a", "ready", "running", "launch", "attempt 2", 2),
    StepOutput(7, "a", "off1", "stdout", "[bold]not markup[/] 42 /etc/fstab"),
    CheckDone(7, "a", "post", 0, "zpool [ok]", False, "exit 1", "fail", "does_not_hold"),
    StepWarning(7, "a", "output 'x' was not produced"),
    StepVerdict(7, "b", "would_run", "no pre-checks"),
    StepChanged(7, "a", "verifying", "succeeded", "verify_ok", "", 2),
    RunFinished(7, "failed", "1 step failed", RunSummary({"failed": 1, "succeeded": 1}), "migrator resume 7"),
]


def printed(console: Console) -> str:
    printer = Printer(console)
    for event in EVENTS:
        printer(event)
    file = console.file
    assert isinstance(file, io.StringIO)
    return file.getvalue()


def test_off_a_terminal_the_printer_writes_plainly_the_text_rich_would_print() -> None:
    plain_console = Console(file=io.StringIO(), width=200)
    assert Printer(plain_console).plain
    # record=True keeps the rich path: the reference rendering, no colour, wide enough not to wrap.
    rich_console = Console(file=io.StringIO(), width=200, record=True)
    assert not Printer(rich_console).plain
    plain = printed(plain_console)
    assert plain == printed(rich_console)
    assert plain.splitlines() == [
        "starting run 7 of off[1] (rehearsal, 2 steps)",
        "    running a #2 - attempt 2",
        "off1 | [bold]not markup[/] 42 /etc/fstab",
        "      check a post zpool [ok]: does not hold: exit 1 (on fail: fail)",
        "    warning a output 'x' was not produced",
        "    would_run b - no pre-checks",
        "  succeeded a",
        "run 7 failed: 1 step failed (1 failed, 1 succeeded)",
        "to continue: migrator resume 7",
    ]


def test_on_a_terminal_the_lines_keep_their_colours() -> None:
    console = Console(file=io.StringIO(), width=200, force_terminal=True, color_system="standard")
    assert not Printer(console).plain
    out = printed(console)
    assert "\x1b[" in out  # ANSI styles
    assert "\x1b[1;36m    running\x1b[0m" in out  # bold cyan, as before


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"FORCE_COLOR": "1"},
        {"FORCE_COLOR": ""},
        {"TTY_COMPATIBLE": "1"},
        {"TTY_COMPATIBLE": "0", "FORCE_COLOR": "1"},
    ],
)
@pytest.mark.parametrize("tty", [False, True])
def test_styled_decides_as_rich_does(env: dict[str, str], tty: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "NO_COLOR"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    stream = _Stream(tty)
    assert styled(stream) is Console(file=stream).is_terminal


def test_without_a_console_the_printer_writes_the_plain_text_to_stdout(
    capsys: pytest.CaptureFixture[str],
) -> None:
    printer = Printer(None)
    assert printer.plain
    for event in EVENTS:
        printer(event)
    assert capsys.readouterr().out == printed(Console(file=io.StringIO(), width=200))


def test_a_run_off_a_terminal_never_imports_rich(tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        "name: p\ntitle: t\ninventory: inventory.yaml\n"
        "phases:\n  - id: only\n    title: t\n    where: before\n"
        "    steps:\n      - {id: a, title: a, kind: local, command: 'true'}\n"
    )
    (tmp_path / "inventory.yaml").write_text("name: lab\nenvironment: lab\nhosts: {}\n")
    probe = (
        "import sys\nfrom migrator.cli import main\n"
        "try:\n    main(['run', sys.argv[1], '--db', sys.argv[2]])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'rich'))\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE")}
    done = subprocess.run(
        [sys.executable, "-c", probe, str(plan), str(tmp_path / "state.db")],
        cwd=ROOT, capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "run 1 completed" in done.stdout
    assert done.stdout.splitlines()[-1] == "[]"


class _Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty
