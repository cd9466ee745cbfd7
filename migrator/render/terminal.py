"""`migrator plan NAME` in the terminal: the whole plan on one screen width, phase by phase.

Fits 100 columns and stays readable at 80: the action column gives way first (ellipsis),
ids and estimates never wrap. Every piece of plan text goes through :class:`rich.text.Text`,
never markup strings, so a command like ``echo [ok]`` prints as written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import TYPE_CHECKING

from rich import box
from rich.cells import cell_len, set_cell_size
from rich.control import strip_control_codes
from rich.text import Text

from migrator.estimates import Estimate, WindowSummary, summarize
from migrator.plan.bulk import gc_paused
from migrator.plan.model import Phase, Where
from migrator.render.words import (
    MARKERS,
    Marker,
    action_line,
    duration,
    estimates_or_written,
    markers_of,
    plural,
    slack_text,
)

if TYPE_CHECKING:
    from rich.console import Console

    from migrator.plan.load import LoadedPlan

WHERE_STYLE = {Where.BEFORE: "cyan", Where.WINDOW: "bold red", Where.AFTER: "green"}
MARKER_STYLE = {
    "destructive": "bold red",
    "manual": "yellow",
    "irreversible": "red",
    "point_of_no_return": "magenta",
}
ASCII_SIMPLE_HEAD = box.Box("    \n    \n -- \n    \n    \n    \n    \n    \n", ascii=True)
"""rich.box.SIMPLE_HEAD drawn with '-': rich's own ASCII fallback adds '|' between columns."""
SHORT_PATH = 5
"""Critical paths up to this many steps are listed in the totals."""


ELLIPSIS = "\u2026"
_ELLIPSIS_CELLS = cell_len(ELLIPSIS)


def unicode_ok(console: Console) -> bool:
    """Whether the console can print the marker symbols (else plain letters)."""
    return console.encoding.lower().replace("-", "").startswith("utf")


def cells(text: str) -> int:
    """``rich.cells.cell_len``, without its per-character table walk for printable ASCII (one
    cell per character), also when :func:`fit` has ended it with an ellipsis: a 10,000-step
    plan measures ~100,000 cells. (Widths add up character by character unless a zero-width
    joiner or variation selector follows, and neither is ASCII or an ellipsis.)"""
    if text.isascii() and text.isprintable():
        return len(text)
    head = text.removesuffix(ELLIPSIS)
    if len(head) < len(text) and head.isascii() and head.isprintable():
        return len(head) + _ELLIPSIS_CELLS
    return cell_len(text)


def fit(text: str, width: int, *, unicode: bool) -> str:
    """``text`` cut to ``width`` cells with an ellipsis (three dots on a console without unicode)."""
    if cells(text) <= width:
        return text
    dots = ELLIPSIS if unicode else "..."
    return set_cell_size(text, max(0, width - len(dots))) + dots


def marker_plain(markers: list[Marker], *, unicode: bool) -> str:
    """What :func:`marker_text` shows, without its styles."""
    return "".join(marker.symbol if unicode else marker.letter for marker in markers)


def marker_text(markers: list[Marker], *, unicode: bool) -> Text:
    text = Text()
    for marker in markers:
        text.append(marker.symbol if unicode else marker.letter, style=MARKER_STYLE[marker.key])
    return text


def render_terminal(
    loaded: LoadedPlan,
    console: Console,
    *,
    estimates: Mapping[str, Estimate] | None = None,
    step_id: str | None = None,
) -> None:
    """Print the plan overview, or with ``step_id`` one step in full."""
    with gc_paused():
        _render(loaded, console, estimates, step_id)


def _render(
    loaded: LoadedPlan, console: Console, estimates: Mapping[str, Estimate] | None, step_id: str | None
) -> None:
    chosen = estimates_or_written(loaded.plan, estimates)
    if step_id is not None:
        from migrator.render.step_view import render_step

        render_step(loaded, console, step_id, chosen)
        return
    unicode = unicode_ok(console)
    summary = summarize(loaded, chosen)
    console.print(_header(loaded))
    width = console.width
    widths = _widths(loaded, chosen, width, unicode=unicode)
    plain = console.color_system is None and not console.record
    number = 0
    for phase in loaded.plan.phases:
        console.print()
        console.print(_phase_title(phase, summary))
        if not phase.steps:
            console.print(Text("  (no steps)", style="dim"))
            continue
        text = _plain_table(phase, chosen, number, widths, width, unicode=unicode) if plain else None
        if text is not None:
            console.file.write(text)
        else:
            console.print(_phase_table(phase, chosen, number, widths, width, unicode=unicode))
        number += len(phase.steps)
    console.print()
    console.print(_legend(chosen, unicode=unicode))
    console.print()
    _totals(console, loaded, summary)


def _header(loaded: LoadedPlan) -> Text:
    plan, inventory = loaded.plan, loaded.inventory
    text = Text(plan.title, style="bold")
    text.append(f"  (plan {plan.name}, {loaded.path})", style="dim")
    text.append("\ninventory ")
    text.append(inventory.name, style="bold")
    environment = inventory.environment.value
    text.append(f" ({environment})", style="bold red" if environment == "production" else "bold green")
    text.append("\nwindow ")
    if plan.window is None:
        text.append("not set", style="yellow")
    else:
        start = plan.window.start.strftime("%Y-%m-%d %H:%M %z") if plan.window.start else "start not set"
        text.append(f"{start}, {duration(plan.window.length)}", style="bold")
        if plan.window.start:
            end = plan.window.start + timedelta(seconds=plan.window.length)
            text.append(f" (ends {end.strftime('%Y-%m-%d %H:%M')})")
    steps = plan.steps()
    text.append(f"\n{len(steps)} steps in {len(plan.phases)} phases")
    return text


def _phase_title(phase: Phase, summary: WindowSummary) -> Text:
    text = Text(f"{phase.title} ", style="bold")
    text.append(f"[{phase.where.value}]", style=WHERE_STYLE[phase.where])
    text.append(f"  {phase.id}, {plural(len(phase.steps), 'step')}, ")
    text.append(f"{duration(summary.per_phase.get(phase.id, 0))} of work", style="dim")
    return text


@dataclass(frozen=True)
class _Widths:
    """Column widths shared by every phase table, so the phases line up."""

    number: int
    id: int
    host: int
    kind: int
    action: int
    checks: int
    marks: int
    estimate: int


COLUMN_GAP = 2
"""Cells between two columns: the box's blank divider and a right padding of one."""
MIN_ACTION = 12
MAX_HOST = 14
WIDE = 100


def _widths(loaded: LoadedPlan, estimates: Mapping[str, Estimate], width: int, *, unicode: bool) -> _Widths:
    steps = loaded.plan.steps()
    fixed = _Widths(
        number=len(str(len(steps))),
        id=max([2, *(len(s.id) for s in steps)]),
        host=min(MAX_HOST, max([4, *(len(s.host) for s in steps)])),
        kind=max([4, *(len(s.kind.value) for s in steps)]),
        action=0,
        checks=len(_checks_header(width)),
        marks=max([1, *(cells(marker_plain(markers_of(s), unicode=unicode)) for s in steps)]),
        estimate=max([3, *(len(estimates.get(s.id, Estimate(None)).short()) for s in steps)]),
    )
    others = fixed.number + fixed.id + fixed.host + fixed.kind + fixed.checks + fixed.marks + fixed.estimate
    action = width - others - COLUMN_GAP * 7
    if action >= MIN_ACTION:
        return replace(fixed, action=action)
    # Too narrow: long ids fold onto a second line rather than the action vanishing.
    id_width = max(8, fixed.id - (MIN_ACTION - action))
    return replace(fixed, id=id_width, action=max(MIN_ACTION, action + fixed.id - id_width))


def _checks_header(width: int) -> str:
    """Below 100 columns every cell counts: the legend explains the short header."""
    return "pre/post" if width >= WIDE else "p/p"


_Columns = list[tuple[str, int, str]]  # title, width, justify


def _columns(widths: _Widths, width: int) -> _Columns:
    return [
        ("#", widths.number, "right"),
        ("id", widths.id, "left"),
        ("host", widths.host, "left"),
        ("kind", widths.kind, "left"),
        ("action", widths.action, "left"),
        (_checks_header(width), widths.checks, "center"),
        ("!", widths.marks, "left"),
        ("est", widths.estimate, "right"),
    ]


def _id_lines(step_id: str, width: int) -> list[str]:
    """A long id folds onto its own lines (narrow consoles only)."""
    return [step_id[i : i + width] for i in range(0, len(step_id), width)] or [""]


def _plain_table(
    phase: Phase, estimates: Mapping[str, Estimate], first: int, widths: _Widths, width: int, *, unicode: bool
) -> str | None:
    """``_phase_table(...).plain`` and a newline: what rich prints for it when the console has
    no colours, is not recording and every line fits (``None`` otherwise: print the Text).

    Through rich, a 10,000-step table cost ~1.5 s of Text building, splitting, wrapping and
    segmenting that changed nothing. Every cell is padded or cut to exactly its column's
    width, so each line is at most as wide as the rule under the titles: the table fits when
    the rule does (and the pieces of a cell that holds a line break fit), with no tab to expand.
    """
    columns = _columns(widths, width)
    total = sum(w for _, w, _ in columns) + COLUMN_GAP * 7
    if total > width:
        return None
    gap = " " * COLUMN_GAP
    lines = [_plain_row([title for title, _, _ in columns], columns, gap)]
    lines.append(("\u2500" if unicode else "-") * total)
    for offset, step in enumerate(phase.steps, start=1):
        estimate = estimates.get(step.id, Estimate(None))
        ids = _id_lines(step.id, widths.id)
        row = [
            str(first + offset),
            ids[0],
            fit(step.host, widths.host, unicode=unicode),
            step.kind.value,
            fit(action_line(step), widths.action, unicode=unicode),
            f"{len(step.done_when) + len(step.pre)}/{len(step.post)}",
            marker_plain(markers_of(step), unicode=unicode),
            estimate.short(),
        ]
        lines.append(_plain_row(row, columns, gap))
        for more in ids[1:]:
            blank = [""] * len(columns)
            blank[1] = more
            lines.append(_plain_row(blank, columns, gap))
    text = "\n".join(lines)
    if "\t" in text:
        return None
    if text.count("\n") != len(lines) - 1 and any(cells(line) > width for line in text.split("\n")):
        return None  # a cell with a line break (a title, say): its pieces are measured apart
    return text + "\n"


def _plain_row(texts: list[str], columns: _Columns, gap: str) -> str:
    """:func:`_row` without styles: the same padding, cutting and stripping, on plain text."""
    parts = []
    for given, (_, size, justify) in zip(texts, columns, strict=True):
        cell = strip_control_codes(given)  # as Text(given) does
        room = size - cells(cell)
        if room < 0:
            cell = set_cell_size(cell, size)  # Text.truncate without an overflow method
            room = 0
        left = room if justify == "right" else room // 2 if justify == "center" else 0
        parts.append(" " * left + cell + " " * (room - left))
    return gap.join(parts).rstrip()


def _phase_table(
    phase: Phase, estimates: Mapping[str, Estimate], first: int, widths: _Widths, width: int, *, unicode: bool
) -> Text:
    """The phase's steps as fixed-width rows. Written by hand rather than with rich's Table:
    the widths are known already, and a Table costs ~1 ms a row, which `migrator plan`'s
    cold-start budget (0.3 s) cannot afford on a 70-step plan."""
    columns = _columns(widths, width)
    gap = " " * COLUMN_GAP
    out = Text()
    out.append_text(_row([Text(title, style="bold") for title, _, _ in columns], columns, gap))
    out.append("\n" + ("\u2500" if unicode else "-") * (sum(w for _, w, _ in columns) + COLUMN_GAP * 7))
    for offset, step in enumerate(phase.steps, start=1):
        estimate = estimates.get(step.id, Estimate(None))
        ids = _id_lines(step.id, widths.id)
        row = [
            Text(str(first + offset), style="dim"),
            Text(ids[0], style="bold"),
            Text(fit(step.host, widths.host, unicode=unicode)),
            Text(step.kind.value),
            Text(fit(action_line(step), widths.action, unicode=unicode)),
            Text(f"{len(step.done_when) + len(step.pre)}/{len(step.post)}"),
            marker_text(markers_of(step), unicode=unicode),
            Text(estimate.short(), style="yellow" if estimate.seconds is None else ""),
        ]
        out.append("\n")
        out.append_text(_row(row, columns, gap))
        for more in ids[1:]:
            blank = [Text() for _ in columns]
            blank[1] = Text(more, style="bold")
            out.append("\n")
            out.append_text(_row(blank, columns, gap))
    return out


def _row(cells: list[Text], columns: _Columns, gap: str) -> Text:
    line = Text()
    for i, (given, (_, size, justify)) in enumerate(zip(cells, columns, strict=True)):
        if i:
            line.append(gap)
        cell = given
        room = size - cell.cell_len
        if room < 0:
            cell = given.copy()
            cell.truncate(size)
            room = 0
        left = room if justify == "right" else room // 2 if justify == "center" else 0
        line.append(" " * left)
        line.append_text(cell)
        line.append(" " * (room - left))
    line.rstrip()
    return line


def _legend(estimates: Mapping[str, Estimate], *, unicode: bool) -> Text:
    text = Text("legend: ", style="dim")
    for i, marker in enumerate(MARKERS):
        if i:
            text.append("  ")
        text.append(marker.symbol if unicode else marker.letter, style=MARKER_STYLE[marker.key])
        text.append(" " + marker.meaning.split(":")[0], style="dim")
    text.append("\n        pre/post (p/p): checks before (done_when, pre) and after", style="dim")
    if any(e.measured for e in estimates.values()):
        text.append("; est*: measured in earlier runs (median)", style="dim")
    return text


def _totals(console: Console, loaded: LoadedPlan, summary: WindowSummary) -> None:
    rows: list[tuple[Text, Text]] = []
    phases = ", ".join(f"{p.id} {duration(summary.per_phase.get(p.id, 0))}" for p in loaded.plan.phases)
    rows.append((Text("estimates"), Text(f"{phases}; total {duration(summary.total_seconds)}")))
    downtime = Text(duration(summary.downtime_seconds), style="bold")
    downtime.append(" planned (critical path through the window", style="")
    if summary.critical_path and len(summary.critical_path) <= SHORT_PATH:
        downtime.append(": " + " > ".join(summary.critical_path))
    elif summary.critical_path:
        downtime.append(f": {len(summary.critical_path)} steps, {summary.critical_path[0]} ... "
                        f"{summary.critical_path[-1]}")
    downtime.append(")")
    rows.append((Text("downtime"), downtime))
    if summary.window_seconds is not None and summary.slack_seconds is not None:
        window = Text(f"{duration(summary.window_seconds)}, ")
        window.append(slack_text(summary), style="bold red" if summary.slack_seconds < 0 else "green")
    else:
        window = Text(slack_text(summary), style="yellow")
    rows.append((Text("window"), window))
    for i, warning in enumerate(_warnings(loaded, summary)):
        rows.append((Text("warnings" if i == 0 else "", style="yellow"), Text(warning, style="yellow")))
    label = max(label.cell_len for label, _ in rows) + 2
    for name, value in rows:
        # the value folds under itself, not under the label
        lines = value.wrap(console, max(20, console.width - label))
        for i, line in enumerate(lines):
            head = name.copy() if i == 0 else Text()
            head.stylize("bold", 0, len(head))
            head.pad_right(label - head.cell_len)
            console.print(head + line, soft_wrap=True)


def _warnings(loaded: LoadedPlan, summary: WindowSummary) -> list[str]:
    found = []
    if summary.unestimated:
        found.append(
            f"{len(summary.unestimated)} in-window step(s) without an estimate, counted as 0: "
            + ", ".join(summary.unestimated)
        )
    found += [str(problem) for problem in loaded.warnings]
    return found
