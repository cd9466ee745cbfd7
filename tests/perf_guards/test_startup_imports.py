"""What a `migrator run` of ssh steps imports: not requests/proxmoxer (only proxmox steps need
them), not SQLAlchemy/sqlmodel (the store runs on stdlib sqlite3), never the TUI. Checked in a
fresh interpreter."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, sys
from migrator.engine.session.compose import open_store as _store
from migrator.cli.printer import Printer
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
    assert {"paramiko", "sqlite3", "migrator.store.db"} <= modules  # the probe did load the run path
    assert not {m for m in modules if m.split(".")[0] in {"requests", "proxmoxer", "urllib3"}}
    assert "migrator.executors.proxmox" not in modules
    assert "migrator.executors.stunnel_step" not in modules  # built by the first stunnel step


def test_a_run_imports_neither_sqlalchemy_nor_sqlmodel_nor_the_tui(tmp_path: Path) -> None:
    modules = imported_by_a_run(tmp_path)
    assert (tmp_path / "state.db").is_file()  # the store was opened (and its schema created)
    assert {"sqlite3", "migrator.store.schema_ddl"} <= modules
    assert not {m for m in modules if m.split(".")[0] in {"sqlalchemy", "sqlmodel"}}
    assert "migrator.store.tables" not in modules  # the schema of record stays off the run path
    assert not {m for m in modules if m.split(".")[0] in {"tui", "textual"}}
