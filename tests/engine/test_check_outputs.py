"""Checks can read values that earlier steps produced: ``{{ outputs.STEP.NAME }}`` in a check."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PLAN = """\
name: outputs-in-checks
title: a post-check reads an earlier step's output
inventory: inventory.yaml
phases:
  - id: only
    title: only
    where: before
    steps:
      - id: make-token
        title: print a token
        kind: local
        command: echo "token=abc123"
        outputs:
          token: {regex: "token=(\\\\w+)"}
      - id: write-it
        title: write the token to a file
        kind: local
        command: printf '%s' '{{ outputs.make-token.token }}' > TARGET
        post:
          - kind: command
            command: cat TARGET
            stdout_contains: "{{ outputs.make-token.token }}"
            description: the file holds the token the first step printed
"""


def _run(tmp_path: Path, plan_text: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "inventory.yaml").write_text("name: test\nenvironment: lab\nhosts: {}\n")
    plan = tmp_path / "plan.yaml"
    plan.write_text(plan_text)
    return subprocess.run(
        [sys.executable, "-m", "migrator", "run", str(plan), "--db", str(tmp_path / "state.db")],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_post_check_uses_an_earlier_output(tmp_path: Path) -> None:
    target = tmp_path / "token.txt"
    result = _run(tmp_path, PLAN.replace("TARGET", str(target)))
    assert result.returncode == 0, result.stdout + result.stderr
    assert target.read_text() == "abc123"


def test_the_check_really_compares_with_the_output(tmp_path: Path) -> None:
    """Control: the same post-check fails when the file holds something else."""
    target = tmp_path / "token.txt"
    text = PLAN.replace("TARGET", str(target)).replace(
        "printf '%s' '{{ outputs.make-token.token }}'", "printf other"
    )
    result = _run(tmp_path, text)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "abc123" in result.stdout + result.stderr  # the expected value, substituted, is shown
