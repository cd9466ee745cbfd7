"""What a change record says about one run, gathered from the store (and the plan, if found).

Everything is read once into frozen dataclasses; the markdown/HTML document and the JSON
report are built from these facts only. Every text that came from the store or from the
hosts passes through the caller's :class:`~migrator.secrets.Redactor` here, once: values are
never stored (only fingerprints), but output captured before a secret was known to the
redactor could still hold one, and a report is meant to be shared.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from migrator.engine.headline import headline
from migrator.estimates import Estimate, learned, summarize, written
from migrator.plan.model import StepKind, Where, source_lines
from migrator.store.dto import JournalEntry, RunInfo, StepRecord
from migrator.store.durations import measured_durations, pair_attempts

if TYPE_CHECKING:
    from migrator.engine.window import WindowReading
    from migrator.plan.load import LoadedPlan
    from migrator.store.db import Store

DEFAULT_TAIL = 20

# Journal triggers that are not the plain path pending -> ... -> succeeded, in our words.
DEVIATIONS: dict[str, str] = {
    "again": "failed, retried",
    "fail": "failed",
    "skip": "skipped",
    "mark_done": "marked done by hand",
    "retry": "put back to pending",
    "block": "blocked",
    "unblock": "unblocked",
    "crash_found": "found in doubt after a stop",
    "rerun": "re-run after a stop",
    "reconciled": "reconciled after a stop",
    "already_done": "already done (pre-check)",
    "reset": "held back (nothing ran)",
    "roll_back": "rolled back",
}
ATTEMPT_TRIGGERS = frozenset({"again", "fail", "rerun", "crash_found"})
RUN_EVENTS: dict[str, str] = {
    "pause": "run paused",
    "resume": "run resumed",
    "fail": "run stopped on a failure",
    "abort": "run aborted",
}


@dataclass(frozen=True)
class RollbackFacts:
    status: str  # available | irreversible | none
    how: str  # the command, the instructions, or why it cannot be undone
    estimate: int | None
    command: bool = False
    """``how`` is a command (else instructions for a person, or a reason)."""


@dataclass(frozen=True)
class StepFacts:
    id: str
    title: str
    phase: str
    where: str  # before | window | after | "" (plan not found)
    host: str
    kind: str
    state: str
    attempts: int
    failed_attempts: int
    estimate: Estimate
    started_at: datetime | None
    """When the step was first started in this run (its first pre-check)."""
    ended_at: datetime | None
    took: float | None
    """Seconds from ``started_at`` to ``ended_at``: checks, every attempt and retry waits."""
    action: float | None
    """Seconds of the succeeded attempt (action and post-checks): what learned estimates use."""
    summary: str
    reason: str
    markers: tuple[str, ...]
    rollback: RollbackFacts | None
    output_lines: int
    output_tail: tuple[str, ...]
    output_attempt: int
    sources: tuple[str, ...] = ()
    """Where the step comes from (the plan's ``source:``), for the record's reader."""
    commands: tuple[tuple[int, str], ...] = ()
    """``(attempt, command)``: what each attempt ran, as the journal recorded it when the
    attempt started (rendered, secrets masked); not the plan's text."""


@dataclass(frozen=True)
class Deviation:
    at: datetime
    step_id: str | None
    what: str
    attempt: int
    reason: str
    actor: str


@dataclass(frozen=True)
class DecisionFacts:
    at: datetime
    step_id: str | None
    kind: str
    choice: str
    reason: str
    actor: str


@dataclass(frozen=True)
class CheckFacts:
    step_id: str
    stage: str
    attempt: int
    description: str
    passed: bool
    on_fail: str
    observed: str
    expected: str
    message: str
    outcome: str = "holds"  # holds | does_not_hold | cannot_tell


@dataclass(frozen=True)
class EvidenceFacts:
    step_id: str
    title: str
    attempt: int
    at: datetime
    actor: str
    text: str
    checklist: tuple[str, ...]

    @property
    def unticked(self) -> tuple[str, ...]:
        """Checklist items the operator did not tick (the evidence's ``[ ] item`` lines)."""
        return tuple(line[4:] for line in self.text.splitlines() if line.startswith("[ ] "))


@dataclass(frozen=True)
class AmendmentFacts:
    at: datetime
    actor: str
    reason: str
    old_fingerprint: str
    new_fingerprint: str
    added: tuple[str, ...]
    removed: tuple[str, ...]
    changed: tuple[str, ...]


@dataclass(frozen=True)
class ValueFacts:
    step_id: str
    name: str
    secret: bool
    shown: str
    """The value, or for a secret its fingerprint only."""


@dataclass(frozen=True)
class RunFacts:
    run_id: int
    plan_name: str
    plan_title: str
    plan_path: str
    plan_fingerprint: str
    inventory: str
    environment: str
    mode: str
    operator: str
    status: str
    summary: str
    started_at: datetime | None
    ended_at: datetime | None
    window_length: int | None
    window_start: datetime | None
    planned_downtime: int | None
    critical_path: tuple[str, ...]
    actual_downtime: float | None
    steps: tuple[StepFacts, ...]
    deviations: tuple[Deviation, ...]
    decisions: tuple[DecisionFacts, ...]
    checks: tuple[CheckFacts, ...]
    evidence: tuple[EvidenceFacts, ...]
    amendments: tuple[AmendmentFacts, ...]
    values: tuple[ValueFacts, ...]
    tail: int
    notes: tuple[str, ...] = field(default=())
    """What the report could not say (plan file not found, plan changed since)."""
    window_at_start: WindowReading | None = None
    """The window clock (:func:`migrator.engine.window.read`) as the run started: nothing done,
    the estimates of that time; what ``migrator plan`` and the TUI said before the first step."""
    window_at_end: WindowReading | None = None
    """The same clock when the run ended (or now, for a run not ended): stopped there."""

    def step(self, step_id: str) -> StepFacts | None:
        return next((s for s in self.steps if s.id == step_id), None)

    @property
    def rollback_total(self) -> int:
        """Seconds to roll back every succeeded step that has a rollback estimate."""
        return sum(
            s.rollback.estimate or 0
            for s in self.steps
            if s.state == "succeeded" and s.rollback is not None and s.rollback.status == "available"
        )


def aware(at: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; they are UTC."""
    if at is None:
        return None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def collect(
    store: Store,
    run_id: int,
    loaded: LoadedPlan | None,
    *,
    redact: Callable[[str], str] = lambda text: text,
    tail: int = DEFAULT_TAIL,
    notes: tuple[str, ...] = (),
) -> RunFacts:
    """Everything recorded about run ``run_id``; ``loaded`` adds titles, estimates, rollbacks."""
    run = store.run(run_id)
    journal = store.journal(run_id)
    records = store.steps(run_id)
    found_notes = list(notes)
    if loaded is not None and loaded.fingerprint != run.plan_fingerprint:
        found_notes.append(
            f"the plan file changed since this run last accepted it (run: {run.plan_fingerprint[:12]}, "
            f"file: {loaded.fingerprint[:12]}); titles, estimates and rollbacks are from the file"
        )
    estimates = _estimates(store, run.plan_name, run_id, loaded)
    firsts, failures = _first_starts(journal), _failures(journal)
    actions = _last(
        pair_attempts(
            (e.run_id, e.step_id, e.attempt, e.trigger, aware(e.at) or e.at)
            for e in journal
            if e.step_id is not None
            and e.kind == "transition"
            and e.trigger in ("launch", "rerun", "verify_ok")
        )
    )
    outputs = _outputs(store, run_id, redact, tail)
    commands = _commands(journal, redact)
    steps = tuple(
        _step_facts(
            r,
            loaded=loaded,
            estimates=estimates,
            firsts=firsts,
            failures=failures,
            actions=actions,
            outputs=outputs,
            redact=redact,
            commands=commands.get(r.step_id, ()),
        )
        for r in records
    )
    titles = {s.id: s.title for s in steps}
    run_start = next((aware(e.at) for e in journal if e.step_id is None and e.trigger == "start"), None)
    planned, path = _planned(loaded, estimates)
    return RunFacts(
        run_id=run.id,
        plan_name=run.plan_name,
        plan_title=loaded.plan.title if loaded is not None else run.plan_name,
        plan_path=run.plan_path,
        plan_fingerprint=run.plan_fingerprint,
        inventory=run.inventory_name,
        # As recorded when the run started: the plan's own inventory (production) may be all
        # that is left to load once a lab rehearsal's inventory file is gone.
        environment=run.environment or (loaded.inventory.environment.value if loaded is not None else ""),
        mode=run.mode,
        operator=run.operator,
        status=run.status,
        summary=redact(headline(run, records)),
        started_at=aware(run.started_at) or run_start,
        ended_at=aware(run.ended_at),
        window_length=int(loaded.plan.window.length) if loaded is not None and loaded.plan.window else None,
        window_start=loaded.plan.window.start if loaded is not None and loaded.plan.window else None,
        planned_downtime=planned,
        critical_path=path,
        actual_downtime=_actual_downtime(steps),
        steps=steps,
        deviations=_deviations(journal, redact),
        decisions=tuple(
            DecisionFacts(aware(d.at) or d.at, d.step_id, d.kind, redact(d.choice), redact(d.reason), d.actor)
            for d in store.decisions(run_id)
        ),
        checks=tuple(
            CheckFacts(
                c.step_id,
                c.stage,
                c.attempt,
                redact(c.description or c.kind),
                c.passed,
                c.on_fail,
                redact(c.observed),
                redact(c.expected),
                redact(c.message),
                c.outcome,
            )
            for c in store.checks(run_id)
        ),
        evidence=tuple(
            EvidenceFacts(
                e.step_id,
                titles.get(e.step_id, e.step_id),
                e.attempt,
                aware(e.at) or e.at,
                e.actor,
                redact(e.text),
                tuple(redact(i) for i in e.checklist),
            )
            for e in store.evidence(run_id)
        ),
        amendments=tuple(
            AmendmentFacts(
                aware(a.at) or a.at,
                a.actor,
                redact(a.reason),
                a.old_fingerprint,
                a.new_fingerprint,
                tuple(a.added),
                tuple(a.removed),
                tuple(a.changed),
            )
            for a in store.amendments(run_id)
        ),
        values=tuple(
            ValueFacts(
                v.step_id,
                v.name,
                v.secret,
                f"fingerprint {v.fingerprint}" if v.secret else redact(v.value or ""),
            )
            for v in store.values(run_id)
        ),
        tail=tail,
        notes=tuple(found_notes),
        **_window_readings(loaded, estimates, run, records, run_start),
    )


# -- pieces ---------------------------------------------------------------------------------------


def _window_readings(
    loaded: LoadedPlan | None,
    estimates: dict[str, Estimate],
    run: RunInfo,
    records: list[StepRecord],
    run_start: datetime | None,
) -> dict[str, WindowReading | None]:
    """The window figures from the one window arithmetic, as the runner's gate and the TUI
    read them: a live run's window opens at the plan's start, any other at the run's start."""
    window = loaded.plan.window if loaded is not None else None
    if loaded is None or window is None:
        return {}
    from migrator.engine.window import read, rollback_costs

    plan = loaded.plan
    opened = aware(run.started_at) or run_start
    if run.mode == "live" and window.start is not None:
        opened = window.start
    if opened is None:
        return {}
    in_window = [s.id for p in plan.phases if p.where is Where.WINDOW for s in p.steps]
    seconds = {sid: estimates[sid].seconds if sid in estimates else None for sid in loaded.order}
    length, costs = int(window.length), rollback_costs(plan)

    def reading(states: dict[str, str], now: datetime, ended_at: datetime | None) -> WindowReading:
        return read(
            order=list(loaded.order), deps=loaded.deps, in_window=in_window, estimates=seconds,
            states=states, window_length=length, opened=opened, now=now, ended_at=ended_at,
            rollback_cost=costs,
        )  # fmt: skip

    start = reading({}, opened, None)
    ended = aware(run.ended_at)
    end = reading({r.step_id: r.state for r in records}, ended or datetime.now(UTC), ended)
    return {"window_at_start": start, "window_at_end": end}


def _estimates(store: Store, plan_name: str, run_id: int, loaded: LoadedPlan | None) -> dict[str, Estimate]:
    """The estimates as they stood when the run started: written, or learned from earlier runs."""
    if loaded is None:
        return {}
    durations = measured_durations(plan_name, store.url, before_run=run_id)
    return learned(loaded.plan, durations) if durations else written(loaded.plan)


def _planned(loaded: LoadedPlan | None, estimates: dict[str, Estimate]) -> tuple[int | None, tuple[str, ...]]:
    if loaded is None or not any(p.where is Where.WINDOW for p in loaded.plan.phases):
        return None, ()
    summary = summarize(loaded, estimates)
    return summary.downtime_seconds, tuple(summary.critical_path)


def _first_starts(journal: list[JournalEntry]) -> dict[str, datetime]:
    firsts: dict[str, datetime] = {}
    for e in journal:
        if e.step_id is not None and e.kind == "transition" and e.trigger in ("start", "rerun", "launch"):
            firsts.setdefault(e.step_id, aware(e.at) or e.at)
    return firsts


def _failures(journal: list[JournalEntry]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for e in journal:
        if e.step_id is not None and e.kind == "transition" and e.trigger in ("again", "fail"):
            counts[e.step_id] = counts.get(e.step_id, 0) + 1
    return counts


def _commands(
    journal: list[JournalEntry], redact: Callable[[str], str]
) -> dict[str, tuple[tuple[int, str], ...]]:
    """Step id -> ``(attempt, command)`` of each attempt that recorded the command it ran."""
    found: dict[str, list[tuple[int, str]]] = {}
    for e in journal:
        if e.step_id is not None and e.command:
            found.setdefault(e.step_id, []).append((e.attempt, redact(e.command)))
    return {sid: tuple(v) for sid, v in found.items()}


def _last(durations: dict[str, list[float]]) -> dict[str, float]:
    return {sid: values[-1] for sid, values in durations.items() if values}


def _outputs(
    store: Store, run_id: int, redact: Callable[[str], str], tail: int
) -> dict[str, tuple[int, tuple[str, ...], int]]:
    """Step id -> (lines over all attempts, tail of the last attempt with output, that attempt)."""
    lines: dict[str, dict[int, list[str]]] = {}
    for chunk in store.output(run_id):
        lines.setdefault(chunk.step_id, {}).setdefault(chunk.attempt, []).extend(
            _stream_prefix(chunk.stream) + line for line in chunk.lines
        )
    found: dict[str, tuple[int, tuple[str, ...], int]] = {}
    for sid, by_attempt in lines.items():
        last = max(by_attempt)
        kept = by_attempt[last][-tail:] if tail > 0 else []
        total = sum(len(v) for v in by_attempt.values())
        found[sid] = (total, tuple(redact(line) for line in kept), last)
    return found


def _stream_prefix(stream: str) -> str:
    """``stderr: ``, ``rollback: ``, ``rollback stderr: `` (rollback output has its own streams)."""
    words = [w for w in stream.split(":") if w != "stdout"]
    return " ".join(words) + ": " if words else ""


def _rollback(loaded: LoadedPlan | None, step_id: str) -> RollbackFacts | None:
    if loaded is None or step_id not in loaded.order:
        return None
    step = loaded.step(step_id)
    if step.irreversible:
        return RollbackFacts("irreversible", step.irreversible, None)
    undo = step.rollback
    if undo is None or (undo.command is None and undo.instructions is None):
        return RollbackFacts("none", "no rollback in the plan", None)
    if undo.command is not None:
        from migrator.render.words import shell_text

        return RollbackFacts("available", shell_text(undo.command), undo.estimate, command=True)
    return RollbackFacts("available", " ".join((undo.instructions or "").split()), undo.estimate)


def _step_facts(
    record: StepRecord,
    *,
    loaded: LoadedPlan | None,
    estimates: dict[str, Estimate],
    firsts: dict[str, datetime],
    failures: dict[str, int],
    actions: dict[str, float],
    outputs: dict[str, tuple[int, tuple[str, ...], int]],
    redact: Callable[[str], str],
    commands: tuple[tuple[int, str], ...] = (),
) -> StepFacts:
    from migrator.render.words import markers_of

    sid = record.step_id
    step = loaded.step(sid) if loaded is not None and sid in loaded.order else None
    phase = loaded.phase(sid) if step is not None and loaded is not None else None
    started, ended = firsts.get(sid), aware(record.ended_at)
    took = (ended - started).total_seconds() if started is not None and ended is not None else None
    total, tail, attempt = outputs.get(sid, (0, (), 0))
    return StepFacts(
        id=sid,
        title=step.title if step is not None else sid,
        phase=phase.title if phase is not None else "",
        where=phase.where.value if phase is not None else "",
        host=step.host if step is not None else "",
        kind=step.kind.value if step is not None else "",
        state=record.state,
        attempts=record.attempt,
        failed_attempts=failures.get(sid, 0),
        estimate=estimates.get(sid, Estimate(None)),
        started_at=started,
        ended_at=ended,
        took=max(took, 0.0) if took is not None else None,
        action=actions.get(sid),
        summary=redact(record.summary),
        reason=redact(record.reason),
        markers=tuple(m.key for m in markers_of(step)) if step is not None else (),
        rollback=_rollback(loaded, sid),
        output_lines=total,
        output_tail=tail,
        output_attempt=attempt,
        sources=tuple(source_lines(step)) if step is not None else (),
        commands=commands,
    )


def _actual_downtime(steps: tuple[StepFacts, ...]) -> float | None:
    """From the first start to the last end of the in-window steps that ran."""
    ran = [s for s in steps if s.where == Where.WINDOW.value and s.started_at is not None]
    ends = [s.ended_at for s in ran if s.ended_at is not None]
    if not ran or not ends:
        return None
    first = min(s.started_at for s in ran if s.started_at is not None)
    return max((max(ends) - first).total_seconds(), 0.0)


def _deviations(journal: list[JournalEntry], redact: Callable[[str], str]) -> tuple[Deviation, ...]:
    found = []
    for e in journal:
        at = aware(e.at) or e.at
        if e.kind == "note":
            found.append(
                Deviation(at, e.step_id, e.trigger.replace("_", " "), e.attempt, redact(e.reason), e.actor)
            )
        elif e.step_id is None and e.trigger in RUN_EVENTS:
            reason = "" if e.reason == e.trigger + "d" else e.reason  # "resume" says "resumed"
            found.append(Deviation(at, None, RUN_EVENTS[e.trigger], 0, redact(reason), e.actor))
        elif e.step_id is not None and e.trigger in DEVIATIONS:
            # Only these moves are about one attempt; the reason repeats "attempt N failed: ".
            attempt = e.attempt if e.trigger in ATTEMPT_TRIGGERS else 0
            reason = e.reason.removeprefix(f"attempt {e.attempt} failed: ")
            found.append(Deviation(at, e.step_id, DEVIATIONS[e.trigger], attempt, redact(reason), e.actor))
    return tuple(found)


def is_manual(step: StepFacts) -> bool:
    return step.kind == StepKind.MANUAL.value
