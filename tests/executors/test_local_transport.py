"""LocalTransport: the same contract as SSH, on this machine's processes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from migrator.errors import CommandTimeout, SecretError
from migrator.executors.local import LocalTransport
from migrator.secrets import Redactor
from tests.executors.helpers import assert_lines_in_order_per_stream, wait_dead


@pytest.fixture
def local() -> LocalTransport:
    return LocalTransport()


def test_success_nonzero_and_streams(local: LocalTransport) -> None:
    assert local.target == "local"
    ok = local.run("echo hello")
    assert (ok.exit_code, ok.stdout, ok.stderr) == (0, "hello\n", "")
    failed = local.run("echo out; echo err >&2; exit 4")
    assert (failed.exit_code, failed.stdout, failed.stderr) == (4, "out\n", "err\n")


def test_signal_death_has_no_exit_code(local: LocalTransport) -> None:
    assert local.run("kill -KILL $$").exit_code is None


def test_missing_program_is_exit_127(local: LocalTransport) -> None:
    result = local.run(["/nonexistent/tool", "x"])
    assert result.exit_code == 127
    assert "command not found" in result.stderr


def test_order_per_stream(local: LocalTransport) -> None:
    assert_lines_in_order_per_stream(local)


def test_large_output_both_streams(local: LocalTransport) -> None:
    line = "e" * 99
    result = local.run(f"yes {line} | head -n 60000 >&2; yes {line} | head -n 20000", timeout=120)
    assert result.exit_code == 0
    assert result.stderr.count("\n") == 60000 and result.stdout.count("\n") == 20000


def test_argv_is_not_interpreted(local: LocalTransport, tmp_path: Path) -> None:
    canary = tmp_path / "canary"
    canary.write_text("x")
    assert local.run(["echo", f"a b; rm -f {canary}"]).stdout == f"a b; rm -f {canary}\n"
    assert canary.exists()


def test_stdin_and_env_with_redaction(tmp_path: Path) -> None:
    secret = "pw-" + os.urandom(6).hex()
    redactor = Redactor()
    redactor.add(secret)
    local = LocalTransport(redactor=redactor)
    ps_file = tmp_path / "ps.txt"
    result = local.run(
        f'ps -eo args > {ps_file}; echo "got $TOKEN"; cat', env={"TOKEN": secret}, stdin="from stdin\n"
    )
    assert result.stdout == "got ***\nfrom stdin\n"
    assert secret not in ps_file.read_text()
    assert "ps -eo args" in ps_file.read_text()


def test_bad_env_name_is_refused(local: LocalTransport) -> None:
    with pytest.raises(SecretError, match="not a shell identifier"):
        local.run("true", env={"A;rm": "x"})


def test_timeout_kills_the_process_group(local: LocalTransport, tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    with pytest.raises(CommandTimeout, match=r"timeout of 0\.5 s"):
        local.run(f"echo $$ > {pids}; sleep 60 & echo $! >> {pids}; wait", timeout=0.5)
    shell, child = (int(p) for p in pids.read_text().split())
    assert wait_dead(shell) and wait_dead(child)


def test_execute_reads_env_from_stdin(local: LocalTransport) -> None:
    from migrator.executors.shellwrap import inner_script

    script, data = inner_script('echo "$A|$B"', {"A": "one two", "B": "x'y\"z"})
    assert local.execute(script, stdin=data).stdout == "one two|x'y\"z\n"
