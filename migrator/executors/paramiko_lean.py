"""Import paramiko without ``invoke`` when no SSH config needs it.

``paramiko.config`` imports ``invoke`` (and with it ``unittest.mock`` and ``asyncio``: ~40 ms,
a tenth of a run's start-up) for one feature only, ``Match exec`` in an SSH config, and copes
without it (paramiko raises the import error when such a block is looked up). So when the
SSH config migrator reads has no ``exec`` in it, the first import of paramiko is made with
``invoke`` held back; with one, paramiko is imported as usual.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

DEFAULT_SSH_CONFIG = Path("~/.ssh/config")

_MAY_MATCH_EXEC = re.compile(rb"\bexec\b", re.IGNORECASE)


def import_paramiko(ssh_config: Path | None = DEFAULT_SSH_CONFIG) -> None:
    """Import paramiko (once per process), holding ``invoke`` back unless ``ssh_config`` may
    use ``Match exec``."""
    if "paramiko" in sys.modules:
        return
    hold_back = "invoke" not in sys.modules and not _may_match_exec(ssh_config)
    if hold_back:
        sys.modules["invoke"] = None  # type: ignore[assignment]  # makes `import invoke` fail fast
    try:
        import paramiko  # noqa: F401  (the import is the point)
    finally:
        if hold_back and sys.modules.get("invoke", 0) is None:
            del sys.modules["invoke"]  # a later `import invoke` works as usual


def _may_match_exec(ssh_config: Path | None) -> bool:
    if ssh_config is None:
        return False
    try:
        return bool(_MAY_MATCH_EXEC.search(ssh_config.expanduser().read_bytes()))
    except FileNotFoundError:
        return False
    except OSError:
        return True  # unreadable now: keep paramiko whole, and let the config reader report it
