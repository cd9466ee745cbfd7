"""The headless front end: prints engine events as status lines.

On a terminal the lines go through rich (colours, the console's width). Otherwise (a log
file, a pipe, CI) the same text is written plainly, one write and one flush per line: a rich
``Console.print`` costs ~0.2-0.4 ms of markup parsing and rendering per line, which is a
large part of the per-step cost of a trivial step (bench/ssh_overhead.py). Plain lines are
not wrapped at the console width. Each line is flushed so that ``tail -f`` or ``tee`` show a
step as it starts.
"""

from __future__ import annotations

from typing import IO

from rich.console import Console
from rich.markup import escape

from migrator.engine.events import (
    CheckDone,
    Event,
    RunFinished,
    RunStarted,
    StepChanged,
    StepOutput,
    StepVerdict,
    StepWarning,
)

STYLE = {
    "running": "bold cyan",
    "succeeded": "green",
    "failed": "bold red",
    "skipped": "yellow",
    "blocked": "red",
    "in_doubt": "bold magenta",
    "pending": "dim",
    "rolled_back": "yellow",
}
VERDICT_STYLE = {
    "would_run": "cyan",
    "already_done": "green",
    "cannot_know": "yellow",
    "would_fail": "bold red",
    "drift": "bold red",
    "still_done": "green",
}
SHOWN = frozenset(
    {"running", "succeeded", "failed", "skipped", "blocked", "in_doubt", "pending", "rolled_back"}
)

Piece = tuple[str, str]
"""``(style, text)``: a run of text in one rich style ("" for none)."""


def plain_output(console: Console) -> bool:
    """True when ``console`` would print no colour anyway (not a terminal, not forced, not
    recording): then the printer writes plain text to its file itself."""
    return not console.is_terminal and console.color_system is None and not console.record


class Printer:
    """A :class:`~migrator.engine.events.Listener` writing to a rich console."""

    def __init__(self, console: Console, *, show_output: bool = True) -> None:
        self.console = console
        self.show_output = show_output
        self.plain = plain_output(console)

    def __call__(self, event: Event) -> None:
        if isinstance(event, StepChanged):  # the most frequent event first
            if event.dest in SHOWN:
                why = f" - {event.reason}" if event.reason else ""
                attempt = f" #{event.attempt}" if event.dest == "running" and event.attempt > 1 else ""
                self._line(
                    (STYLE.get(event.dest, ""), f"{event.dest:>11}"), ("", f" {event.step_id}{attempt}{why}")
                )
        elif isinstance(event, StepOutput):
            if self.show_output:
                self._line(("dim", f"{event.host} |"), ("", f" {event.line}"), highlight=False)
        elif isinstance(event, RunStarted):
            verb = "resuming" if event.resumed else "starting"
            self._line(
                ("bold", f"{verb} run {event.run_id}"),
                ("", f" of {event.plan_name} ({event.mode}, {event.steps} steps)"),
            )
        elif isinstance(event, CheckDone):
            if not event.passed:
                self._line(
                    ("yellow", f"{'check':>11}"),
                    (
                        "",
                        f" {event.step_id} {event.stage} {event.description}: {event.message}"
                        f" (on fail: {event.on_fail})",
                    ),
                )
        elif isinstance(event, StepWarning):
            self._line(("yellow", f"{'warning':>11}"), ("", f" {event.step_id or ''} {event.message}"))
        elif isinstance(event, StepVerdict):
            self._line(
                (VERDICT_STYLE.get(event.verdict, ""), f"{event.verdict:>13}"),
                ("", f" {event.step_id} - {event.detail}"),
            )
        elif isinstance(event, RunFinished):
            counts = ", ".join(f"{n} {k}" for k, n in sorted(event.summary.counts.items()))
            self._line(("bold", f"run {event.run_id} {event.status}"), ("", f": {event.message} ({counts})"))
            if event.next_command:
                self._line(("", "to continue: "), ("bold", event.next_command))

    def _line(self, *pieces: Piece, highlight: bool | None = None) -> None:
        if self.plain:
            out: IO[str] = self.console.file
            out.write("".join(text for _, text in pieces) + "\n")
            out.flush()
            return
        markup = "".join(f"[{style}]{escape(text)}[/]" if style else escape(text) for style, text in pieces)
        self.console.print(markup, highlight=highlight)
