"""The step list: one DataTable row per step, grouped by phase (a heading row per phase).

At any width every column stays visible: the step column gets what the fixed columns
(state, markers, host, time) leave, and an id longer than that is abbreviated keeping its
distinguishing end (:func:`abbreviate`), never cut to a prefix that several steps share."""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist

from tui.clock import span
from tui.facade import PlanInfo, StepInfo

PHASE_PREFIX = "phase:"
ELLIPSIS = "…"
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
MIN_STEP_WIDTH = 10
TIME_WIDTH = 7
MARKS_WIDTH = 3
CELL_PADDING = 1  # DataTable's default, on each side of every column


def abbreviate(ids: list[str], width: int) -> dict[str, str]:
    """Each id as shown in ``width`` columns, all different when the ids are.

    An id that fits is kept. A longer one keeps its end ("…installed-off2-ct101"): plan ids
    share prefixes (``stunnel-installed-*``), so the end is what tells them apart. When two
    ends collide, more of the head is kept and less of the end until they differ."""
    width = max(width, 3)
    shown = {sid: sid for sid in ids if len(sid) <= width}
    long = [sid for sid in ids if len(sid) > width]
    room = width - 1  # one column for the ellipsis
    for sid in long:
        candidates = [ELLIPSIS + sid[-room:]] + [
            sid[:head] + ELLIPSIS + sid[len(sid) - (room - head) :] for head in range(1, room)
        ]
        taken = set(shown.values())
        others = [o for o in long if o != sid]
        choice = next(
            (c for c in candidates if c not in taken and not any(_matches(c, o) for o in others)),
            candidates[0],
        )
        shown[sid] = choice
    return shown


def _matches(short: str, sid: str) -> bool:
    """Could ``short`` (an abbreviation) stand for ``sid`` too?"""
    head, _, tail = short.partition(ELLIPSIS)
    return sid.startswith(head) and sid.endswith(tail) and len(sid) > len(head) + len(tail)


def markers(step: StepInfo) -> Text:
    """``D`` destructive, ``M`` manual, ``N`` point of no return, ``!`` irreversible (legend in
    the detail pane)."""
    out = Text()
    if step.destructive:
        out.append("D", "bold red")
    if step.manual:
        out.append("M", "bold yellow")
    if step.point_of_no_return:
        out.append("N", "bold magenta")
    if step.irreversible:
        out.append("!", "bold red")
    return out


def progress_cell(fraction: float | None) -> Text:
    """A running step's progress in the time column (7 wide): a 3-cell bar and the percent,
    ``██░ 67%``; ``  ?%`` while its tool has not said how far it is."""
    if fraction is None:
        return Text("    ?%", "cyan")
    part = max(0.0, min(fraction, 1.0))
    filled = round(part * 3)
    return Text("█" * filled + "░" * (3 - filled) + f"{round(part * 100):>3d}%", "bold cyan")


def state_cell(state: str) -> Text:
    return Text(STATE_WORD.get(state, state.replace("_", " ")), STATE_STYLE.get(state, ""))


def verdict_cell(verdict: str, until: int | None) -> Text:
    """A dry-run verdict: "would run", "already done", "would fail", or "until step N" for
    cannot_know (a pre-check fails now and step N, which has not run yet, may change that)."""
    if verdict in ("cannot_know", "cannot_tell") and until is not None:
        return Text(f"until step {until}", STATE_STYLE[verdict])
    return state_cell(verdict)


class StepTable(DataTable[str | Text]):
    """Keys: step ids for steps, ``phase:<id>`` for phase headings."""

    def __init__(self, plan: PlanInfo) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, id="steps")
        self.plan = plan
        self.state_width = 12 if plan.mode == "dry-run" else 11  # "already done", "until step 12"
        self.host_width = max([4, *(len(s.host) for s in plan.steps)])
        self.step_width = max([MIN_STEP_WIDTH, *(len(s.id) for s in plan.steps)])
        self.cells: dict[str, dict[str, Text]] = {}
        """What each step row shows now, kept to rebuild the rows when the width changes."""
        for step in plan.steps:
            estimate = span(step.estimate_seconds) if step.estimate_seconds is not None else ""
            self.cells[step.id] = {
                "state": state_cell("pending"),
                "time": Text(f"~{estimate}" if estimate else "", "dim"),
            }

    def on_mount(self) -> None:
        self._build()
        if self.plan.steps:  # start on the first step, not on the first phase heading
            self.move_cursor(row=1)

    def fixed_width(self) -> int:
        """Columns taken by everything but the step id (cell padding and scrollbar included)."""
        columns = (self.state_width, MARKS_WIDTH, self.host_width, TIME_WIDTH)
        return sum(columns) + 2 * CELL_PADDING * (len(columns) + 1) + 2

    def on_resize(self, event: events.Resize) -> None:
        available = self.scrollable_content_region.width or event.size.width
        longest = max([MIN_STEP_WIDTH, *(len(s.id) for s in self.plan.steps)])
        width = max(MIN_STEP_WIDTH, min(longest, available - self.fixed_width()))
        if width != self.step_width:
            self.step_width = width
            key = self.selected_key()
            self._build()
            if key is not None:
                self.move_cursor(row=self.get_row_index(key))

    def _build(self) -> None:
        self.clear(columns=True)
        self.add_column("state", key="state", width=self.state_width)
        self.add_column("!", key="marks", width=MARKS_WIDTH)
        self.add_column("step", key="step", width=self.step_width)
        self.add_column("host", key="host", width=self.host_width)
        self.add_column("time", key="time", width=TIME_WIDTH)
        shown = abbreviate([s.id for s in self.plan.steps], self.step_width)
        phase = None
        for step in self.plan.steps:
            if step.phase_id != phase:
                phase = step.phase_id
                title = Text(step.phase_title, "bold underline", no_wrap=True, overflow="ellipsis")
                self.add_row(Text(""), Text(""), title, Text(""), Text(""), key=PHASE_PREFIX + phase)
            cells = self.cells[step.id]
            self.add_row(
                cells["state"],
                markers(step),
                Text(shown[step.id]),
                Text(step.host, "dim"),
                cells["time"],
                key=step.id,
            )

    def _set(self, step_id: str, column: str, value: Text) -> None:
        self.cells[step_id][column] = value
        self.update_cell(step_id, column, value)

    def set_state(self, step_id: str, state: str) -> None:
        self._set(step_id, "state", state_cell(state))

    def set_verdict(self, step_id: str, verdict: str, until: str | None) -> None:
        ids = [s.id for s in self.plan.steps]
        number = ids.index(until) + 1 if until in ids else None
        self._set(step_id, "state", verdict_cell(verdict, number))

    def set_progress(self, step_id: str, fraction: float | None) -> None:
        self._set(step_id, "time", progress_cell(fraction))

    def set_time(self, step_id: str, text: str, measured: bool) -> None:
        self._set(step_id, "time", Text(text, "" if measured else "dim"))

    def shown_id(self, step_id: str) -> str:
        """The id as the step column shows it now (abbreviated when it does not fit)."""
        return abbreviate([s.id for s in self.plan.steps], self.step_width)[step_id]

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
