"""The headless front end: prints engine events as status lines with rich."""

from __future__ import annotations

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


class Printer:
    """A :class:`~migrator.engine.events.Listener` writing to a rich console."""

    def __init__(self, console: Console, *, show_output: bool = True) -> None:
        self.console = console
        self.show_output = show_output

    def __call__(self, event: Event) -> None:
        c = self.console
        if isinstance(event, RunStarted):
            verb = "resuming" if event.resumed else "starting"
            c.print(
                f"[bold]{verb} run {event.run_id}[/] of {escape(event.plan_name)} ({event.mode}, "
                f"{event.steps} steps)"
            )
        elif isinstance(event, StepChanged) and event.dest in SHOWN:
            style = STYLE.get(event.dest, "")
            why = f" - {escape(event.reason)}" if event.reason else ""
            attempt = f" #{event.attempt}" if event.dest == "running" and event.attempt > 1 else ""
            c.print(f"[{style}]{event.dest:>11}[/] {escape(event.step_id)}{attempt}{why}")
        elif isinstance(event, StepOutput) and self.show_output:
            c.print(f"[dim]{escape(event.host)} |[/] {escape(event.line)}", highlight=False)
        elif isinstance(event, CheckDone) and not event.passed:
            c.print(
                f"[yellow]{'check':>11}[/] {escape(event.step_id)} {event.stage} "
                f"{escape(event.description)}: {escape(event.message)} (on fail: {event.on_fail})"
            )
        elif isinstance(event, StepWarning):
            c.print(f"[yellow]{'warning':>11}[/] {escape(event.step_id or '')} {escape(event.message)}")
        elif isinstance(event, StepVerdict):
            style = VERDICT_STYLE.get(event.verdict, "")
            c.print(f"[{style}]{event.verdict:>13}[/] {escape(event.step_id)} - {escape(event.detail)}")
        elif isinstance(event, RunFinished):
            counts = ", ".join(f"{n} {k}" for k, n in sorted(event.summary.counts.items()))
            c.print(f"[bold]run {event.run_id} {event.status}[/]: {escape(event.message)} ({counts})")
            if event.next_command:
                c.print(f"to continue: [bold]{escape(event.next_command)}[/]")
