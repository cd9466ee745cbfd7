"""Secrets never reach the store, the journal, `migrator log` or the terminal.

End to end: a real plan file, `python -m migrator run` in a subprocess (real Executors,
LocalTransport, the real SQLite file), then the raw bytes of the database, its -wal and -shm
files are searched for the values. Only their fingerprints may be stored.
"""

from __future__ import annotations

import os
from pathlib import Path

from migrator.engine.runner import RunOptions, start_run
from migrator.secrets import MASK, fingerprint
from migrator.store.db import Store
from tests.engine.doubles import Collector, ShellRunner, loaded
from tests.engine.test_cli_run import migrator

REPO = Path(__file__).parents[2]

PLAN = """\
name: secret-demo
title: Secret outputs
inventory: inventory.yaml
phases:
- id: ph
  title: Ph
  where: window
  steps:
  - id: mint
    title: Mint a token and echo the PSK
    kind: local
    secrets: {{PSK: "env:MIGRATOR_TEST_PSK"}}
    command: |
      echo "token: $(cat {work}/token_source)"
      echo "psk is $PSK"
      echo "stderr psk $PSK" >&2
    outputs:
      token: {{regex: "token: (\\\\S+)", secret: true}}
  - id: use
    title: Use the token
    kind: local
    command: |
      printf %s "{{{{ outputs.mint.token }}}}" > {work}/got
      echo "using {{{{ outputs.mint.token }}}}"
    post: [{{kind: command, command: "cat {work}/got", probe_from: local}}]
"""

FAILING_PLAN = """\
name: secret-fail
title: A step that prints its secret output and fails
inventory: inventory.yaml
phases:
- id: ph
  title: Ph
  where: window
  steps:
  - id: mint
    title: Print the token, then fail
    kind: local
    command: |
      echo "token: $(cat {work}/token_source)"
      echo "token again $(cat {work}/token_source)" >&2
      exit 4
    outputs:
      token: {{regex: "token: (\\\\S+)", secret: true}}
"""


def _setup(tmp_path: Path, plan_text: str) -> tuple[Path, dict[str, str], str, str]:
    work = tmp_path / "work"
    work.mkdir()
    token = "tok-" + os.urandom(12).hex()
    psk = "psk-" + os.urandom(12).hex()
    (work / "token_source").write_text(token)
    (tmp_path / "inventory.yaml").write_text("name: lab\nenvironment: lab\nhosts: {}\n")
    plan = tmp_path / "plan.yaml"
    plan.write_text(plan_text.format(work=work))
    env = {
        **os.environ,
        "MIGRATOR_DB": str(tmp_path / "state.db"),
        "MIGRATOR_CRASH_DIR": str(tmp_path),
        "MIGRATOR_TEST_PSK": psk,
    }
    return plan, env, token, psk


def _database_bytes(tmp_path: Path) -> bytes:
    files = sorted(tmp_path.glob("state.db*"))  # state.db, state.db-wal, state.db-shm
    assert tmp_path / "state.db" in files
    return b"".join(f.read_bytes() for f in files)


def _assert_nowhere(values: list[str], *texts: str | bytes) -> None:
    for value in values:
        for text in texts:
            haystack = text if isinstance(text, bytes) else text.encode()
            assert value.encode() not in haystack


def test_secret_output_and_env_secret_reach_no_byte_of_the_store_log_or_terminal(tmp_path: Path) -> None:
    plan, env, token, psk = _setup(tmp_path, PLAN)
    run = migrator("run", str(plan), env=env, cwd=REPO)
    assert run.returncode == 0, run.stdout + run.stderr
    # The token really travelled to the next step (by environment, not in the command text).
    assert (tmp_path / "work" / "got").read_text() == token
    log = migrator("log", "1", env=env, cwd=REPO)
    assert log.returncode == 0, log.stderr
    # The lines were recorded and shown, masked: the test would see a leak.
    assert f"token: {MASK}" in log.stdout and f"psk is {MASK}" in log.stdout
    assert f"stderr psk {MASK}" in log.stdout and f"using {MASK}" in log.stdout
    assert f"token: {MASK}" in run.stdout and f"psk is {MASK}" in run.stdout
    _assert_nowhere([token, psk], _database_bytes(tmp_path), log.stdout, log.stderr, run.stdout, run.stderr)
    store = Store.open(str(tmp_path / "state.db"))
    try:
        values = {v.name: v for v in store.values(1)}
        assert values["token"].value is None and values["token"].secret
        assert values["token"].fingerprint == fingerprint(token)
        checks = store.checks(1, "use")
        assert [c.passed for c in checks] == [True]  # the post-check printed the token...
        assert token not in checks[0].observed  # ...and it was masked
    finally:
        store.close()
    _assert_nowhere([token, psk], _database_bytes(tmp_path))


def test_a_failing_step_that_printed_its_secret_output_stores_it_masked(tmp_path: Path) -> None:
    plan, env, token, _ = _setup(tmp_path, FAILING_PLAN)
    run = migrator("run", str(plan), env=env, cwd=REPO)
    assert run.returncode == 1, run.stdout + run.stderr
    log = migrator("log", "1", env=env, cwd=REPO)
    assert f"token: {MASK}" in log.stdout and f"token again {MASK}" in log.stdout
    assert "exit 4" in log.stdout
    _assert_nowhere([token], _database_bytes(tmp_path), log.stdout, run.stdout, run.stderr)


def test_engine_masks_secret_outputs_even_when_the_step_runner_streams_raw_lines(
    store: Store, work: Path
) -> None:
    """A StepRunner that does not hold lines back (ShellRunner streams them at once): the
    engine holds a secret-output step's lines until the value is known."""
    token = "s3cr3t-" + os.urandom(8).hex()
    plan = loaded(
        [
            {
                "id": "make",
                "command": f"echo 'token={token}'; echo 'plain line'",
                "outputs": {"token": {"regex": "token=(\\S+)", "secret": True}},
            }
        ]
    )
    events = Collector()
    report = start_run(store, plan, ShellRunner(work), None, RunOptions(), listeners=[events])
    assert report.status == "completed"
    lines = [line for chunk in store.output(report.run_id) for line in chunk.lines]
    assert lines == [f"token={MASK}", "plain line"]
    shown = [e.line for e in events.events if hasattr(e, "line")]
    assert shown == [f"token={MASK}", "plain line"]
    assert store.values(report.run_id)[0].fingerprint == fingerprint(token)
