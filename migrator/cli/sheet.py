"""The preflight (and dry-run) sheet as text lines: one row per step, a summary by phase, the
failing halt checks, and GO / NO-GO. Pure: it only lays out a :class:`CheckReport`; every
verdict and outcome comes from the engine (:mod:`migrator.engine.dryrun`)."""

from __future__ import annotations

from migrator.cli.printer import VERDICT_STYLE, Piece
from migrator.engine.dryrun import CheckReport

MAX_CELL = 90


def _cell(text: str, width: int = MAX_CELL) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def sheet_lines(report: CheckReport, *, title: str) -> list[list[Piece]]:
    """The sheet, line by line, as ``(style, text)`` pieces for :meth:`Printer.line`."""
    rows = report.verdicts
    wid = max([len(v.step_id) for v in rows] + [4])
    host = max([len(v.host) for v in rows] + [4])
    lines: list[list[Piece]] = [[("bold", title)]]
    lines.append([("bold", f"{'#':>3}  {'step':<{wid}}  {'host':<{host}}  {'verdict':<12}  failing checks")])
    for n, v in enumerate(rows, 1):
        first = v.failing[0].text() if v.failing else ""
        more = f" (+{len(v.failing) - 1} more)" if len(v.failing) > 1 else ""
        until = f" [until {v.until}]" if v.until else ""
        lines.append(
            [
                ("", f"{n:>3}  {v.step_id:<{wid}}  {v.host:<{host}}  "),
                (VERDICT_STYLE.get(v.verdict, ""), f"{v.verdict:<12}"),
                ("", f"  {_cell(first)}{more}{until}".rstrip()),
            ]
        )
    lines.append([("bold", "by phase")])
    for phase, counts in report.by_phase().items():
        text = ", ".join(f"{n} {k}" for k, n in counts.items()) or "no steps"
        lines.append([("", f"  {phase}: {text}")])
    failing = report.failing
    if failing:
        not_hold = sum(f.outcome == "does_not_hold" for _, f in failing)
        lines.append(
            [("bold", f"failing halt checks: {not_hold} do not hold, {len(failing) - not_hold} cannot tell")]
        )
        lines.extend([("", f"  {v.step_id} ({v.host}) {f.text()}")] for v, f in failing)
    return lines
