"""CliPrompter: asks on a terminal, stops the run (OperatorNeeded) when nobody can answer."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from migrator.cli.prompter import CliPrompter
from migrator.errors import ExitCode, OperatorNeeded


def prompter(answers: str | None = None, *, assume_yes: bool = False) -> tuple[CliPrompter, io.StringIO]:
    """A prompter reading ``answers`` as if typed (interactive), or a non-terminal when None."""
    out = io.StringIO()
    console = Console(file=out, width=100, color_system=None)
    if answers is None:
        return CliPrompter(console, assume_yes=assume_yes, stream=io.StringIO(), interactive=False), out
    return CliPrompter(console, assume_yes=assume_yes, stream=io.StringIO(answers), interactive=True), out


def test_without_a_terminal_a_checklist_stops_the_run_naming_the_step() -> None:
    cli, _ = prompter()
    with pytest.raises(OperatorNeeded) as raised:
        cli.checklist("off2-reinstall: Reinstall off2", "Boot the ISO", ["ISO booted"])
    assert "off2-reinstall" in raised.value.message
    assert raised.value.exit_code is ExitCode.OPERATOR_NEEDED


def test_assume_yes_does_not_tick_a_checklist() -> None:
    cli, _ = prompter(assume_yes=True)
    with pytest.raises(OperatorNeeded):
        cli.checklist("step", "do it", ["done"])


def test_without_a_terminal_a_question_stops_unless_yes_is_assumed() -> None:
    cli, _ = prompter()
    with pytest.raises(OperatorNeeded, match="Proceed"):
        cli.confirm("Proceed with the window? ")
    yes, out = prompter(assume_yes=True)
    assert yes.confirm("Proceed with the window? ") is True
    assert "--yes" in out.getvalue()


def test_assume_yes_never_types_a_confirmation_text() -> None:
    cli, _ = prompter(assume_yes=True)
    with pytest.raises(OperatorNeeded, match="off2"):
        cli.confirm("Destroy zfs-hdd on off2? ", expect="off2")


def test_choices_and_text_need_a_terminal() -> None:
    cli, _ = prompter(assume_yes=True)
    with pytest.raises(OperatorNeeded):
        cli.choose("In doubt: what now?", ["rerun", "mark-done"])
    with pytest.raises(OperatorNeeded):
        cli.text("Why skip it?")


def test_on_a_terminal_the_checklist_is_walked_item_by_item() -> None:
    cli, out = prompter("y\nn\ny\nticket 42\n")
    answer = cli.checklist("reinstall", "Boot the PVE ISO", ["ISO booted", "RAID1 chosen", "password set"])
    assert answer is not None
    assert answer.confirmed == [True, False, True]
    assert answer.evidence == "ticket 42"
    assert "Boot the PVE ISO" in out.getvalue()


def test_on_a_terminal_stop_ends_the_checklist() -> None:
    cli, _ = prompter("y\nstop\n")
    assert cli.checklist("reinstall", "Boot", ["a", "b", "c"]) is None


def test_on_a_terminal_answers_are_read() -> None:
    cli, _ = prompter("y\nn\noff1\noff2\nmark-done\nalready done by hand\n")
    assert cli.confirm("Go? ") is True
    assert cli.confirm("Go? ") is False
    assert cli.confirm("Type the host: ", expect="off2") is False
    assert cli.confirm("Type the host: ", expect="off2") is True
    assert cli.choose("What now?", ["rerun", "mark-done"]) == "mark-done"
    assert cli.text("Why?") == "already done by hand"
