"""Modes that do not lie: dry-run, preflight and verify run checks only, never an action.

Dry-run classifies each step, in plan order:

* ``already_done``: its post-checks pass now (or a mark_done pre-check says so);
* ``would_run``: its pre-checks pass now;
* ``cannot_know``: a pre-check fails, and an earlier not-done step it depends on
  (transitively) may change that: the verdict names the earliest such step;
* ``would_fail``: a pre-check fails and nothing before it can change that.

Preflight runs the pre-checks only (done-ness comes from the latest run) and says GO when no
step would fail. Verify re-runs the post-checks of the succeeded steps of the latest run to
detect drift. Each is recorded as a run (mode ``dry-run``/``preflight``/``verify``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from migrator.engine import crossplan
from migrator.engine.events import Event, Listener, StepVerdict
from migrator.engine.lease import operator_name
from migrator.engine.plandiff import step_hashes
from migrator.engine.probing import check_outcome, probe_all
from migrator.executors.base import StepRunner
from migrator.plan.checks import OnFail
from migrator.secrets import Redactor
from migrator.store.db import Store
from migrator.store.dto import Move


@dataclass(frozen=True)
class Verdict:
    step_id: str
    verdict: str  # already_done | would_run | cannot_know | would_fail | skipped
    detail: str
    until: str | None = None


@dataclass(frozen=True)
class CheckReport:
    run_id: int
    verdicts: list[Verdict]

    @property
    def go(self) -> bool:
        return not any(v.verdict in ("would_fail", "drift") for v in self.verdicts)


def _ancestors(sid: str, deps: dict[str, list[str]]) -> set[str]:
    seen: set[str] = set()
    stack = list(deps.get(sid, []))
    while stack:
        d = stack.pop()
        if d not in seen:
            seen.add(d)
            stack.extend(deps.get(d, []))
    return seen


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

    def probe(self, sid: str, checks: Sequence[Any], stage: str) -> list[tuple[Any, bool, str]]:
        step = self.loaded.step(sid)
        results = probe_all(self.runner, step, checks, run_id=self.run.id, attempt=0, dry_run=True)
        now = datetime.now(UTC)
        records = []
        out = []
        for i, (check, r) in enumerate(zip(checks, results, strict=True)):
            record, event = check_outcome(self.run.id, sid, 0, stage, i, check, r, self.redact, now)
            records.append(record)
            self.emit(event)
            out.append((check, r.passed, f"{event.description}: {event.message}"))
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
        return CheckReport(self.run.id, verdicts)


def classify(
    store: Store,
    loaded: Any,
    runner: StepRunner,
    *,
    listeners: Sequence[Listener] = (),
    redactor: Redactor | None = None,
    use_post_checks: bool = True,
    done: frozenset[str] = frozenset(),
    mode: str = "dry-run",
) -> CheckReport:
    """Dry-run (``use_post_checks``) or preflight (``done``: steps known done from the store)."""
    checker = _Checker(store, loaded, runner, mode, listeners=listeners, redactor=redactor)
    deps: dict[str, list[str]] = loaded.deps
    verdicts: dict[str, Verdict] = {}
    position = {sid: i for i, sid in enumerate(loaded.order)}
    for sid in loaded.order:
        step = loaded.step(sid)
        if sid in done:
            verdicts[sid] = Verdict(sid, "already_done", "succeeded in the latest run")
            continue
        if use_post_checks and step.post:
            post = checker.probe(sid, step.post, "dry-run-post")
            halting = [p for p in post if p[0].on_fail is OnFail.HALT]
            if halting and all(ok for _, ok, _ in halting):
                verdicts[sid] = Verdict(sid, "already_done", "its post-checks pass now")
                continue
        missing = crossplan.unmet(store, step, inventory_name=loaded.inventory.name)
        if missing:  # not a no-go: the other plan may do it before this step comes
            detail = f"cannot know until another plan is there: {missing[0].text()}"
            verdicts[sid] = Verdict(sid, "cannot_know", detail)
            continue
        pre = checker.probe(sid, step.pre, "dry-run-pre" if use_post_checks else "preflight")
        marked = [text for c, ok, text in pre if not ok and c.on_fail is OnFail.MARK_DONE]
        failing = [text for c, ok, text in pre if not ok and c.on_fail is OnFail.HALT]
        if marked:
            verdicts[sid] = Verdict(sid, "already_done", f"pre-check says done: {marked[0]}")
        elif not failing:
            verdicts[sid] = Verdict(sid, "would_run", "pre-checks pass now" if step.pre else "no pre-checks")
        else:
            waiting = sorted(
                (d for d in _ancestors(sid, deps) if d in verdicts and verdicts[d].verdict != "already_done"),
                key=lambda d: position[d],
            )
            if waiting:
                first = waiting[0]
                verdicts[sid] = Verdict(
                    sid,
                    "cannot_know",
                    f"cannot know until step {position[first] + 1} ({first}): {failing[0]}",
                    until=first,
                )
            else:
                verdicts[sid] = Verdict(sid, "would_fail", failing[0])
    ordered = [verdicts[sid] for sid in loaded.order]
    counts: dict[str, int] = {}
    for v in ordered:
        counts[v.verdict] = counts.get(v.verdict, 0) + 1
    return checker.finish(ordered, ", ".join(f"{n} {k}" for k, n in counts.items()))


def dry_run(store: Store, loaded: Any, runner: StepRunner, **kw: Any) -> CheckReport:
    """Never calls ``runner.execute``."""
    return classify(store, loaded, runner, **kw)


def preflight(store: Store, loaded: Any, runner: StepRunner, **kw: Any) -> CheckReport:
    latest = [r for r in store.runs(loaded.plan.name) if r.mode in ("live", "rehearsal")]
    done = (
        frozenset(s.step_id for s in store.steps(latest[0].id) if s.state == "succeeded")
        if latest
        else frozenset()
    )
    return classify(store, loaded, runner, use_post_checks=False, done=done, mode="preflight", **kw)


def verify(store: Store, loaded: Any, runner: StepRunner, **kw: Any) -> CheckReport:
    """Re-run post-checks of the steps the latest run completed; ``drift`` where one fails now."""
    latest = [r for r in store.runs(loaded.plan.name) if r.mode in ("live", "rehearsal")]
    done = {s.step_id for s in store.steps(latest[0].id) if s.state == "succeeded"} if latest else set()
    checker = _Checker(
        store, loaded, runner, "verify", listeners=kw.get("listeners", ()), redactor=kw.get("redactor")
    )
    verdicts = []
    for sid in loaded.order:
        step = loaded.step(sid)
        if sid not in done:
            verdicts.append(Verdict(sid, "not_done", "not completed in the latest run"))
        elif not step.post:
            verdicts.append(Verdict(sid, "unverifiable", "no post-checks"))
        else:
            failing = [
                text
                for c, ok, text in checker.probe(sid, step.post, "verify")
                if not ok and c.on_fail is OnFail.HALT
            ]
            verdicts.append(
                Verdict(
                    sid,
                    "drift" if failing else "still_done",
                    f"drift: {failing[0]}" if failing else "post-checks still pass",
                )
            )
    drift = sum(v.verdict == "drift" for v in verdicts)
    return checker.finish(verdicts, f"{drift} step(s) drifted")
