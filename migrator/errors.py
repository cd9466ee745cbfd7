"""The exception tree of migrator, and the exit codes the CLI maps them to.

Every error says *what* went wrong, *where* (file:line, step id, host) and *what to do*.
Library errors (paramiko, proxmoxer, sqlite, YAML) are translated into these at the
boundary with ``raise ... from e``; nothing is swallowed.

::

    MigratorError                    exit 1 unless said otherwise
    ├── UsageError                   exit 2  bad command line, missing file
    │   └── InventoryChangedError            resume given another inventory than the run's
    ├── PlanError                    exit 2  the plan or inventory does not load or validate
    ├── StoreError                   exit 1  the state database cannot be read or written
    │   ├── SchemaVersionError               the database is newer than this migrator
    │   ├── MissingDatabaseError     exit 2  a command that reads found no file at --db
    │   └── UnknownRunError          exit 2  no run with that id in the database
    ├── LockHeldError                exit 4  another operator holds the run's lease
    ├── OperatorNeeded               exit 5  the run stopped for a human decision
    ├── RunStateError                exit 1  the run or step is not in a state for this action
    │   ├── IllegalTransition                a trigger the lifecycle does not allow
    │   └── PlanChangedError                 the plan changed since the run started
    ├── ExecutorError                exit 3  a step's action could not be carried out
    │   ├── ConnectError                     the host cannot be reached or authenticated
    │   │   ├── HostKeyError                 unknown or changed SSH host key (refused)
    │   │   ├── OutcomeUnknown               lost sight of a started action: it may have run
    │   │   └── JobLost                      a detached step's host out of reach: may still run
    │   ├── CommandTimeout                   a command ran past its timeout and was stopped
    │   ├── ProxmoxError                     the Proxmox API refused a call
    │   │   ├── ProxmoxApiError              an HTTP error from the API (status, path, fields)
    │   │   │   └── NoSuchGuest              the CT or VM is not on that node
    │   │   └── TaskFailed                   a Proxmox task ended with a non-OK status
    │   │       └── PveTaskError             ... with its UPID, exit status, log tail
    │   │           ├── TaskTimeout          ran past the timeout (stop asked)
    │   │           └── TaskCancelled        the operator cancelled (stop asked)
    │   └── SecretError                      a secret reference cannot be resolved
    └── LabError                     exit 1  the rehearsal lab cannot be brought up or down

An unexpected exception (a bug) exits 70 and writes a traceback file.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any


class ExitCode(IntEnum):
    """Documented process exit codes (README, "Exit codes")."""

    OK = 0
    FAILED = 1  # a step failed, validation found errors, a store problem
    USAGE = 2  # bad arguments, unreadable or invalid plan
    EXECUTOR = 3  # could not execute (connection, host key, API)
    LOCK_HELD = 4  # another operator holds the lease on this plan
    OPERATOR_NEEDED = 5  # stopped for a decision: manual step, in-doubt step, go/no-go
    INTERNAL = 70  # a bug in migrator: a traceback file was written
    INTERRUPTED = 130  # Ctrl-C (SIGINT): what was recorded is kept, the step's processes stopped


class MigratorError(Exception):
    """Base of every error migrator raises on purpose.

    ``hint`` tells the operator what to do next; ``where`` is a location such as
    ``plans/off1.yaml:42:7`` or ``step zfs-hdd-create on off1``.
    """

    exit_code: ExitCode = ExitCode.FAILED

    def __init__(self, message: str, *, hint: str | None = None, where: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.where = where

    def __str__(self) -> str:
        text = f"{self.where}: {self.message}" if self.where else self.message
        if self.hint:
            text += f" ({self.hint})"
        return text


class UsageError(MigratorError):
    exit_code = ExitCode.USAGE


class InventoryChangedError(UsageError):
    """Resume was given (or found) another inventory than the run recorded."""

    def __init__(self, message: str, differences: list[str], **kw: Any) -> None:
        super().__init__(message, **kw)
        self.differences = differences
        self.problems = differences  # printed one a line by the CLI


class PlanError(MigratorError):
    """The plan or inventory is invalid; ``problems`` lists every one found in one pass."""

    exit_code = ExitCode.USAGE

    def __init__(self, message: str, *, problems: list[object] | None = None, **kw: str | None) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.problems = problems or []


class StoreError(MigratorError):
    pass


class SchemaVersionError(StoreError):
    pass


class MissingDatabaseError(StoreError):
    """A read-only command was pointed at a path with no database (nothing is created)."""

    exit_code = ExitCode.USAGE


class UnknownRunError(StoreError):
    exit_code = ExitCode.USAGE


class LockHeldError(MigratorError):
    exit_code = ExitCode.LOCK_HELD


class OperatorNeeded(MigratorError):
    exit_code = ExitCode.OPERATOR_NEEDED


class RunStateError(MigratorError):
    pass


class IllegalTransition(RunStateError):
    """A trigger that the lifecycle does not allow from the current state."""


class PlanChangedError(RunStateError):
    """The plan changed since the run started; resume needs ``--accept-plan-change``."""

    def __init__(self, message: str, diff: Any, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.diff = diff
        """The :class:`migrator.engine.plandiff.PlanDiff` (steps added, removed, changed)."""


class ExecutorError(MigratorError):
    exit_code = ExitCode.EXECUTOR


class ConnectError(ExecutorError):
    pass


class HostKeyError(ConnectError):
    pass


class OutcomeUnknown(ConnectError):
    """An action was started, then migrator lost sight of it (the connection dropped, the
    channel closed without an exit status): it may still be running, or have completed. The
    engine records the step *in doubt*, never *failed* (see :class:`migrator.executors.base.Outcome`)."""


class JobLost(ConnectError):
    """A detached step's host stayed out of reach while its job was followed: the job may
    still run there. The step is left running; ``migrator resume`` reattaches to the job."""


class CommandTimeout(ExecutorError):
    pass


class ProxmoxError(ExecutorError):
    pass


class ProxmoxApiError(ProxmoxError):
    """The API answered with an HTTP error. ``field_errors`` maps parameter -> PVE's complaint."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        path: str,
        field_errors: dict[str, str] | None = None,
        hint: str | None = None,
        where: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint, where=where)
        self.status = status
        self.path = path
        self.field_errors = field_errors or {}


class NoSuchGuest(ProxmoxApiError):
    """The container or VM does not exist on that node (PVE answers 500, not 404)."""


class TaskFailed(ProxmoxError):
    pass


class PveTaskError(TaskFailed):
    """A task that did not end OK. Carries the UPID, exit status and the last log lines."""

    def __init__(
        self,
        message: str,
        *,
        upid: str,
        exitstatus: str | None,
        log_tail: list[str],
        hint: str | None = None,
        where: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint, where=f"{where}, task {upid}" if where else f"task {upid}")
        self.upid = upid
        self.exitstatus = exitstatus
        self.log_tail = log_tail


class TaskTimeout(PveTaskError):
    """The task ran past our timeout; we asked Proxmox to stop it."""


class TaskCancelled(PveTaskError):
    """The operator cancelled; we asked Proxmox to stop the task."""


class SecretError(ExecutorError):
    pass


class LabError(MigratorError):
    pass
