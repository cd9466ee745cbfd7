"""The command line from outside: one command table, shared options spelled the same way on
every command (``-i`` wherever ``--inventory`` takes a file; one ``--format`` vocabulary).

Each command is driven as an operator types it (through :func:`migrator.cli.main`, which maps
errors to exit codes) and compared with its long spelling: same exit code, same words.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from migrator.cli import cli, main
from migrator.cli.entry import COMMANDS
from migrator.cli.options import FORMAT_WORDS

ROOT = Path(__file__).resolve().parents[2]


def _commands() -> Iterator[tuple[str, click.Command]]:
    """Every command reachable from ``migrator`` (groups walked), by its full name."""
    ctx = click.Context(cli)

    def walk(prefix: str, group: click.Group, ctx: click.Context) -> Iterator[tuple[str, click.Command]]:
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            assert command is not None, name
            full = f"{prefix} {name}".strip()
            if isinstance(command, click.Group):
                yield from walk(full, command, click.Context(command, parent=ctx))
            else:
                yield full, command

    yield from walk("", cli, ctx)


def _option(command: click.Command, long: str) -> click.Option | None:
    for param in command.params:
        if isinstance(param, click.Option) and long in param.opts:
            return param
    return None


def _taking_a_value(long: str) -> list[str]:
    found = []
    for name, command in _commands():
        option = _option(command, long)
        if option is not None and not option.is_flag:
            found.append(name)
    return found


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as ended:
        main(argv)
        raise SystemExit(0)
    out, err = capsys.readouterr()
    code = ended.value.code
    return (code if isinstance(code, int) else 1), out, err


def test_the_table_lists_every_command_with_its_own_summary() -> None:
    # `migrator --help` reads the summaries from the table, not from the modules: they must
    # stay the commands' own first sentences.
    ctx = click.Context(cli)
    for name, lazy in COMMANDS.items():
        command = cli.get_command(ctx, name)
        assert command is not None, name
        assert command.name == name
        assert lazy.summary == command.get_short_help_str(10_000), name


def _inventory_cases(tmp_path: Path) -> dict[str, list[str]]:
    """A command line for each command that takes --inventory; INV marks where the file goes."""
    db = str(tmp_path / "state.db")
    return {
        "plan": ["plan", "off1", "INV"],
        "validate": ["validate", "plans/off1.yaml", "INV"],
        "run": ["run", "off1", "--db", db, "INV"],
        "resume": ["resume", "--db", db, "INV"],
        "verify": ["verify", "off1", "--db", db, "INV"],
        "preflight": ["preflight", "off1", "--db", db, "INV"],
        "abort": ["abort", "999", "--db", db, "INV"],
        "rollback": ["rollback", "999", "s", "--reason", "r", "--db", db, "INV"],
        "tui": ["tui", "off1", "--db", db, "INV"],
    }


def test_every_command_taking_an_inventory_file_is_listed_here(tmp_path: Path) -> None:
    assert sorted(_taking_a_value("--inventory")) == sorted(_inventory_cases(tmp_path))


@pytest.mark.parametrize("command", sorted(_inventory_cases(Path("/x"))))
def test_dash_i_is_inventory_on_every_command(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    missing = str(tmp_path / "no-such-inventory.yaml")
    results = []
    for spelling in ("--inventory", "-i"):
        argv = []
        for word in _inventory_cases(tmp_path)[command]:
            argv += [spelling, missing] if word == "INV" else [word]
        results.append(_run(argv, capsys))
    (long_code, long_out, long_err), (short_code, short_out, short_err) = results
    assert "No such option" not in short_err
    assert (short_code, short_out, short_err) == (long_code, long_out, long_err)


def _format_choices() -> dict[str, list[str]]:
    found = {}
    for name, command in _commands():
        option = _option(command, "--format")
        if option is not None:
            assert isinstance(option.type, click.Choice), name
            found[name] = [str(word) for word in option.type.choices]
    return found


def test_every_format_option_speaks_one_vocabulary() -> None:
    choices = _format_choices()
    expected = {"plan", "validate", "run", "verify", "preflight", "status", "runs", "log", "states", "report"}
    assert expected <= set(choices)
    for name, words in choices.items():
        assert set(words) <= set(FORMAT_WORDS), name
        assert "json" in words, f"{name}: every --format has a json form for scripts"
        # The form a person reads on the terminal is called `text` everywhere (report writes
        # documents only: markdown, json, html).
        assert name == "report" or "text" in words, name


def test_plan_terminal_is_now_text(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    code_new, out_new, _ = _run(["plan", "off1", "--format", "text"], capsys)
    code_old, out_old, err_old = _run(["plan", "off1", "--format", "terminal"], capsys)
    assert (code_new, code_old) == (0, 0)
    assert out_old == out_new
    assert "--format terminal is deprecated, say --format text" in err_old


def test_status_table_is_now_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "state.db")
    from migrator.store.db import Store

    Store.open(db).close()
    code_new, out_new, _ = _run(["runs", "--db", db, "--format", "text"], capsys)
    code_old, out_old, err_old = _run(["runs", "--db", db, "--format", "table"], capsys)
    assert (code_new, out_new) == (code_old, out_old) == (0, out_new)
    assert "deprecated" in err_old


def test_states_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["states", "--format", "json"], capsys)
    assert code == 0
    document = json.loads(out)
    assert set(document) == {"step", "run"}
    assert {"trigger", "from", "to"} <= set(document["step"][0])
