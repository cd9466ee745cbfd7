"""Modes that do not lie: dry-run, preflight and verify run checks only, never an action.

Dry-run classifies each step, in plan order, from its ``done_when``, pre- and post-checks,
each of which holds, does not hold or cannot tell (:mod:`migrator.checks`):

* ``already_done``: every ``done_when`` check holds, so do its post-checks, and no earlier
  not-done step can change what they look at (else the run could find it otherwise);
* ``would_run``: not done (no ``done_when``, or one does not hold) and its halt pre-checks hold;
* ``cannot_know``: a halt check does not hold or cannot tell (or the done_when checks hold)
  and an earlier not-done step can change what that check looks at: the verdict names the
  earliest such step (:func:`can_change`);
* ``cannot_tell``: a check could not answer and nothing earlier can change that (a real run
  would halt there);
* ``would_fail``: a halt check does not hold and nothing earlier can change that.

A check that cannot tell never makes a step ``already_done`` or ``would_run``.

Preflight is the same classification, with the steps the latest run completed known done; its
sheet says NO-GO when any halt check of a step not done does not hold or cannot tell. Verify
re-runs the post-checks of the succeeded steps of the latest run to detect drift. Each is
recorded as a run (mode ``dry-run``/``preflight``/``verify``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from migrator.checks.base import CheckResult, Outcome
from migrator.engine import crossplan
from migrator.engine.events import Event, Listener, StepVerdict
from migrator.engine.lease import operator_name
from migrator.engine.plandiff import step_hashes
from migrator.engine.probing import (
    Judged,
    check_outcome,
    done_verdict,
    judged_text,
    probe_all,
)
from migrator.executors.base import StepRunner
from migrator.executors.checking import probe_target
from migrator.plan.model import LabEffect, Step, StepKind
from migrator.plan.params import output_refs
from migrator.secrets import Redactor
from migrator.store.db import Store
from migrator.store.dto import Move

# Verdicts of a step that would stop a run there (a halt check does not hold or cannot tell).
STOPPING = frozenset({"would_fail", "cannot_tell", "cannot_know"})


@dataclass(frozen=True)
class FailingCheck:
    """A halt check that does not hold or cannot tell, as a sheet row lists it."""

    stage: str  # done_when | pre | post | requires (another plan's step, migrator.engine.crossplan)
    description: str
    outcome: str  # does_not_hold | cannot_tell
    message: str

    def text(self) -> str:
        return f"{self.stage}: {self.description}: {Outcome(self.outcome).label} - {self.message}"


@dataclass(frozen=True)
class Verdict:
    step_id: str
    verdict: str  # already_done | would_run | cannot_know | cannot_tell | would_fail (| verify's)
    detail: str
    until: str | None = None
    host: str = ""
    phase: str = ""
    failing: tuple[FailingCheck, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            "step": self.step_id,
            "phase": self.phase,
            "host": self.host,
            "verdict": self.verdict,
            "detail": self.detail,
            "until": self.until,
            "failing": [
                {"stage": f.stage, "check": f.description, "outcome": f.outcome, "message": f.message}
                for f in self.failing
            ],
        }


@dataclass(frozen=True)
class CheckReport:
    run_id: int
    verdicts: list[Verdict]
    mode: str = "dry-run"
    phases: list[str] = field(default_factory=list)

    @property
    def failing(self) -> list[tuple[Verdict, FailingCheck]]:
        """Every halt check of a step not done that does not hold or cannot tell."""
        return [(v, f) for v in self.verdicts for f in v.failing]

    @property
    def go(self) -> bool:
        """GO only when no halt check of a step still to run does not hold or cannot tell."""
        if self.mode == "verify":
            return not any(v.verdict in ("drift", "cannot_tell") for v in self.verdicts)
        return not any(v.verdict in STOPPING for v in self.verdicts)

    def by_phase(self) -> dict[str, dict[str, int]]:
        """Phase -> verdict -> number of steps, in plan order."""
        summary: dict[str, dict[str, int]] = {p: {} for p in self.phases}
        for v in self.verdicts:
            counts = summary.setdefault(v.phase, {})
            counts[v.verdict] = counts.get(v.verdict, 0) + 1
        return summary

    def as_json(self) -> str:
        return json.dumps(
            {
                "run": self.run_id,
                "mode": self.mode,
                "go": self.go,
                "steps": [v.as_json() for v in self.verdicts],
                "phases": self.by_phase(),
            },
            indent=2,
        )


def _family(target: str) -> str:
    """``off1/ct:102`` -> ``off1``: a host and its containers change each other (a CT lives
    on its host's storage; the host creates, starts and destroys it)."""
    return target.split("/", 1)[0]


def _declared_ancestors(step: Step, steps: dict[str, Step]) -> set[str]:
    """Steps ``step`` waits for through declared ``depends_on``, transitively."""
    seen: set[str] = set()
    stack = list(step.depends_on or [])
    while stack:
        sid = stack.pop()
        if sid in seen or sid not in steps:
            continue
        seen.add(sid)
        stack.extend(steps[sid].depends_on or [])
    return seen


def _reinstalls(step: Step, family: str) -> bool:
    """``step`` reinstalls the host ``family``: nothing done there before it survives."""
    return step.lab_effect is LabEffect.REINSTALL and _family(step.host) == family


def can_change(earlier: Step, check: Any, step: Step, ancestors: set[str]) -> bool:
    """Whether running ``earlier`` can change what ``check`` (of ``step``) looks at: it acts on
    the same host or container family as the probe, it is a declared ancestor of ``step``,
    or it produces a value the check reads. A wait step only waits."""
    if earlier.kind is StepKind.WAIT:
        return False
    if earlier.id in ancestors:
        return True
    if any(ref.step == earlier.id for ref in output_refs(json.dumps(check.model_dump(mode="json")))):
        return True
    return _family(earlier.host) == _family(probe_target(check, step))


class _Checker:
    def __init__(
        self,
        store: Store,
        loaded: Any,
        runner: StepRunner,
        mode: str,
        *,
        listeners: Sequence[Listener],
        redactor: Redactor | None,
    ) -> None:
        self.store, self.loaded, self.runner, self.listeners = store, loaded, runner, list(listeners)
        self.mode = mode
        self.redact = redactor or Redactor()
        self.actor = operator_name()
        self.run = store.create_run(
            plan_name=loaded.plan.name,
            plan_path=str(loaded.path),
            plan_fingerprint=loaded.fingerprint,
            step_hashes=step_hashes(loaded),
            inventory_name=loaded.inventory.name,
            mode=mode,
            operator=self.actor,
            steps=list(loaded.order),
        )

    def emit(self, event: Event) -> None:
        for listener in self.listeners:
            listener(event)

    def probe(self, sid: str, checks: Sequence[Any], stage: str) -> list[Judged]:
        """Probe ``checks`` (never an action); a check reading a value no step has produced
        yet cannot tell, and is not probed."""
        step = self.loaded.step(sid)
        results: list[CheckResult | None] = []
        to_probe = []
        for check in checks:
            refs = output_refs(json.dumps(check.model_dump(mode="json")))
            if refs:
                producer = ", ".join(sorted({f"{r.step}.{r.name}" for r in refs}))
                results.append(
                    CheckResult.cannot_tell("not probed", "", f"reads output {producer}, not made yet")
                )
            else:
                results.append(None)
                to_probe.append(check)
        probed = iter(probe_all(self.runner, step, to_probe, run_id=self.run.id, attempt=0, dry_run=True))
        filled = [r if r is not None else next(probed) for r in results]
        now = datetime.now(UTC)
        records = []
        out = []
        for i, (check, r) in enumerate(zip(checks, filled, strict=True)):
            record, event = check_outcome(
                self.run.id, sid, 0, f"{self.mode}-{stage}", i, check, r, self.redact, now
            )
            records.append(record)
            self.emit(event)
            out.append(Judged(check, r, judged_text(event)))
        self.store.add_checks(records)
        return out

    def finish(self, verdicts: list[Verdict], summary: str) -> CheckReport:
        for v in verdicts:
            self.emit(StepVerdict(self.run.id, v.step_id, v.verdict, v.detail, v.until))
            self.store.annotate_step(self.run.id, v.step_id, summary=f"{v.verdict}: {v.detail}")
        at = datetime.now(UTC)
        self.store.record(
            [
                Move(self.run.id, None, "start", "created", "running", self.actor, at),
                Move(
                    self.run.id,
                    None,
                    "complete",
                    "running",
                    "completed",
                    self.actor,
                    at,
                    summary,
                    fields={"summary": summary, "ended_at": at},
                ),
            ]
        )
        return CheckReport(self.run.id, verdicts, self.mode, [p.id for p in self.loaded.plan.phases])


def _failing(stage: str, judged: Sequence[Judged]) -> tuple[FailingCheck, ...]:
    return tuple(
        FailingCheck(stage, j.check.description or j.check.kind, j.outcome.value, j.result.message)
        for j in judged
        if j.halts
    )


class _Classifier:
    """One pass over the plan: each step's verdict from its checks and the verdicts before it."""

    def __init__(self, checker: _Checker, loaded: Any, done: frozenset[str]) -> None:
        self.checker, self.loaded, self.done = checker, loaded, done
        self.steps: dict[str, Step] = {s.id: s for s in loaded.plan.steps()}
        self.position = {sid: i for i, sid in enumerate(loaded.order)}
        self.verdicts: dict[str, Verdict] = {}

    def waiting_for(self, step: Step, checks: Sequence[Any]) -> str | None:
        """The earliest earlier step, not done, that can change what one of ``checks`` looks at.

        A not-done reinstall of the host a check looks at (``lab_effect: reinstall``) wipes
        what every step before it did there: the search for that check starts at it.
        """
        ancestors = _declared_ancestors(step, self.steps)
        order: list[str] = self.loaded.order
        before = [
            sid for sid in order[: self.position[step.id]] if self.verdicts[sid].verdict != "already_done"
        ]
        found: list[int] = []
        for check in checks:
            family = _family(probe_target(check, step))
            start = max(
                (i for i, sid in enumerate(before) if _reinstalls(self.steps[sid], family)), default=0
            )
            hit = next(
                (
                    i
                    for i in range(start, len(before))
                    if can_change(self.steps[before[i]], check, step, ancestors)
                ),
                None,
            )
            if hit is not None:
                found.append(hit)
        return before[min(found)] if found else None

    def verdict(self, step: Step, verdict: str, detail: str, **kw: Any) -> Verdict:
        return Verdict(step.id, verdict, detail, host=step.host, phase=self.loaded.phase(step.id).id, **kw)

    def stopped(self, step: Step, failing: tuple[FailingCheck, ...], checks: Sequence[Any]) -> Verdict:
        """Halt checks do not hold or cannot tell. One that nothing earlier can change decides:
        would_fail (does not hold) or cannot_tell. When an earlier step can change each of
        them: cannot_know, until the step after which all of them may have changed."""
        waits = [(f, self.waiting_for(step, [c])) for f, c in zip(failing, checks, strict=True)]
        final = [f for f, until in waits if until is None]
        if final:
            worst = next((f for f in final if f.outcome == Outcome.DOES_NOT_HOLD), None)
            if worst is not None:
                return self.verdict(step, "would_fail", worst.text(), failing=failing)
            return self.verdict(step, "cannot_tell", final[0].text(), failing=failing)
        check, until = max(((f, u) for f, u in waits if u is not None), key=lambda w: self.position[w[1]])
        detail = f"cannot know until step {self.position[until] + 1} ({until}): {check.text()}"
        return self.verdict(step, "cannot_know", detail, until=until, failing=failing)

    def classify(self, step: Step) -> Verdict:
        if step.id in self.done:
            return self.verdict(step, "already_done", "succeeded in the latest run")
        if step.done_when:
            done = self.checker.probe(step.id, step.done_when, "done_when")
            said = done_verdict(done)
            if said is Outcome.HOLDS:
                return self.done_now(step, done)
            if said is Outcome.CANNOT_TELL:
                unknown = tuple(
                    FailingCheck(
                        "done_when", j.check.description or j.check.kind, j.outcome.value, j.result.message
                    )
                    for j in done
                    if j.outcome is Outcome.CANNOT_TELL
                )
                return self.stopped(
                    step, unknown, [j.check for j in done if j.outcome is Outcome.CANNOT_TELL]
                )
        missing = crossplan.unmet(self.checker.store, step, inventory_name=self.loaded.inventory.name)
        if missing:  # the other plan may still do it before this step comes: cannot know yet
            failing = tuple(
                FailingCheck("requires", f"step {m.step} of plan {m.plan}", "does_not_hold", m.why)
                for m in missing
            )
            detail = f"cannot know until another plan is there: {missing[0].text()}"
            return self.verdict(step, "cannot_know", detail, failing=failing)
        pre = self.checker.probe(step.id, step.pre, "pre")
        failing = _failing("pre", pre)
        if not failing:
            return self.verdict(step, "would_run", "pre-checks hold now" if step.pre else "no pre-checks")
        return self.stopped(step, failing, [j.check for j in pre if j.halts])

    def done_now(self, step: Step, done: list[Judged]) -> Verdict:
        """Every done_when check holds now: done, if its post-checks hold and nothing earlier
        can undo it before the run gets there."""
        post = self.checker.probe(step.id, step.post, "post")
        failing = _failing("post", post)
        if failing:
            return self.stopped(step, failing, [j.check for j in post if j.halts])
        until = self.waiting_for(step, [*step.done_when, *step.post])
        if until is not None:
            detail = (
                f"cannot know until step {self.position[until] + 1} ({until}): its done_when checks "
                "hold now, but that step comes first and can change what they look at"
            )
            return self.verdict(step, "cannot_know", detail, until=until)
        return self.verdict(step, "already_done", "done_when: " + "; ".join(j.text for j in done))


def classify(
    store: Store,
    loaded: Any,
    runner: StepRunner,
    *,
    listeners: Sequence[Listener] = (),
    redactor: Redactor | None = None,
    done: frozenset[str] = frozenset(),
    mode: str = "dry-run",
) -> CheckReport:
    """Dry-run, or preflight (``done``: steps known done from the store)."""
    checker = _Checker(store, loaded, runner, mode, listeners=listeners, redactor=redactor)
    classifier = _Classifier(checker, loaded, done)
    for sid in loaded.order:
        classifier.verdicts[sid] = classifier.classify(loaded.step(sid))
    ordered = [classifier.verdicts[sid] for sid in loaded.order]
    counts: dict[str, int] = {}
    for v in ordered:
        counts[v.verdict] = counts.get(v.verdict, 0) + 1
    return checker.finish(ordered, ", ".join(f"{n} {k}" for k, n in counts.items()))


def dry_run(store: Store, loaded: Any, runner: StepRunner, **kw: Any) -> CheckReport:
    """Never calls ``runner.execute``."""
    return classify(store, loaded, runner, **kw)


def _latest_done(store: Store, plan_name: str) -> frozenset[str]:
    latest = [r for r in store.runs(plan_name) if r.mode in ("live", "rehearsal")]
    if not latest:
        return frozenset()
    return frozenset(s.step_id for s in store.steps(latest[0].id) if s.state == "succeeded")


def preflight(store: Store, loaded: Any, runner: StepRunner, **kw: Any) -> CheckReport:
    return classify(store, loaded, runner, done=_latest_done(store, loaded.plan.name), mode="preflight", **kw)


def verify(store: Store, loaded: Any, runner: StepRunner, **kw: Any) -> CheckReport:
    """Re-run post-checks of the steps the latest run completed; ``drift`` where one does not
    hold now, ``cannot_tell`` where one cannot tell."""
    done = _latest_done(store, loaded.plan.name)
    checker = _Checker(
        store, loaded, runner, "verify", listeners=kw.get("listeners", ()), redactor=kw.get("redactor")
    )
    verdicts = []
    for sid in loaded.order:
        step = loaded.step(sid)
        where = {"host": step.host, "phase": loaded.phase(sid).id}
        if sid not in done:
            verdicts.append(Verdict(sid, "not_done", "not completed in the latest run", **where))
        elif not step.post:
            verdicts.append(Verdict(sid, "unverifiable", "no post-checks", **where))
        else:
            failing = _failing("post", checker.probe(sid, step.post, "post"))
            if not failing:
                verdicts.append(Verdict(sid, "still_done", "post-checks still hold", **where))
            elif any(f.outcome == Outcome.DOES_NOT_HOLD for f in failing):
                verdicts.append(
                    Verdict(sid, "drift", f"drift: {failing[0].text()}", failing=failing, **where)
                )
            else:
                verdicts.append(Verdict(sid, "cannot_tell", failing[0].text(), failing=failing, **where))
    drift = sum(v.verdict == "drift" for v in verdicts)
    unknown = sum(v.verdict == "cannot_tell" for v in verdicts)
    return checker.finish(verdicts, f"{drift} step(s) drifted, {unknown} cannot tell")
