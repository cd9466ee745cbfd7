"""What a `migrator run` of ssh steps imports: not requests/proxmoxer (only proxmox steps need
them), no SQL dialect but SQLite, never the TUI. Checked in a fresh interpreter."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, sys
from migrator.cli_run import _store
from migrator.engine.printer import Printer
from migrator.engine.runner import start_run
from migrator.executors.registry import Executors
store = _store(sys.argv[1])
store.close()
print(json.dumps(sorted(sys.modules)))
"""


def imported_by_a_run(tmp_path: Path) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path / "state.db")],
        cwd=ROOT, capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    return set(json.loads(done.stdout))


def test_a_run_without_proxmox_steps_does_not_import_requests_or_proxmoxer(tmp_path: Path) -> None:
    modules = imported_by_a_run(tmp_path)
    assert "paramiko" in modules and "sqlalchemy" in modules  # the probe did load the run path
    assert not {m for m in modules if m.split(".")[0] in {"requests", "proxmoxer", "urllib3"}}
    assert "migrator.executors.proxmox" not in modules


def test_only_the_sqlite_dialect_is_loaded_and_never_the_tui(tmp_path: Path) -> None:
    modules = imported_by_a_run(tmp_path)
    dialects = {m.split(".")[2] for m in modules if m.startswith("sqlalchemy.dialects.")}
    assert dialects - {"_typing"} == {"sqlite"}  # _typing: annotations only, no dialect
    assert not {m for m in modules if m.split(".")[0] in {"tui", "textual"}}
