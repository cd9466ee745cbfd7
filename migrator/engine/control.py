"""Run-level operator actions outside a running runner: abort."""

from __future__ import annotations

from datetime import UTC, datetime

from migrator.engine.lease import holder_gone, operator_name
from migrator.engine.states import RunLifecycle
from migrator.errors import LockHeldError
from migrator.store.db import Store
from migrator.store.dto import Decision, Move


def abort_run(store: Store, run_id: int, reason: str, *, actor: str | None = None) -> str:
    """End a run for good. Refused while another process actively holds the plan's lease."""
    run = store.run(run_id)
    who = actor or operator_name()
    lease = store.lease(run.plan_name)
    now = datetime.now(UTC)
    if (
        lease is not None
        and lease.run_id == run_id
        and lease.expires_at > now
        and not holder_gone(lease.holder)
    ):
        raise LockHeldError(
            f"run {run_id} is being driven by {lease.holder} "
            f"since {lease.acquired_at.isoformat(timespec='seconds')}",
            hint="pause or abort it from that session",
        )
    fsm = RunLifecycle(f"run {run_id}", run.status)
    try:
        source, dest = fsm.fire("abort")
    finally:
        fsm.detach()
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
