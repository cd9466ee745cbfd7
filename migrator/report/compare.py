"""Two runs side by side, step by step: a rehearsal against the real run (or two rehearsals).

What the team wants to know before the window: which steps took longer than in the last
rehearsal, which failed in one run only, which were skipped or done by hand in one run only.
"""

from __future__ import annotations

from dataclasses import dataclass

from migrator.report.change_record import seconds_text, signed, stamp
from migrator.report.document import Bullets, Code, Document, Line, Para, Table, line
from migrator.report.facts import RunFacts, StepFacts


@dataclass(frozen=True)
class StepComparison:
    id: str
    title: str
    state_a: str | None
    state_b: str | None
    took_a: float | None
    took_b: float | None
    difference: float | None
    """``took_b - took_a`` in seconds."""
    attempts_a: int
    attempts_b: int
    notes: tuple[str, ...]


def _failed(s: StepFacts | None) -> bool:
    return s is not None and (s.state == "failed" or s.failed_attempts > 0)


def _notes(a: StepFacts | None, b: StepFacts | None) -> tuple[str, ...]:
    if a is None:
        return ("only in run B",)
    if b is None:
        return ("only in run A",)
    notes = []
    if _failed(a) and not _failed(b):
        notes.append("failed in run A only")
    elif _failed(b) and not _failed(a):
        notes.append("failed in run B only")
    elif _failed(a) and _failed(b):
        notes.append("failed in both runs")
    if a.state != b.state:
        notes.append(f"ended {a.state} in A, {b.state} in B")
    if a.reason != b.reason and (a.reason or b.reason):
        for label, s in (("A", a), ("B", b)):
            if s.reason:
                notes.append(f"{label}: {s.reason}")
    return tuple(notes)


def compare(a: RunFacts, b: RunFacts) -> list[StepComparison]:
    """One row per step of either run: B's order first, then steps only A had."""
    ids = [s.id for s in b.steps] + [s.id for s in a.steps if b.step(s.id) is None]
    rows = []
    for sid in ids:
        sa, sb = a.step(sid), b.step(sid)
        took_a = sa.took if sa is not None else None
        took_b = sb.took if sb is not None else None
        rows.append(
            StepComparison(
                id=sid,
                title=(sb or sa).title if (sb or sa) is not None else sid,  # type: ignore[union-attr]
                state_a=sa.state if sa is not None else None,
                state_b=sb.state if sb is not None else None,
                took_a=took_a,
                took_b=took_b,
                difference=took_b - took_a if took_a is not None and took_b is not None else None,
                attempts_a=sa.attempts if sa is not None else 0,
                attempts_b=sb.attempts if sb is not None else 0,
                notes=_notes(sa, sb),
            )
        )
    return rows


def build_comparison(a: RunFacts, b: RunFacts) -> Document:
    doc = Document(
        title=f"Comparison: run {a.run_id} ({a.mode}) vs run {b.run_id} ({b.mode}) of {b.plan_name}",
        subtitle=b.plan_title,
    )
    runs = doc.section("Runs")
    facts: list[tuple[str, str, str]] = [
        ("Run", f"A: {a.run_id}", f"B: {b.run_id}"),
        ("Mode", a.mode, b.mode),
        ("Inventory", a.inventory, b.inventory),
        ("Operator", a.operator, b.operator),
        ("Status", a.status, b.status),
        ("Started", stamp(a.started_at), stamp(b.started_at)),
        ("Ended", stamp(a.ended_at), stamp(b.ended_at)),
        ("Planned downtime", seconds_text(a.planned_downtime), seconds_text(b.planned_downtime)),
        ("Actual downtime", seconds_text(a.actual_downtime), seconds_text(b.actual_downtime)),
    ]
    runs.add(Table(("", "Run A", "Run B"), tuple((line(k), line(x), line(y)) for k, x, y in facts)))
    if a.plan_fingerprint != b.plan_fingerprint:
        runs.add(
            Para(
                line(
                    "The two runs ran different versions of the plan (fingerprints ",
                    Code(a.plan_fingerprint[:12]),
                    " and ",
                    Code(b.plan_fingerprint[:12]),
                    ").",
                )
            )
        )
    rows = compare(a, b)
    table_rows: list[tuple[Line, ...]] = [
        (
            line(Code(r.id)),
            line(r.title),
            line(r.state_a or "-"),
            line(r.state_b or "-"),
            line(seconds_text(r.took_a)),
            line(seconds_text(r.took_b)),
            line(signed(r.difference)),
            line(f"{r.attempts_a} / {r.attempts_b}"),
            line("; ".join(r.notes)),
        )
        for r in rows
    ]
    doc.section("Step by step").add(
        Table(
            (
                "Step",
                "Title",
                "State A",
                "State B",
                "Took A",
                "Took B",
                "Difference (B-A)",
                "Attempts A / B",
                "Notes",
            ),
            tuple(table_rows),
        )
    )
    differences = doc.section("Differences")
    items = [line(Code(r.id), f": {'; '.join(r.notes)}") for r in rows if r.notes]
    slower = sorted(
        (r for r in rows if r.difference is not None and r.difference >= 1),
        key=lambda r: r.difference or 0,
        reverse=True,
    )
    items += [line(Code(r.id), f" took {signed(r.difference)} longer in run B") for r in slower[:5]]
    differences.add(Bullets(tuple(items)) if items else Para(line("None: both runs went the same way.")))
    return doc
