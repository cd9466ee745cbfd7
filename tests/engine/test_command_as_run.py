"""The command an attempt actually ran, secrets masked, in every place that shows a run.

End to end: `python -m migrator run` on a real plan (real Executors, LocalTransport, the real
SQLite file) whose second step reads a plain output, a secret output and an env secret. Then
the printed run, `migrator log --format json`, the change record (markdown and JSON) and the raw
bytes of the database are read: each holds the command rendered (the plain output resolved, the
secret output as ``***``, the env secret as the plan's ``$PSK``), none holds a secret value, and
none holds the plan's unresolved ``{{ outputs... }}``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from migrator.secrets import MASK
from tests.engine.test_cli_run import migrator

REPO = Path(__file__).parents[2]

PLAN = """\
name: command-demo
title: The command as run
inventory: inventory.yaml
phases:
- id: ph
  title: Ph
  where: window
  steps:
  - id: mint
    title: Name a host and mint a token
    kind: local
    command: |
      echo "host: web-$(echo 42)"
      echo "token: $(cat {work}/token_source)"
    outputs:
      host: {{regex: "host: (\\\\S+)"}}
      token: {{regex: "token: (\\\\S+)", secret: true}}
  - id: use
    title: Log in with both
    kind: local
    secrets: {{PSK: "env:MIGRATOR_TEST_PSK"}}
    command: printf '%s %s %s' {{{{ outputs.mint.host }}}} "$PSK" "{{{{ outputs.mint.token }}}}" > {work}/got
"""


def test_the_rendered_command_with_secrets_masked_is_printed_journaled_reported_and_stored(
    tmp_path: Path,
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    token, psk = "tok-" + os.urandom(12).hex(), "psk-" + os.urandom(12).hex()
    (work / "token_source").write_text(token)
    (tmp_path / "inventory.yaml").write_text("name: lab\nenvironment: lab\nhosts: {}\n")
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN.format(work=work))
    env = {**os.environ, "MIGRATOR_DB": str(tmp_path / "state.db"), "MIGRATOR_TEST_PSK": psk}

    run = migrator("run", str(plan), env=env, cwd=REPO)
    assert run.returncode == 0, run.stdout + run.stderr
    assert (work / "got").read_text() == f"web-42 {psk} {token}"  # what really ran, with the values
    ran = f"""printf '%s %s %s' web-42 "$PSK" "{MASK}" > {work}/got"""

    # The printer: a dimmed `$ ...` line under the step's start.
    lines = run.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split()[:2] == ["running", "use"])
    assert lines[start + 1].strip() == f"$ {ran}"

    # The journal, as `migrator log --format json` shows it: on the attempt's start.
    log = migrator("log", "1", "--format", "json", env=env, cwd=REPO)
    assert log.returncode == 0, log.stderr
    entries = json.loads(log.stdout)["journal"]
    started = [e for e in entries if e["step_id"] == "use" and e["to_state"] == "running"]
    assert [e["command"] for e in started] == [ran]
    assert [e["command"] for e in entries if e["step_id"] == "mint" and e["command"]] == [
        f'echo "host: web-$(echo 42)"\necho "token: $(cat {work}/token_source)"\n'
    ]
    text_log = migrator("log", "1", "--step", "use", env=env, cwd=REPO)
    assert f"    $ {ran}" in text_log.stdout.splitlines()

    # The change record, markdown and JSON.
    record = migrator("report", "1", env=env, cwd=REPO)
    assert record.returncode == 0, record.stderr
    assert "Attempt 1 ran:" in record.stdout and ran in record.stdout
    doc = json.loads(migrator("report", "1", "--format", "json", env=env, cwd=REPO).stdout)
    assert {s["id"]: s["commands"] for s in doc["steps"]}["use"] == [[1, ran]]

    stored = b"".join(f.read_bytes() for f in sorted(tmp_path.glob("state.db*")))
    assert ran.encode() in stored
    for shown in (run.stdout, run.stderr, log.stdout, text_log.stdout, record.stdout, json.dumps(doc)):
        assert token not in shown and psk not in shown and "{{ outputs" not in shown
    assert token.encode() not in stored and psk.encode() not in stored
