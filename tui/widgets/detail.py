"""The detail pane: the selected step's description, action, checks (with what was observed)
and rollback."""

from __future__ import annotations

from rich.markup import escape
from textual.containers import VerticalScroll
from textual.widgets import Static

from migrator.engine.events import StepProgress
from migrator.engine.progress_view import bar, summary
from tui.clock import span
from tui.facade import CheckLine, StepInfo, StepStatus

LEGEND = (
    "markers: [b red]D[/] destructive  [b yellow]M[/] manual  [b magenta]N[/] point of no return  "
    "[b red]![/] irreversible"
)


def describe(
    step: StepInfo,
    status: StepStatus | None,
    checks: tuple[CheckLine, ...],
    progress: StepProgress | None = None,
) -> str:
    out = [f"[b]{escape(step.id)}[/]  {escape(step.title)}"]
    flags = [
        name
        for name, on in (
            ("[b red]DESTRUCTIVE[/]", step.destructive),
            ("[b yellow]MANUAL[/]", step.manual),
            ("[b magenta]POINT OF NO RETURN[/]", step.point_of_no_return),
            ("idempotent", step.idempotent),
        )
        if on
    ]
    out.append(
        f"{step.kind} on [b]{escape(step.host)}[/]  estimate {span(step.estimate_seconds)}"
        + ("*" if step.estimate_measured else "")
        + ("  " + " ".join(flags) if flags else "")
    )
    if step.irreversible:  # near the top: the pane may show only its first lines
        out.append(f"[b red]IRREVERSIBLE[/]: {escape(step.irreversible)}")
    if progress is not None:  # near the top, in the engine's own words (as the CLI prints them)
        out.append(f"[b cyan]{escape(bar(progress.fraction, 12))}[/] {escape(summary(progress))}")
    if status is not None:
        line = f"state [b]{status.state}[/]"
        if status.attempt:
            line += f"  attempt {status.attempt}"
        if status.reason:
            line += f"  reason: {escape(status.reason)}"
        out.append(line)
        if status.summary:
            out.append(f"[dim]{escape(status.summary)}[/]")

    if step.description:
        out += ["", escape(step.description)]
    if status is not None and status.command:  # what ran, outputs resolved, secrets masked
        out += ["", f"[b]action as run[/] (attempt {status.attempt})", escape(status.command)]
    elif step.action:
        out += ["", "[b]action[/]", escape(step.action)]
    if step.checks:
        out += ["", "[b]checks[/]"] + [f"  {escape(c)}" for c in step.checks]
    if checks:
        out += ["", "[b]observed[/]"]
        for c in checks:
            mark = (
                "[green]pass[/]"
                if c.passed
                else "[b magenta]CANNOT TELL[/]"
                if c.outcome == "cannot_tell"
                else "[b red]FAIL[/]"
            )
            seen = f": {escape(c.observed)}" if c.observed else ""
            why = f" ({escape(c.message)})" if c.message and not c.passed else ""
            out.append(f"  {mark} {c.stage} {escape(c.description)}{seen}{why}")
    out += ["", "[b]rollback[/]"]
    if step.rollback:
        out.append(
            escape(step.rollback) + (f"  (~{span(step.rollback_seconds)})" if step.rollback_seconds else "")
        )
    else:
        what = f"IRREVERSIBLE: {escape(step.irreversible)}" if step.irreversible else "no rollback written"
        out.append(f"[b red]none[/]: {what}")
    out += ["", LEGEND]
    return "\n".join(out)


class StepDetail(VerticalScroll):
    def __init__(self) -> None:
        super().__init__(id="detail-pane")
        self.body = Static("", id="detail")

    def compose(self):  # type: ignore[no-untyped-def]
        yield self.body

    def show(self, text: str) -> None:
        self.body.update(text)
