"""What the CLI plugs into an engine session: the terminal prompter, the printer as a
listener, notes printed, and - for a lab inventory - the lab's hooks.

This is the one place the product reaches into :mod:`migrator.lab` outside the lab's own
command (``pyproject.toml``, the lab contract): a rehearsal's steps act on the lab through
these hooks, and the engine is handed them rather than importing the lab.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from migrator.engine.session.compose import Front

if TYPE_CHECKING:
    from rich.console import Console

    from migrator.executors.base import Prompter


def lab_hooks(inventory_path: Path) -> Any:
    from migrator.lab.hooks import hooks_for_inventory

    return hooks_for_inventory(inventory_path)


def front(console: Console | None, listeners: Sequence[Any] = ()) -> Front:
    """The terminal as a front end: questions asked on it (``--yes`` answers yes/no ones)."""

    def make_prompter(assume_yes: bool) -> Prompter:
        from migrator.cli.prompter import CliPrompter

        return CliPrompter(console, assume_yes=assume_yes)

    return Front(make_prompter=make_prompter, listeners=list(listeners), lab_hooks=lab_hooks, note=click.echo)
