"""The top of the screen: a mode banner nobody can miss, the plan, the operator, the clock."""

from __future__ import annotations

from rich.markup import escape
from rich.text import Text
from textual.widgets import Static

from tui.facade import PlanInfo

BANNERS = {
    "dry-run": ("DRY-RUN: nothing is changed", "mode-dry"),
    "rehearsal": ("REHEARSAL on the lab", "mode-rehearsal"),
    "live": ("LIVE: PRODUCTION", "mode-live"),
}


def banner_text(plan: PlanInfo, observer_reason: str) -> tuple[str, str]:
    text, css = BANNERS.get(plan.mode, (plan.mode.upper(), "mode-live"))
    if plan.mode == "rehearsal":
        text = f"REHEARSAL on the lab ({plan.inventory_name})"
    elif plan.mode == "live":
        text = f"LIVE: {plan.environment.upper()} ({plan.inventory_name})"
    if observer_reason:
        text = f"OBSERVER, read-only: {observer_reason}  |  {text}"
    return text, css


class ModeBanner(Static):
    def __init__(self, plan: PlanInfo, observer_reason: str = "") -> None:
        text, css = banner_text(plan, observer_reason)
        super().__init__(Text(text), id="banner", classes=css)


class RunHeader(Static):
    """``plan: title  run N status  operator``; the clock line is a separate widget."""

    def __init__(self, plan: PlanInfo) -> None:
        super().__init__(id="run-header")
        self.plan = plan

    def show(self, run_id: int | None, status: str) -> None:
        run = f"run {run_id}" if run_id is not None else "new run"
        self.update(
            f"[b]{escape(self.plan.name)}[/]: {escape(self.plan.title)}  "
            f"[b]{run}[/] {escape(status)}  by {escape(self.plan.operator)}"
        )


class ClockLine(Static):
    def __init__(self) -> None:
        super().__init__(id="clock")
