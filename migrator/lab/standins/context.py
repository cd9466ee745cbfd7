"""What every stand-in needs: who it runs as (host or container), its state, its faults."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from migrator.lab import state as host_state

DEFAULT_STATE_DIR = "/var/lib/migrator-lab"


class ToolError(Exception):
    """Exit with ``code`` after printing ``message`` on stderr (what the real tool would)."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass
class Context:
    tool: str
    args: list[str]
    state_dir: Path
    identity: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.identity["name"])

    @property
    def lab_dir(self) -> Path:
        return Path(self.identity["lab_dir"])

    @property
    def in_container(self) -> bool:
        return "ctid" in self.identity

    @property
    def host_name(self) -> str:
        return str(self.identity.get("host", self.identity["name"]))

    def faults(self) -> set[str]:
        return host_state.faults_of(self.lab_dir, self.host_name)

    def load(self) -> dict[str, Any]:
        return host_state.load(self.state_dir)

    def locked(self) -> Any:
        return host_state.locked(self.state_dir)


def make_context(argv: list[str]) -> Context:
    state_dir = Path(os.environ.get("MIGRATOR_LAB_STATE", DEFAULT_STATE_DIR))
    identity = host_state.identity(state_dir)
    return Context(Path(argv[0]).name, argv[1:], state_dir, identity)


def out(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") or not text else text + "\n")
