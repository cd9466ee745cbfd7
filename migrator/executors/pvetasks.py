"""Waiting for Proxmox VE tasks (UPIDs): our own poller.

proxmoxer's ``Tasks.blocking_status`` is not good enough for a migration: it ignores the
task's ``exitstatus`` (a failed ``vzcreate`` looks like a success), returns ``None`` on
timeout, sleeps one extra interval and cannot be cancelled. :func:`wait_task` instead

* streams the task log incrementally (``GET .../log?start=n``) to ``on_log``;
* raises :class:`PveTaskError` (a :class:`~migrator.errors.TaskFailed`) when the task ends
  with anything but ``OK``, with the last log lines in the message;
* stops the task (``DELETE /nodes/{node}/tasks/{upid}``) when ``cancel()`` turns true
  (:class:`TaskCancelled`) or the timeout passes (:class:`TaskTimeout`), so a task we gave
  up on does not keep running behind the engine's back (as CommandTimeout does for commands);
* never sleeps longer than ``poll`` between two looks at ``cancel()``.

The poller only needs a ``call(method, path, params)`` function, so it is tested against
fakepve through the real client and stays free of HTTP details.
"""

from __future__ import annotations

import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from migrator.errors import ConnectError, ProxmoxError, PveTaskError, TaskCancelled, TaskTimeout

ApiCall = Callable[[str, str, dict[str, Any] | None], Any]
"""``call(method, path, params) -> data``, as :meth:`ProxmoxClient.call`."""

# UPID:node:pid:pstart:starttime:type:id:user:  (pid/pstart/starttime in hex; id may be empty)
UPID = re.compile(
    r"^UPID:(?P<node>[A-Za-z0-9][A-Za-z0-9.-]*):(?P<pid>[0-9A-Fa-f]{8,}):(?P<pstart>[0-9A-Fa-f]{8,}):"
    r"(?P<starttime>[0-9A-Fa-f]{8,}):(?P<type>[^:/\s]+):(?P<id>[^:/\s]*):(?P<user>[^:/\s]+):$"
)
LOG_PAGE = 500  # lines per log request; a chatty vzdump writes thousands
TAIL_LINES = 10  # log lines quoted in an error message
MAX_POLL_ERRORS = 3  # consecutive connection errors tolerated while a task runs


def nothing(line: str) -> None:
    """An ``on_log`` that drops lines."""


def never() -> bool:
    """A ``cancel`` that never cancels."""
    return False


@dataclass(frozen=True)
class Upid:
    """The parts of a Proxmox task id that matter to us."""

    text: str
    node: str
    type: str
    id: str
    user: str

    @property
    def label(self) -> str:
        """``vzcreate 101 on pve1``: how we name the task to a person."""
        what = f"{self.type} {self.id}" if self.id else self.type
        return f"{what} on {self.node}"


def is_upid(value: object) -> bool:
    return isinstance(value, str) and UPID.match(value) is not None


def parse_upid(text: str) -> Upid:
    match = UPID.match(text)
    if match is None:
        raise ProxmoxError(
            f"not a Proxmox task id: {text[:80]!r}",
            hint="a task id looks like UPID:node:0000ABCD:...:vzcreate:101:root@pam:",
        )
    return Upid(text, match["node"], match["type"], match["id"], match["user"])


def _with_tail(message: str, tail: list[str]) -> str:
    if not tail:
        return message
    return message + "\n  last log lines:\n" + "\n".join(f"    | {line}" for line in tail)


class _TaskWatch:
    """One task being watched: its paths, the log read so far and its tail."""

    def __init__(
        self,
        call: ApiCall,
        upid: Upid,
        on_log: Callable[[str], None],
        redact: Callable[[str], str],
        where: str | None,
    ) -> None:
        self.call = call
        self.where = where
        self.upid = upid
        self.on_log = on_log
        self.redact = redact
        self.base = f"nodes/{upid.node}/tasks/{upid.text}"
        self.seen = 0  # log lines read; PVE numbers them from 1, ``start`` counts from 0
        self.tail: deque[str] = deque(maxlen=TAIL_LINES)

    def status(self) -> dict[str, Any]:
        data = self.call("GET", self.base + "/status", None)
        if not isinstance(data, dict):
            raise ProxmoxError(f"unexpected task status answer for {self.upid.text}: {data!r:.200}")
        return data

    def read_log(self) -> None:
        """Pass every new log line to on_log; pages until the API has no more."""
        while True:
            page = self.call("GET", self.base + "/log", {"start": self.seen, "limit": LOG_PAGE})
            if not isinstance(page, list) or not page:
                return
            for entry in page:
                number = int(entry.get("n", self.seen + 1))
                if number <= self.seen:  # a line we already have (a server that ignores start)
                    continue
                self.seen = number
                line = self.redact(str(entry.get("t", "")))
                self.tail.append(line)
                self.on_log(line)
            if len(page) < LOG_PAGE:
                return

    def stop(self) -> str:
        """Ask Proxmox to stop the task; returns a note for the error message (never raises)."""
        try:
            self.call("DELETE", self.base, None)
        except (ProxmoxError, ConnectError) as exc:
            # We are already raising about this task: the failed stop goes into that message.
            return f"; stopping it failed too: {exc.message}"
        return "; it was asked to stop"

    def error(self, cls: type[PveTaskError], message: str, exitstatus: str | None, hint: str) -> PveTaskError:
        tail = list(self.tail)
        text = _with_tail(message, tail)
        return cls(
            text, upid=self.upid.text, exitstatus=exitstatus, log_tail=tail, hint=hint, where=self.where
        )


def wait_task(
    call: ApiCall,
    upid: str,
    *,
    timeout: float,
    poll: float = 1.0,
    on_log: Callable[[str], None] = nothing,
    cancel: Callable[[], bool] = never,
    redact: Callable[[str], str] = str,
    where: str | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Wait until the task ``upid`` stops; return its final status when it ended ``OK``.

    Raises :class:`PveTaskError` for another exit status, :class:`TaskTimeout` after
    ``timeout`` seconds and :class:`TaskCancelled` when ``cancel()`` returns true (both stop
    the task first). Up to MAX_POLL_ERRORS consecutive connection errors are ridden out, since
    a task keeps running on the node whatever happens to our HTTP connection. ``redact`` is
    applied to every log line before it reaches ``on_log`` or an error message; ``where``
    (e.g. ``proxmox off2``) prefixes the errors' location.
    """
    watch = _TaskWatch(call, parse_upid(upid), on_log, redact, where)
    deadline = clock() + timeout
    errors_in_a_row = 0
    while True:
        try:
            status = watch.status()
            # The log after the status: once the status says stopped, this read gets every line.
            watch.read_log()
            errors_in_a_row = 0
        except ConnectError:
            errors_in_a_row += 1
            if errors_in_a_row >= MAX_POLL_ERRORS or clock() >= deadline:
                raise
            status = {"status": "running"}
        if status.get("status") == "stopped":
            exitstatus = status.get("exitstatus")
            if exitstatus == "OK":
                return status
            raise watch.error(
                PveTaskError,
                f"task {watch.upid.label} failed: {exitstatus or 'no exit status'}",
                None if exitstatus is None else str(exitstatus),
                "read the task log above; the full log is under Datacenter > Tasks in the web UI",
            )
        if cancel():
            note = watch.stop()
            raise watch.error(
                TaskCancelled,
                f"task {watch.upid.label} cancelled by the operator{note}",
                None,
                "check the guest's state before retrying: a stopped task may leave a lock (pct unlock)",
            )
        remaining = deadline - clock()
        if remaining <= 0:
            note = watch.stop()
            raise watch.error(
                TaskTimeout,
                f"task {watch.upid.label} still running after {timeout:g}s{note}",
                None,
                "raise the step's timeout if the task is just slow; check the node's load and storage",
            )
        sleep(min(poll, remaining))
