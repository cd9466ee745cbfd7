"""``python -m migrator`` runs the CLI."""

from __future__ import annotations

from migrator.cli import main

if __name__ == "__main__":
    main()
