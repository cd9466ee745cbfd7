"""`migrator plan`, `validate`, `schema` as a user runs them: real processes, real files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def migrator(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "100"}  # the width of the screen the plan view is designed for
    return subprocess.run(
        [sys.executable, "-m", "migrator", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_plan_off1_shows_every_step_and_the_downtime() -> None:
    result = migrator("plan", "off1")
    assert result.returncode == 0, result.stderr
    from migrator.plan.load import load_plan

    loaded = load_plan(ROOT / "plans" / "off1.yaml")
    for step_id in loaded.order:
        assert step_id in result.stdout
    assert "downtime" in result.stdout.lower()


def test_plan_needs_no_ssh_sql_or_tui_modules() -> None:
    code = (
        "import sys, runpy\n"
        "sys.argv = ['migrator', 'plan', 'off1']\n"
        "from migrator.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "names = ('textual', 'paramiko', 'sqlmodel', 'sqlalchemy', 'proxmoxer')\n"
        "heavy = sorted(m for m in names if m in sys.modules)\n"
        "print('HEAVY=' + ','.join(heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "HEAVY="


def test_plan_one_step_in_full() -> None:
    result = migrator("plan", "off1", "--step", "zfs-hdd-create")
    assert result.returncode == 0, result.stderr
    assert "zpool create" in result.stdout
    assert "zpool destroy zfs-hdd" in result.stdout  # the rollback


def test_plan_unknown_step_is_a_usage_error_with_a_suggestion() -> None:
    result = migrator("plan", "off1", "--step", "zfs-hdd-crate")
    assert result.returncode == 2
    assert "zfs-hdd-create" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("fmt", ["markdown", "json", "mermaid"])
def test_plan_formats(fmt: str) -> None:
    result = migrator("plan", "off1", "--format", fmt)
    assert result.returncode == 0, result.stderr
    if fmt == "json":
        document = json.loads(result.stdout)
        assert "zfs-hdd-create" in document["order"]
    elif fmt == "markdown":
        assert "- [ ]" in result.stdout and "```" in result.stdout
    else:
        assert result.stdout.lstrip().startswith("flowchart")


def test_unknown_plan_names_the_known_ones() -> None:
    result = migrator("plan", "off9")
    assert result.returncode == 2
    assert "no plan named 'off9'" in result.stderr
    assert "off1" in result.stderr


def test_validate_every_shipped_plan_is_clean() -> None:
    result = migrator("validate")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "INVALID" not in result.stderr


def test_schema_is_json_schema_for_plans_and_inventories() -> None:
    plan = json.loads(migrator("schema").stdout)
    assert "phases" in plan["properties"]
    inventory = json.loads(migrator("schema", "--inventory").stdout)
    assert "hosts" in inventory["properties"]


def test_an_internal_error_writes_a_traceback_file(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from migrator import cli\n"
        "def boom(*a, **k):\n    raise RuntimeError('kaboom')\n"
        "cli.cli.main = boom\n"
        "cli.main(['plan', 'off1'])\n"
    )
    env = {"MIGRATOR_CRASH_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 70
    assert "internal error: RuntimeError: kaboom" in result.stderr
    files = list(tmp_path.glob("migrator-crash-*.txt"))
    assert len(files) == 1 and "kaboom" in files[0].read_text()


def test_validate_refuses_a_wildcard_tunnel_client_accept(tmp_path: Path) -> None:
    """The January 2024 invariant, through `migrator validate` on a tunnel inventory."""
    text = (ROOT / "plans" / "tunnels.yaml").read_text()
    assert "accept: 10.1.0.113:27017" in text
    bad = tmp_path / "tunnels.yaml"
    bad.write_text(text.replace("accept: 10.1.0.113:27017", "accept: 0.0.0.0:27017", 1))
    line = next(i for i, row in enumerate(bad.read_text().splitlines(), 1) if "0.0.0.0:27017" in row)
    result = migrator("validate", str(bad))
    assert result.returncode == 1
    assert f"{bad}:{line}:" in result.stdout
    assert "binds every interface" in result.stdout and "January 2024" in result.stdout
