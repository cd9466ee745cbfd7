"""``python -m migrator`` runs the CLI."""

from __future__ import annotations

from migrator.cli import run_and_exit

if __name__ == "__main__":
    run_and_exit()
