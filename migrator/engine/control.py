"""Run-level operator actions outside a running runner: abort, and pause at the end of a session."""

from __future__ import annotations

from datetime import UTC, datetime

from migrator.engine.lease import holder_gone, operator_name
from migrator.engine.states import RunLifecycle
from migrator.errors import LockHeldError
from migrator.store.db import Store
from migrator.store.dto import Decision, LeaseInfo, Move, RunInfo


def abort_run(
    store: Store, run_id: int, reason: str, *, actor: str | None = None, token: str | None = None
) -> str:
    """End a run for good. Refused while another process actively holds the plan's lease
    (``token``: the caller's own lease, e.g. a TUI session's, which does not refuse)."""
    run = store.run(run_id)
    who = actor or operator_name()
    now = datetime.now(UTC)
    lease = _driven_by_another(store, run, token, now)
    if lease is not None:
        raise LockHeldError(
            f"run {run_id} is being driven by {lease.holder} "
            f"since {lease.acquired_at.isoformat(timespec='seconds')}",
            hint="pause or abort it from that session",
        )
    source, dest = _fire(run, "abort")
    store.record(
        [
            Move(
                run_id,
                None,
                "abort",
                source,
                dest,
                who,
                now,
                reason,
                fields={"summary": f"aborted: {reason}", "ended_at": now},
            )
        ]
    )
    store.add_decision(Decision(run_id, None, now, who, "abort", "abort", reason))
    return dest


def pause_run(
    store: Store, run_id: int, reason: str, *, actor: str | None = None, token: str | None = None
) -> str:
    """Pause a ``running`` run that no runner drives (a TUI session ending: it left the run
    ``running`` between its actions). ``token`` is the caller's own lease; a live lease of
    anyone else on the run refuses. A run in any other state is left alone."""
    run = store.run(run_id)
    if run.status != "running":
        return run.status
    now = datetime.now(UTC)
    lease = _driven_by_another(store, run, token, now)
    if lease is not None:
        raise LockHeldError(
            f"run {run_id} is being driven by {lease.holder}", hint="pause it from that session"
        )
    source, dest = _fire(run, "pause")
    who = actor or operator_name()
    store.record([Move(run_id, None, "pause", source, dest, who, now, reason, fields={"summary": reason})])
    return dest


def _driven_by_another(store: Store, run: RunInfo, token: str | None, now: datetime) -> LeaseInfo | None:
    """The live lease on ``run`` of a process other than the caller (``token``), if any."""
    lease = store.lease(run.plan_name)
    if (
        lease is not None
        and lease.run_id == run.id
        and lease.token != token
        and lease.expires_at > now
        and not holder_gone(lease.holder)
    ):
        return lease
    return None


def _fire(run: RunInfo, trigger: str) -> tuple[str, str]:
    """Check ``trigger`` against the run lifecycle from the stored status: (source, dest)."""
    return RunLifecycle(f"run {run.id}", run.status).fire(trigger)
