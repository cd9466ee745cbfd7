"""ssh and local steps end to end: the real sshd on loopback and the local machine.

Each behaviour runs on both targets (``local`` and the ssh host ``lab1``), since the
registry must give the same results whichever transport carries the command.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from migrator.errors import ExecutorError
from migrator.executors.command import render
from migrator.executors.registry import Executors
from migrator.plan.inventory import Inventory
from migrator.plan.model import Step
from tests.fixtures.sshd import SshdServer
from tests.registry.conftest import ExecutorsFactory, Lines, context, inventory_for, step

SECRET = "s3cr3t-Value-9f2e7c"
SECRET_ENV = "MIGRATOR_TEST_REGISTRY_SECRET"


@pytest.fixture(params=["local", "ssh"])
def on(
    request: pytest.FixtureRequest, sshd: SshdServer, make_executors: ExecutorsFactory
) -> tuple[str, Executors]:
    """``(kind, executors)`` for a step on the local machine or on the test sshd."""
    inventory: Inventory = inventory_for(sshd, sshd.known_hosts_path)
    return str(request.param), make_executors(inventory)


def command_step(kind: str, **fields: object) -> Step:
    host = "local" if kind == "local" else "lab1"
    return step(kind=kind, host=host, **fields)


def test_outputs_are_extracted_from_stdout(on: tuple[str, Executors], lines: Lines) -> None:
    kind, executors = on
    s = command_step(
        kind,
        command="echo 'created pool=zfs-hdd size=50.7T'; echo second line",
        outputs={"pool": {"regex": r"pool=(\S+)"}, "line": {"regex": r"^second.*$"}, "all": {}},
    )
    outcome = executors.execute(s, context(lines))
    assert outcome.ok, outcome.summary
    assert outcome.exit_code == 0
    assert outcome.values == {
        "pool": "zfs-hdd",
        "line": "second line",
        "all": "created pool=zfs-hdd size=50.7T\nsecond line",
    }
    assert outcome.secret_values == set()
    assert ("stdout", "second line") in lines.seen


def test_a_missing_output_fails_the_step(on: tuple[str, Executors]) -> None:
    kind, executors = on
    s = command_step(kind, command="echo nothing useful", outputs={"pool": {"regex": r"pool=(\S+)"}})
    outcome = executors.execute(s, context())
    assert not outcome.ok
    assert "pool" in outcome.summary


def test_a_failing_command_reports_its_exit_code_and_stderr(on: tuple[str, Executors]) -> None:
    kind, executors = on
    outcome = executors.execute(command_step(kind, command="echo 'no such pool' >&2; exit 3"), context())
    assert not outcome.ok
    assert outcome.exit_code == 3
    assert "exit 3" in outcome.summary and "no such pool" in outcome.summary


def test_secrets_travel_by_env_never_argv_and_are_redacted(
    on: tuple[str, Executors], lines: Lines, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    kind, executors = on
    monkeypatch.setenv(SECRET_ENV, SECRET)
    argv_dump = tmp_path / f"argv-{kind}.txt"
    # Every process's argv while the command runs (tr's own argv holds no secret).
    dump = f"for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < $f 2>/dev/null; echo; done > {argv_dump}"
    s = command_step(
        kind,
        command=f'{dump}; echo "token is $PVE_TOKEN"; echo "$PVE_TOKEN" >&2',
        secrets={"PVE_TOKEN": f"env:{SECRET_ENV}"},
    )
    outcome = executors.execute(s, context(lines))
    assert outcome.ok, outcome.summary
    assert ("stdout", "token is ***") in lines.seen
    assert ("stderr", "***") in lines.seen
    assert SECRET not in lines.text() and SECRET not in outcome.stdout and SECRET not in outcome.summary
    argv = argv_dump.read_text()
    assert "cmdline" in argv  # the dump saw the running command itself
    assert SECRET not in argv


def test_stdin_secret_goes_on_stdin_only(on: tuple[str, Executors], monkeypatch: pytest.MonkeyPatch) -> None:
    kind, executors = on
    monkeypatch.setenv(SECRET_ENV, SECRET)
    s = command_step(
        kind,
        command='IFS= read -r pw; echo "read ${#pw} chars"; echo "env has ${PW:-nothing}"',
        secrets={"PW": f"env:{SECRET_ENV}"},
        stdin_secret="PW",
    )
    outcome = executors.execute(s, context())
    assert outcome.ok, outcome.summary
    assert f"read {len(SECRET)} chars" in outcome.stdout
    assert "env has nothing" in outcome.stdout


def test_a_command_past_its_timeout_is_stopped_and_fails(on: tuple[str, Executors], lines: Lines) -> None:
    kind, executors = on
    s = command_step(kind, command="echo started; sleep 30; echo never", timeout="1s")
    outcome = executors.execute(s, context(lines))
    assert not outcome.ok
    assert outcome.exit_code is None
    assert "timeout" in outcome.summary
    assert ("stdout", "started") in lines.seen
    assert "never" not in lines.text()


def test_a_secret_output_is_flagged_hidden_and_usable_by_a_later_step(
    on: tuple[str, Executors], lines: Lines
) -> None:
    kind, executors = on
    token = "psk-0123456789abcdef"
    gen = command_step(
        kind, command=f"echo 'psk={token}'", outputs={"psk": {"regex": r"psk=(\S+)", "secret": True}}
    )
    outcome = executors.execute(gen, context(lines))
    assert outcome.ok, outcome.summary
    assert outcome.values["psk"] == token and outcome.secret_values == {"psk"}
    assert token not in outcome.stdout  # the outcome is masked once the value is known
    # Lines go on as they come: the engine's output recorder is the one place that holds them
    # back and masks them (tests/engine/test_secret_outputs.py shows no byte reaches anything).
    assert ("stdout", f"psk={token}") in lines.seen

    # The engine keeps the value in memory (engine.outputs.RunOutputs) and renders the later
    # step's command once: the value travels in the environment, never in the text.
    use = step(
        id="use",
        kind=kind,
        host=gen.host,
        command="printf '%s' \"{{ outputs.s1.psk }}\" | sha256sum",
    )
    assert use.command is not None
    rendered = render(use.command, {}, {("s1", "psk"): token}, where="step use")
    assert token not in str(rendered.command) and rendered.shown == "printf '%s' \"***\" | sha256sum"
    used = executors.execute(use, context(outputs={}, command=rendered))
    assert used.ok, used.summary
    assert hashlib.sha256(token.encode()).hexdigest() in used.stdout


def test_plain_outputs_of_earlier_steps_are_substituted(on: tuple[str, Executors]) -> None:
    kind, executors = on
    s = command_step(kind, command=["echo", "pool is {{ outputs.prep.pool }}"])
    outcome = executors.execute(s, context(outputs={"prep": {"pool": "zfs-nvme"}}))
    assert outcome.ok and outcome.stdout.strip() == "pool is zfs-nvme"


def test_rollback_runs_its_command_on_the_same_target(on: tuple[str, Executors], tmp_path: Path) -> None:
    kind, executors = on
    marker = tmp_path / f"rolled-back-{kind}"
    s = command_step(kind, command="true", rollback={"command": f"echo undone > {marker}"})
    outcome = executors.rollback(s, context())
    assert outcome.ok, outcome.summary
    assert marker.read_text().strip() == "undone"


def test_a_secret_output_is_refused_in_an_argv_command() -> None:
    # An argv list cannot expand a variable: the value could only go in the text.
    with pytest.raises(ExecutorError, match="argv"):
        render(["echo", "{{ outputs.gen.psk }}"], {}, {("gen", "psk"): "abcdef123456"}, where="step use")
