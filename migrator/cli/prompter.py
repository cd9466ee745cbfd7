"""CliPrompter: the operator's questions as terminal prompts (rich), for headless runs.

On a terminal it asks. Without one (cron, CI, a pipe) it cannot, and guessing would be
worse than stopping: it raises :class:`~migrator.errors.OperatorNeeded` naming what was
needed, and the run stops there with exit code 5. ``assume_yes`` (``--yes``) answers plain
yes/no questions only. It never types a confirmation text (``expect``: the host name before
a destructive step, which guards against the wrong inventory), never ticks a manual
checklist (that is the registry's ``confirm_manual``, for lab rehearsals) and never picks
a choice or writes a reason.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, TextIO

from migrator.errors import OperatorNeeded
from migrator.executors.base import ChecklistAnswer

if TYPE_CHECKING:
    from rich.console import Console

YES_FLAG = "--yes"
STOP = "stop"


class CliPrompter:
    """Implements :class:`~migrator.executors.base.Prompter` with rich prompts."""

    def __init__(
        self,
        console: Console | None = None,
        *,
        assume_yes: bool = False,
        stream: TextIO | None = None,
        interactive: bool | None = None,
    ) -> None:
        """``stream`` is where answers are read (stdin by default); ``interactive`` overrides
        the TTY test (tests feed answers through a StringIO). Without ``console`` one is made
        for stdout at the first question: a run that asks nothing never imports rich."""
        self._console = console
        self.assume_yes = assume_yes
        self._stream = stream
        self._interactive = interactive

    @property
    def console(self) -> Console:
        if self._console is None:
            from rich.console import Console

            self._console = Console()
        return self._console

    @property
    def interactive(self) -> bool:
        if self._interactive is not None:
            return self._interactive
        return (self._stream or sys.stdin).isatty()

    # ------------------------------------------------------------ Prompter

    def confirm(self, question: str, *, expect: str | None = None) -> bool:
        from rich.markup import escape
        from rich.prompt import Confirm, Prompt

        if expect is None and self.assume_yes:
            self.console.print(f"{escape(question)}[bold]yes[/] (assumed: {YES_FLAG})")
            return True
        if expect is not None:
            self._need(f"type '{expect}' to confirm: {question}")
            typed = Prompt.ask(
                f"{escape(question)}\nType [bold]{escape(expect)}[/] to confirm",
                console=self.console,
                stream=self._stream,
            )
            return typed.strip() == expect
        self._need(f"a yes/no answer: {question} (or run with {YES_FLAG})")
        return Confirm.ask(escape(question), console=self.console, stream=self._stream)

    def checklist(self, title: str, instructions: str, items: list[str]) -> ChecklistAnswer | None:
        from rich.markup import escape
        from rich.panel import Panel
        from rich.prompt import Prompt

        self._need(
            f"manual step '{title}' must be done and confirmed by a person ({len(items)} checklist item(s))"
        )
        self.console.print(Panel(escape(instructions), title=escape(title), expand=False))
        confirmed: list[bool] = []
        for number, item in enumerate(items, start=1):
            answer = Prompt.ask(
                f"[{number}/{len(items)}] {escape(item)} - done?",
                choices=["y", "n", STOP],
                console=self.console,
                stream=self._stream,
            )
            if answer == STOP:
                return None
            confirmed.append(answer == "y")
        evidence = Prompt.ask(
            "Evidence or notes (optional)",
            default="",
            show_default=False,
            console=self.console,
            stream=self._stream,
        )
        return ChecklistAnswer(confirmed=confirmed, evidence=evidence.strip())

    def choose(self, question: str, choices: list[str]) -> str:
        from rich.markup import escape
        from rich.prompt import Prompt

        self._need(f"a choice for: {question} ({', '.join(choices)})")
        return Prompt.ask(escape(question), choices=choices, console=self.console, stream=self._stream)

    def text(self, question: str) -> str:
        from rich.markup import escape
        from rich.prompt import Prompt

        self._need(f"an answer to: {question}")
        return Prompt.ask(escape(question), console=self.console, stream=self._stream)

    # ------------------------------------------------------------ helpers

    def _need(self, what: str) -> None:
        """Raise OperatorNeeded when nobody is at a terminal to answer."""
        if not self.interactive:
            raise OperatorNeeded(
                f"an operator is needed: {what}",
                where="stdin is not a terminal",
                hint="run migrator in a terminal (or the TUI) to answer",
            )
