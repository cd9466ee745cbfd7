"""The step list: one DataTable row per step, grouped by phase (a heading row per phase)."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist

from tui.clock import span
from tui.facade import PlanInfo, StepInfo

PHASE_PREFIX = "phase:"
STATE_STYLE = {
    "pending": "dim",
    "prechecking": "cyan",
    "ready": "cyan",
    "running": "bold cyan",
    "verifying": "cyan",
    "succeeded": "green",
    "failed": "bold red",
    "skipped": "yellow",
    "blocked": "red",
    "in_doubt": "bold magenta",
    "rolled_back": "yellow",
    "would_run": "cyan",
    "already_done": "green",
    "cannot_know": "yellow",
    "cannot_tell": "bold magenta",
    "would_fail": "bold red",
}
STATE_WORD = {"in_doubt": "IN DOUBT", "rolled_back": "rolled back", "prechecking": "checking"}


def markers(step: StepInfo) -> Text:
    """``D`` destructive, ``M`` manual, ``N`` point of no return (legend in the detail pane)."""
    out = Text()
    if step.destructive:
        out.append("D", "bold red")
    if step.manual:
        out.append("M", "bold yellow")
    if step.point_of_no_return:
        out.append("N", "bold magenta")
    return out


def state_cell(state: str) -> Text:
    return Text(STATE_WORD.get(state, state.replace("_", " ")), STATE_STYLE.get(state, ""))


def verdict_cell(verdict: str, until: int | None) -> Text:
    """A dry-run verdict: "would run", "already done", "would fail", or "until step N" for
    cannot_know (a pre-check fails now and step N, which has not run yet, may change that)."""
    if verdict == "cannot_know" and until is not None:
        return Text(f"until step {until}", STATE_STYLE[verdict])
    return state_cell(verdict)


class StepTable(DataTable[str | Text]):
    """Keys: step ids for steps, ``phase:<id>`` for phase headings."""

    def __init__(self, plan: PlanInfo) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, id="steps")
        self.plan = plan

    def on_mount(self) -> None:
        # A dry-run's verdicts ("already done", "until step 12") need one more column.
        self.add_column("state", key="state", width=12 if self.plan.mode == "dry-run" else 11)
        self.add_column("!", key="marks", width=3)  # before the wide columns: always visible
        self.add_column("step", key="step")
        self.add_column("host", key="host")
        self.add_column("time", key="time", width=7)
        phase = None
        for step in self.plan.steps:
            if step.phase_id != phase:
                phase = step.phase_id
                title = Text(f"{step.phase_title}", "bold underline")
                self.add_row(Text(""), Text(""), title, Text(""), Text(""), key=PHASE_PREFIX + phase)
            estimate = span(step.estimate_seconds) if step.estimate_seconds is not None else ""
            self.add_row(
                state_cell("pending"),
                markers(step),
                Text(step.id),
                Text(step.host, "dim"),
                Text(f"~{estimate}" if estimate else "", "dim"),
                key=step.id,
            )
        # Start on the first step, not on the first phase heading.
        if self.plan.steps:
            self.move_cursor(row=1)

    def set_state(self, step_id: str, state: str) -> None:
        self.update_cell(step_id, "state", state_cell(state))

    def set_verdict(self, step_id: str, verdict: str, until: str | None) -> None:
        ids = [s.id for s in self.plan.steps]
        number = ids.index(until) + 1 if until in ids else None
        self.update_cell(step_id, "state", verdict_cell(verdict, number))

    def set_time(self, step_id: str, text: str, measured: bool) -> None:
        self.update_cell(step_id, "time", Text(text, "" if measured else "dim"))

    def selected_key(self) -> str | None:
        if self.row_count == 0:
            return None
        try:
            key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except CellDoesNotExist:  # an empty table has no cursor cell
            return None
        return key

    def select_step(self, step_id: str) -> None:
        self.move_cursor(row=self.get_row_index(step_id))
