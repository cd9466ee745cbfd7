"""``python -m migrator`` and the ``migrator`` console script run the CLI."""

from __future__ import annotations

import sys
from typing import NoReturn


def console() -> NoReturn:
    """Import the CLI, then run it. A Ctrl-C during the imports (a fraction of a second, more on
    a loaded machine) ends the command as cleanly as one later: a line and exit 130, no
    traceback of the import machinery; nothing was opened or done yet."""
    try:
        from migrator.cli import run_and_exit
    except KeyboardInterrupt:
        sys.stderr.write("migrator: interrupted before it started; nothing was done\n")
        raise SystemExit(130) from None  # ExitCode.INTERRUPTED: importing it could be interrupted too
    run_and_exit()


if __name__ == "__main__":
    console()
