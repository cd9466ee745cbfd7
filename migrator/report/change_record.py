"""The change record of one run, in the shape of the team's post-mortem reports.

The reports in openfoodfacts-infrastructure/docs/reports say what was planned, what was done
when, what went wrong and how it was fixed, with the exact commands. This document does the
same from the store: a summary, the planned vs actual timeline, every deviation with its
reason, the operator's decisions and evidence, plan amendments, checks with what was observed,
the tail of each step's output (and the command for the full log), and whether what is done
can still be rolled back.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo

from migrator.engine.window import WindowReading, clock_time
from migrator.estimates import Estimate
from migrator.plan.durations import format_duration
from migrator.report.document import Bullets, Code, CodeBlock, Document, Heading, Line, Para, Table, line
from migrator.report.facts import RunFacts, StepFacts

SECTIONS = (
    "Summary",
    "Timeline: planned vs actual",
    "Deviations, retries, skips and mark-dones",
    "Operator decisions",
    "Manual steps: evidence",
    "Plan amendments",
    "Checks",
    "Values produced",
    "Output",
    "Rollback readiness",
    "Sources",
)


def seconds_text(seconds: float | None) -> str:
    return "-" if seconds is None else format_duration(seconds)


def signed(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if abs(seconds) < 1:
        return "±0s"
    return ("+" if seconds > 0 else "-") + format_duration(abs(seconds))


def estimate_text(estimate: Estimate) -> str:
    """Every estimate says where it comes from: written in the plan, or measured."""
    if estimate.seconds is None:
        return "?"
    if estimate.measured:
        return f"{format_duration(estimate.seconds)} (measured, n={estimate.count})"
    return f"{format_duration(estimate.seconds)} (written)"


def when(at: datetime | None, *, day: datetime | None = None) -> str:
    """``03:05:22``, with the date when it is not the day of ``day`` (the run's start)."""
    if at is None:
        return "-"
    if day is not None and at.date() == day.date():
        return at.strftime("%H:%M:%S")
    return at.strftime("%Y-%m-%d %H:%M:%S")


def stamp(at: datetime | None) -> str:
    """In UTC, whatever zone ``at`` carries (a plan's window start may carry its own)."""
    if at is None:
        return "-"
    return (at.astimezone(UTC) if at.tzinfo is not None else at).strftime("%Y-%m-%d %H:%M:%S UTC")


def zoned(at: datetime) -> str:
    """A time written with a zone (the plan's window start) in that zone, and in UTC."""
    offset = at.utcoffset()
    if offset is None or not offset:
        return stamp(at)
    z = at.strftime("%z")
    return f"{at:%Y-%m-%d %H:%M} {z[:3]}:{z[3:]} ({stamp(at)})"


def window_figures(r: WindowReading, zone: tzinfo | None) -> str:
    """One reading of the window clock (engine.window.read), as the TUI's clock words it."""
    slack = "-" if r.slack is None else signed(r.slack)
    left = "-" if r.time_left is None else signed(r.time_left).lstrip("+")
    unknown = f" (+{len(r.unestimated)} step(s) without an estimate)" if r.unestimated else ""
    return (
        f"elapsed {format_duration(r.elapsed)}, window left {left}, "
        f"in-window work left {format_duration(r.work_left)}{unknown}, "
        f"ETA {clock_time(r.eta, now=r.at, zone=zone)}, slack {slack}"
    )


def log_command(run_id: int, step_id: str) -> str:
    return f"migrator log {run_id} --step {step_id}"


def build(facts: RunFacts) -> Document:
    doc = Document(
        title=f"Change record: run {facts.run_id} of {facts.plan_name} ({facts.mode})",
        subtitle=facts.plan_title,
    )
    _summary(doc, facts)
    _timeline(doc, facts)
    _deviations(doc, facts)
    _decisions(doc, facts)
    _evidence(doc, facts)
    _amendments(doc, facts)
    _checks(doc, facts)
    _values(doc, facts)
    _output(doc, facts)
    _rollback(doc, facts)
    _sources(doc, facts)
    if facts.notes:
        doc.section("Notes").add(Bullets(tuple(line(n) for n in facts.notes)))
    return doc


def _summary(doc: Document, f: RunFacts) -> None:
    counts: dict[str, int] = {}
    for s in f.steps:
        counts[s.state] = counts.get(s.state, 0) + 1
    planned = seconds_text(f.planned_downtime) if f.planned_downtime is not None else "no window phase"
    actual = seconds_text(f.actual_downtime)
    gap = ""
    if f.planned_downtime is not None and f.actual_downtime is not None:
        gap = f" ({signed(f.actual_downtime - f.planned_downtime)} against plan)"
    window = "not set"
    if f.window_length is not None:
        start = zoned(f.window_start) if f.window_start is not None else "the run's start"
        window = f"{format_duration(f.window_length)} from {start}"
    env = f" ({f.environment})" if f.environment else ""
    zone = f.window_start.tzinfo if f.window_start is not None else None
    rows: list[tuple[str, Line]] = [
        (
            "Plan",
            line(
                f"{f.plan_name}: {f.plan_title} (",
                Code(f.plan_path),
                ", fingerprint ",
                Code(f.plan_fingerprint[:12]),
                ")",
            ),
        ),
        ("Inventory", line(f"{f.inventory}{env}")),
        ("Mode", line(f.mode)),
        ("Operator", line(f.operator)),
        ("Started", line(stamp(f.started_at))),
        ("Ended", line(stamp(f.ended_at) if f.ended_at else f"not ended ({f.status})")),
        ("Status", line(f"{f.status}: {f.summary}" if f.summary else f.status)),
        ("Steps", line(", ".join(f"{n} {state}" for state, n in sorted(counts.items())) or "none")),
        ("Window", line(window)),
        *(
            (title, line(window_figures(r, zone)))
            for title, r in (
                ("Window at the start", f.window_at_start),
                ("Window at the end", f.window_at_end),
            )
            if r is not None
        ),
        ("Downtime", line(f"planned {planned}, actual {actual}{gap}")),
    ]
    if f.critical_path:
        rows.append(("Critical path", line(" → ".join(f.critical_path))))
    section = doc.section(SECTIONS[0])
    section.add(Table(("", ""), tuple((line(k), v) for k, v in rows)))


def _timeline(doc: Document, f: RunFacts) -> None:
    section = doc.section(SECTIONS[1])
    rows = []
    for number, s in enumerate(f.steps, start=1):
        diff = (
            signed(s.took - s.estimate.seconds)
            if s.took is not None and s.estimate.seconds is not None
            else ""
        )
        rows.append(
            (
                line(str(number)),
                line(Code(s.id)),
                line(s.title),
                line(s.where or "-"),
                line(s.state),
                line(estimate_text(s.estimate)),
                line(seconds_text(s.took)),
                line(diff),
                line(when(s.started_at, day=f.started_at)),
                line(when(s.ended_at, day=f.started_at)),
                line(str(s.attempts)),
            )
        )
    section.add(
        Table(
            (
                "#",
                "Step",
                "Title",
                "Phase",
                "State",
                "Estimate",
                "Took",
                "Difference",
                "Started",
                "Ended",
                "Attempts",
            ),
            tuple(rows),
        )
    )
    section.add(
        Para(
            line(
                "Took: from the step's first pre-check to its end, retries included. Estimates are "
                "written in the plan, or measured: the median of the step's succeeded attempts in "
                "earlier runs (n of them)."
            )
        )
    )


def _deviations(doc: Document, f: RunFacts) -> None:
    section = doc.section(SECTIONS[2])
    if not f.deviations:
        section.add(Para(line("None: every step ran as planned.")))
        return
    items = []
    for d in f.deviations:
        who = f" ({d.actor})" if d.actor and d.actor != f.operator else ""
        attempt = f" attempt {d.attempt}" if d.attempt else ""
        reason = f": {d.reason}" if d.reason else ""
        if d.step_id is None:
            items.append(line(f"{when(d.at, day=f.started_at)} {d.what}{reason}{who}"))
        else:
            items.append(
                line(f"{when(d.at, day=f.started_at)} ", Code(d.step_id), f"{attempt} {d.what}{reason}{who}")
            )
    section.add(Bullets(tuple(items)))
    marked = [s for s in f.steps if s.reason and s.state in ("skipped", "succeeded", "blocked")]
    if marked:
        section.add(Para(line("Reasons on record:")))
        section.add(Bullets(tuple(line(Code(s.id), f" {s.state}: {s.reason}") for s in marked)))


def _decisions(doc: Document, f: RunFacts) -> None:
    section = doc.section(SECTIONS[3])
    if not f.decisions:
        section.add(Para(line("None recorded.")))
        return
    rows = tuple(
        (
            line(when(d.at, day=f.started_at)),
            line(Code(d.step_id)) if d.step_id else line("run"),
            line(d.kind.replace("_", " ")),
            line(d.choice),
            line(d.reason or "-"),
            line(d.actor),
        )
        for d in f.decisions
    )
    section.add(Table(("Time", "Step", "Decision", "Choice", "Reason", "By"), rows))


def _evidence(doc: Document, f: RunFacts) -> None:
    section = doc.section(SECTIONS[4])
    if not f.evidence:
        section.add(Para(line("No manual step ran.")))
        return
    for e in f.evidence:
        section.add(Heading(line(Code(e.step_id), f" {e.title} (attempt {e.attempt})")))
        if e.unticked:  # a failed checklist was recorded too: it confirms nothing
            missing = "; ".join(e.unticked)
            section.add(
                Para(line(f"NOT confirmed: {missing} left unticked; recorded by {e.actor} at {stamp(e.at)}."))
            )
        else:
            section.add(Para(line(f"Confirmed by {e.actor} at {stamp(e.at)}.")))
        section.add(CodeBlock(e.text or "(no evidence text)"))


def _amendments(doc: Document, f: RunFacts) -> None:
    section = doc.section(SECTIONS[5])
    if not f.amendments:
        section.add(Para(line("None: the plan did not change during the run.")))
        return
    items = []
    for a in f.amendments:
        parts = [
            f"{label}: {', '.join(ids)}"
            for label, ids in (("added", a.added), ("removed", a.removed), ("changed", a.changed))
            if ids
        ]
        items.append(
            line(
                f"{stamp(a.at)} by {a.actor}: {a.reason}. {'; '.join(parts) or 'plan-level fields changed'}. "
                "Fingerprint ",
                Code(a.old_fingerprint[:12]),
                " → ",
                Code(a.new_fingerprint[:12]),
                ".",
            )
        )
    section.add(Bullets(tuple(items)))


def _checks(doc: Document, f: RunFacts) -> None:
    section = doc.section(SECTIONS[6])
    if not f.checks:
        section.add(Para(line("No check ran.")))
        return
    rows = tuple(
        (
            line(Code(c.step_id)),
            line(c.stage),
            line(str(c.attempt)),
            line(c.description),
            line(_check_result(c.outcome, c.on_fail)),
            line(c.observed or "-"),
            line(c.expected or "-"),
            line(c.message or "-"),
        )
        for c in f.checks
    )
    section.add(
        Table(("Step", "Stage", "Attempt", "Check", "Result", "Observed", "Expected", "Message"), rows)
    )


def _values(doc: Document, f: RunFacts) -> None:
    section = doc.section(SECTIONS[7])
    if not f.values:
        section.add(Para(line("No step produced a named value.")))
        return
    rows = tuple(
        (line(Code(v.step_id)), line(v.name), line("secret: " if v.secret else "", Code(v.shown)))
        for v in f.values
    )
    section.add(Table(("Step", "Name", "Value"), rows))
    section.add(Para(line("Secret values are never stored: only their fingerprint is shown.")))


def _output(doc: Document, f: RunFacts) -> None:
    section = doc.section(SECTIONS[8])
    shown = [s for s in f.steps if s.output_lines or s.commands]
    if not shown:
        section.add(Para(line("No step ran a command or wrote any output.")))
        return
    for s in shown:
        of = f", last {len(s.output_tail)} of attempt {s.output_attempt}" if s.output_tail else ""
        section.add(Heading(line(Code(s.id), f" {s.title} ({s.output_lines} line(s){of})")))
        # What each attempt ran (rendered when it started, secrets masked), not the plan's text.
        last = None
        for attempt, command in s.commands:
            if command != last:
                section.add(Para(line(f"Attempt {attempt} ran:")))
                section.add(CodeBlock(command.rstrip("\n")))
            last = command
        if s.output_tail:
            section.add(CodeBlock("\n".join(s.output_tail)))
        section.add(Para(line("Full log: ", Code(log_command(f.run_id, s.id)))))


def _rollback(doc: Document, f: RunFacts) -> None:
    section = doc.section(SECTIONS[9])
    undone = [s.id for s in f.steps if s.state == "rolled_back"]
    if undone:
        section.add(Para(line(f"Rolled back during the run: {', '.join(undone)}.")))
    done = [s for s in f.steps if s.state == "succeeded"]
    if not done:
        section.add(Para(line("Nothing is done: nothing to roll back.")))
        return
    rows = tuple(_rollback_row(s) for s in reversed(done))
    section.add(Table(("Step", "Rollback", "Estimate", "How / why not"), rows))
    irreversible = [s.id for s in done if s.rollback is not None and s.rollback.status == "irreversible"]
    text = (
        f"Rolling back everything done, newest first: {format_duration(f.rollback_total)} by the estimates."
    )
    if irreversible:
        text += f" Not undoable: {', '.join(irreversible)}."
    section.add(Para(line(text)))


def _sources(doc: Document, f: RunFacts) -> None:
    """Where each step came from (the team's repository, or our own addition and why)."""
    section = doc.section(SECTIONS[10])
    rows = tuple(
        (line(Code(s.id)), line("; ".join(s.sources) if s.sources else "none given")) for s in f.steps
    )
    if rows:
        section.add(Table(("Step", "Source"), rows))


def _rollback_row(s: StepFacts) -> tuple[Line, ...]:
    r = s.rollback
    if r is None:
        return (line(Code(s.id)), line("unknown (plan not found)"), line("-"), line("-"))
    label = {"available": "available", "irreversible": "irreversible", "none": "none defined"}[r.status]
    how: Line = line(Code(r.how)) if r.command else line(r.how)
    return (
        line(Code(s.id)),
        line(label),
        line(seconds_text(r.estimate) if r.estimate is not None else "-"),
        how,
    )


def _check_result(outcome: str, on_fail: str) -> str:
    """pass, FAIL, or CANNOT TELL (the probe gave no answer; the message says why)."""
    if outcome == "holds":
        return "pass"
    word = "CANNOT TELL" if outcome == "cannot_tell" else "FAIL"
    return f"{word} (on fail: {on_fail})"
