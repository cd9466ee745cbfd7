"""Every option that more than one command takes, defined once: the same name, short form,
type and wording everywhere (``-i`` works wherever ``--inventory`` does).

``--format`` draws its words from one vocabulary (:data:`FORMAT_WORDS`): ``text`` is what a
person reads on the terminal, ``json`` what a program reads, and ``markdown``, ``html``,
``mermaid`` are documents. The words used before (``table`` for ``status``/``runs``/``log``,
``terminal`` for ``plan``) are still accepted, with a deprecation note on stderr.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

DB_HELP = "State database: a SQLite file path or sqlite:///PATH (default: $MIGRATOR_DB or ./state.db)."
INVENTORY_HELP = "Inventory file (overrides the one the plan names)."

FORMAT_WORDS = ("text", "json", "markdown", "html", "mermaid")
"""The one vocabulary of ``--format``; each command takes the words it can print."""
FORMAT_ALIASES: Mapping[str, str] = {"table": "text", "terminal": "text"}
"""Words of earlier versions -> today's word (accepted, with a deprecation note)."""


def db_option(help: str = DB_HELP) -> Callable[[F], F]:
    """``--db``: the state database (``$MIGRATOR_DB`` is read by the store, not by click, so a
    command that only reads measured durations and one that runs agree on it)."""
    return click.option("--db", metavar="DB", help=help)


def inventory_option(help: str = INVENTORY_HELP) -> Callable[[F], F]:
    return click.option("--inventory", "-i", type=click.Path(dir_okay=False), help=help)


confirm_manual_option = click.option(
    "--confirm-manual", is_flag=True, help="Tick manual checklists (lab rehearsals)."
)
i_mean_it_option = click.option("--i-mean-it", is_flag=True, help="Allow --yes with a production inventory.")


class FormatChoice(click.Choice):  # type: ignore[type-arg]
    """A ``--format`` choice from :data:`FORMAT_WORDS`, taking the old words too."""

    def __init__(self, words: Sequence[str]) -> None:
        unknown = set(words) - set(FORMAT_WORDS)
        assert not unknown, f"--format words outside the vocabulary: {unknown}"
        super().__init__(list(words))

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        new = FORMAT_ALIASES.get(value) if isinstance(value, str) else None
        if new is not None and new in self.choices:
            click.echo(f"migrator: --format {value} is deprecated, say --format {new}", err=True)
            value = new
        return super().convert(value, param, ctx)


def format_option(
    words: Sequence[str],
    *,
    default: str | None = None,
    help: str | None = None,
) -> Callable[[F], F]:
    """``--format`` with ``words`` (the first is the default unless ``default`` says)."""
    return click.option(
        "--format",
        "fmt",
        type=FormatChoice(words),
        default=default or words[0],
        show_default=True,
        help=help,
    )
