"""The operator lease: one active run per plan per store (a row with holder and expiry)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import timedelta
from typing import Any

from migrator.errors import LockHeldError
from migrator.store import dto
from migrator.store.notes import insert_note, now
from migrator.store.rows import DECISIONS, LEASES
from migrator.store.sqlite import db_value

_UPDATE = (
    "UPDATE leases SET run_id = ?, holder = ?, token = ?, acquired_at = ?, heartbeat_at = ?, "
    "expires_at = ? WHERE plan_name = ?"
)
_RENEW = "UPDATE leases SET heartbeat_at = ?, expires_at = ? WHERE plan_name = ? AND token = ?"
_RELEASE = "DELETE FROM leases WHERE plan_name = ? AND token = ?"


def _lease_row(conn: sqlite3.Connection, plan_name: str) -> dict[str, Any] | None:
    rows = LEASES.read(conn, "plan_name = ?", (plan_name,))
    return rows[0] if rows else None


class LeaseMixin:
    """Lease methods of :class:`migrator.store.db.Store`."""

    def _tx(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def lease(self, plan_name: str) -> dto.LeaseInfo | None:
        with self._tx() as conn:
            row = _lease_row(conn, plan_name)
        return dto.LeaseInfo(**row) if row else None

    def acquire_lease(
        self,
        *,
        plan_name: str,
        run_id: int,
        holder: str,
        token: str,
        ttl: float,
        actor: str,
        take_over_reason: str | None = None,
        holder_gone: Callable[[str], bool] = lambda holder: False,
        own_holder_gone: Callable[[str], bool] = lambda holder: False,
    ) -> dto.LeaseInfo:
        """Take the plan's lease for ``run_id``. Refuse (LockHeldError) while another holder's
        lease is live; take an expired one (or one whose holder process is gone) only with a
        take-over reason, which the journal records. One exception: the lease of this very run
        whose holder ``own_holder_gone`` says was the same operator on this host, its process
        gone (a resume after a crash), is taken over without a reason (journaled as such)."""
        at = now()
        with self._tx() as conn:
            row = _lease_row(conn, plan_name)
            values = {
                "run_id": run_id,
                "holder": holder,
                "token": token,
                "acquired_at": at,
                "heartbeat_at": at,
                "expires_at": at + timedelta(seconds=ttl),
            }
            if row is None:
                LEASES.insert(conn, {"plan_name": plan_name, **values})
            elif row["token"] != token:
                since = row["acquired_at"].isoformat(timespec="seconds")
                stale = row["expires_at"] <= at or holder_gone(row["holder"])
                if not stale:
                    raise LockHeldError(
                        f"plan {plan_name} is being run by {row['holder']} since {since} "
                        f"(run {row['run_id']})",
                        hint="wait for that run to end; its lease expires "
                        + row["expires_at"].isoformat(timespec="seconds"),
                    )
                if not take_over_reason and row["run_id"] == run_id and own_holder_gone(row["holder"]):
                    take_over_reason = (
                        f"automatic: the holder {row['holder']} was this operator on this host "
                        "and its process is gone"
                    )
                if not take_over_reason:
                    raise LockHeldError(
                        f"plan {plan_name} is leased to {row['holder']} since {since} (run {row['run_id']}); "
                        "the lease has expired or its process is gone",
                        hint="make sure nobody is running it, then add --take-over --reason TEXT",
                    )
                conn.execute(_UPDATE, [*map(db_value, values.values()), plan_name])
                insert_note(
                    conn,
                    run_id,
                    actor=actor,
                    trigger="lease_take_over",
                    reason=f"took over from {row['holder']} (since {since}): {take_over_reason}",
                )
                DECISIONS.insert(
                    conn,
                    {
                        "run_id": run_id,
                        "step_id": None,
                        "at": at,
                        "actor": actor,
                        "kind": "take_over",
                        "choice": row["holder"],
                        "reason": take_over_reason,
                    },
                )
            else:
                conn.execute(_UPDATE, [*map(db_value, values.values()), plan_name])
            got = _lease_row(conn, plan_name)
        assert got is not None  # written in this very transaction
        return dto.LeaseInfo(**got)

    def renew_lease(self, plan_name: str, token: str, ttl: float) -> bool:
        """Heartbeat; False when the lease is no longer ours (taken over)."""
        at = now()
        with self._tx() as conn:
            done = conn.execute(
                _RENEW, (db_value(at), db_value(at + timedelta(seconds=ttl)), plan_name, token)
            ).rowcount
        return bool(done == 1)

    def release_lease(self, plan_name: str, token: str) -> None:
        with self._tx() as conn:
            conn.execute(_RELEASE, (plan_name, token))
