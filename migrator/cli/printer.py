"""The headless front end: prints engine events as status lines.

On a terminal the lines go through rich (colours, the console's width). Otherwise (a log
file, a pipe, CI) the same text is written plainly, one write and one flush per line, and the
CLI does not even import rich (:func:`stdout_console`): a rich
``Console.print`` costs ~0.2-0.4 ms of markup parsing and rendering per line, which is a
large part of the per-step cost of a trivial step (bench/ssh_overhead.py). Plain lines are
not wrapped at the console width. Each line is flushed so that ``tail -f`` or ``tee`` show a
step as it starts.
"""

from __future__ import annotations

import os
import sys
import time
from typing import IO, TYPE_CHECKING

from migrator.engine.events import (
    CheckDone,
    Event,
    RunFinished,
    RunStarted,
    StepChanged,
    StepOutput,
    StepProgress,
    StepVerdict,
    StepWarning,
)
from migrator.executors.command import first_lines

if TYPE_CHECKING:
    from rich.console import Console

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
    "cannot_tell": "bold magenta",
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


def styled(stream: IO[str]) -> bool:
    """Whether rich would treat ``stream`` as a terminal, by rich's own rules (TTY_COMPATIBLE,
    then FORCE_COLOR, then isatty), decided without importing rich (~17 ms of a start)."""
    compatible = os.environ.get("TTY_COMPATIBLE", "")
    if compatible in ("0", "1"):
        return compatible == "1"
    force = os.environ.get("FORCE_COLOR")
    if force is not None:
        return force != ""
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def stdout_console() -> Console | None:
    """A rich console for stdout when it is styled (see :func:`styled`), else None: a
    :class:`Printer` without a console writes plain lines to stdout."""
    if not styled(sys.stdout):
        return None
    from rich.console import Console

    return Console()


class Printer:
    """A :class:`~migrator.engine.events.Listener` writing to a rich console, or plainly to
    stdout when there is none (``console=None``)."""

    def __init__(self, console: Console | None, *, show_output: bool = True) -> None:
        self.console = console
        self.show_output = show_output
        self.plain = console is None or plain_output(console)
        self._bar_shown = False  # a progress bar is drawn on the current terminal line
        self._plain_progress: dict[str, float] = {}  # step -> when its last percent line was printed

    def __call__(self, event: Event) -> None:
        if isinstance(event, StepChanged):  # the most frequent event first
            if event.dest in SHOWN:
                why = f" - {event.reason}" if event.reason else ""
                attempt = f" #{event.attempt}" if event.dest == "running" and event.attempt > 1 else ""
                self.line(
                    (STYLE.get(event.dest, ""), f"{event.dest:>11}"), ("", f" {event.step_id}{attempt}{why}")
                )
                if event.command:  # what this attempt runs (secrets masked), its first lines
                    for text in first_lines(event.command):
                        self.line(("dim", f"{'$':>11} {text}"), highlight=False)
        elif isinstance(event, StepOutput):
            if self.show_output:
                self.line(("dim", f"{event.host} |"), ("", f" {event.line}"), highlight=False)
        elif isinstance(event, StepProgress):
            self.progress(event)
        elif isinstance(event, RunStarted):
            verb = "resuming" if event.resumed else "starting"
            self.line(
                ("bold", f"{verb} run {event.run_id}"),
                ("", f" of {event.plan_name} ({event.mode}, {event.steps} steps)"),
            )
        elif isinstance(event, CheckDone):
            # A done_when check that does not hold only means "not done yet": nothing to say.
            quiet = event.outcome == "does_not_hold" and event.stage.endswith("done_when")
            if not event.passed and not quiet:
                # Which of the two: a check that does not hold, or one that cannot tell (why).
                outcome = event.outcome.replace("_", " ")
                self.line(
                    ("yellow" if event.outcome == "does_not_hold" else "bold magenta", f"{'check':>11}"),
                    (
                        "",
                        f" {event.step_id} {event.stage} {event.description}: {outcome}: {event.message}"
                        f" (on fail: {event.on_fail})",
                    ),
                )
        elif isinstance(event, StepWarning):
            self.line(("yellow", f"{'warning':>11}"), ("", f" {event.step_id or ''} {event.message}"))
        elif isinstance(event, StepVerdict):
            self.line(
                (VERDICT_STYLE.get(event.verdict, ""), f"{event.verdict:>13}"),
                ("", f" {event.step_id} - {event.detail}"),
            )
        elif isinstance(event, RunFinished):
            counts = ", ".join(f"{n} {k}" for k, n in sorted(event.summary.counts.items()))
            self.line(("bold", f"run {event.run_id} {event.status}"), ("", f": {event.message} ({counts})"))
            if event.next_command:
                self.line(("", "to continue: "), ("bold", event.next_command))

    def progress(self, event: StepProgress) -> None:
        """A terminal gets a bar redrawn in place; a log a percent line every few seconds."""
        from migrator.engine import progress_view as view

        if self.plain:
            now, done = time.monotonic(), (event.fraction or 0) >= 1
            last = self._plain_progress.get(event.step_id)
            if last is None or now - last >= view.PLAIN_EVERY or done:
                self._plain_progress[event.step_id] = now
                self.line(("", view.plain_line(event)))
            return
        assert self.console is not None
        out = self.console.file
        out.write("\r\x1b[2K" + view.terminal_line(event, self.console.width))
        out.flush()
        self._bar_shown = True

    def line(self, *pieces: Piece, highlight: bool | None = None) -> None:
        """Print one line of ``(style, text)`` pieces (the text is never read as markup)."""
        if self._bar_shown and self.console is not None:
            self.console.file.write("\r\x1b[2K")  # the bar gives way; it is redrawn on the next progress
            self._bar_shown = False
        if self.plain:
            out: IO[str] = sys.stdout if self.console is None else self.console.file
            out.write("".join(text for _, text in pieces) + "\n")
            out.flush()
            return
        from rich.markup import escape

        assert self.console is not None  # not plain
        markup = "".join(f"[{style}]{escape(text)}[/]" if style else escape(text) for style, text in pieces)
        self.console.print(markup, highlight=highlight)
