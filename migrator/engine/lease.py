"""Holding the plan's lease while a run is active: acquire, heartbeat thread, release."""

from __future__ import annotations

import getpass
import os
import socket
import threading
import uuid

from migrator.errors import LockHeldError, StoreError
from migrator.store.db import Store


def operator_name() -> str:
    """``user@host`` of the person running migrator."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers): fall back to the uid
        user = f"uid{os.getuid()}"
    return f"{user}@{socket.gethostname()}"


def holder_gone(holder: str) -> bool:
    """Whether a ``user@host:pid`` holder is a process of this host that no longer exists."""
    name, _, pid_text = holder.rpartition(":")
    host = name.partition("@")[2]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # exists, owned by someone else
        return False
    return False


def own_holder_gone(holder: str) -> bool:
    """Whether ``holder`` was this operator (same user on this host) and its process is gone:
    nobody else can be driving that run, so the lease is taken over without asking."""
    name = holder.rpartition(":")[0]
    return name == operator_name() and holder_gone(holder)


class LeaseKeeper:
    """Takes the lease and renews it every ``ttl / 3`` seconds on a daemon thread."""

    def __init__(self, store: Store, plan_name: str, run_id: int, *, ttl: float = 30.0) -> None:
        self.store = store
        self.plan_name = plan_name
        self.run_id = run_id
        self.ttl = ttl
        self.holder = f"{operator_name()}:{os.getpid()}"
        self.token = uuid.uuid4().hex
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: StoreError | None = None

    def acquire(self, *, take_over_reason: str | None = None, resuming: bool = False) -> None:
        """Take the lease (see :meth:`Store.acquire_lease`). ``resuming``: this run resumes;
        when the lease is this run's own and its holder was this operator's process on this
        host that is gone, it is taken over without a reason (journaled)."""
        self.store.acquire_lease(
            plan_name=self.plan_name,
            run_id=self.run_id,
            holder=self.holder,
            token=self.token,
            ttl=self.ttl,
            actor=operator_name(),
            take_over_reason=take_over_reason,
            holder_gone=holder_gone,
            own_holder_gone=own_holder_gone if resuming else (lambda holder: False),
        )
        self._thread = threading.Thread(target=self._beat, name=f"lease-{self.plan_name}", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(self.ttl / 3):
            try:
                renewed = self.store.renew_lease(self.plan_name, self.token, self.ttl)
            except StoreError as exc:
                self.error = exc  # reported by check() on the runner thread
                renewed = False
            if not renewed:
                self.lost.set()  # taken over (or unrenewable): the runner stops after this step
                return

    def check(self) -> None:
        if self.error is not None:
            raise self.error
        if self.lost.is_set():
            raise LockHeldError(
                f"the lease on plan {self.plan_name} was taken over by another operator",
                hint="see `migrator status` and talk to them before going on",
            )

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if not self.lost.is_set():
            self.store.release_lease(self.plan_name, self.token)
