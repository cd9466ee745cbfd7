"""Check specifications: what to verify before or after a step, as data.

A check is read-only by contract: dry-runs and rehearsals run every check against the real
hosts, so a check must never change anything. How a check is probed (a command on a host,
an API call) and how its output is judged live in :mod:`migrator.checks`; here a check is
only its description.

Every check kind has ``kind`` (the discriminator), an optional ``description`` shown to the
operator, ``on_fail`` (what a failure means) and ``probe_from`` (where to probe from: the step's
target when empty, ``local`` for the machine running migrator, or any inventory host). It was
spelt ``on`` once; YAML 1.1 tools read ``on:`` as ``true:``, so the loader rewrites it with a warning.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from migrator.plan.durations import Duration


class OnFail(StrEnum):
    """What a failed check means, after Liquibase's preconditions."""

    HALT = "halt"
    """Stop: the step fails (pre-check: it never starts)."""
    WARN = "warn"
    """Record and show a warning, then carry on."""
    MARK_DONE = "mark_done"
    """Pre-checks only: the work is already done; record the step as done without running it
    (Liquibase MARK_RAN)."""


class _CheckBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str | None = Field(None, description="What this check proves, in words for the operator.")
    on_fail: OnFail = Field(OnFail.HALT, description="halt (default), warn, or mark_done (pre-checks only).")
    probe_from: str | None = Field(
        None,
        description="Where to probe from: an inventory host or container (off2/ct:101), `local`, "
        "or empty for the step's own target.",
    )


Command = str | list[str]
"""A shell string (run by ``sh -c``) or an argv list (each item quoted with shlex)."""


class CommandCheck(_CheckBase):
    """Run a read-only command; pass on the expected exit code and output."""

    kind: Literal["command"]
    command: Command = Field(description="Shell string or argv list. Must not change anything.")
    exit_code: int = Field(0, description="Expected exit status.")
    stdout_contains: str | None = Field(None, description="Pass only if stdout contains this text.")
    stdout_matches: str | None = Field(
        None, description="Pass only if this regular expression matches stdout."
    )
    stdout_lacks: str | None = Field(None, description="Fail if stdout contains this text.")


class TcpCheck(_CheckBase):
    """A TCP port is open (something accepts) or closed (refused or filtered)."""

    kind: Literal["tcp_open", "tcp_closed"]
    address: str = Field(description="Address to connect to.")
    port: int = Field(ge=1, le=65535, description="TCP port.")
    timeout: Duration = Field(3, description="Connect timeout.")


class ListeningCheck(_CheckBase):
    """Every listening TCP socket (optionally only on ``ports``) is bound to an allowed address.

    Probed with ``ss -ltnH``. This is the January 2024 invariant: a tunnel client must never
    listen on a public or wildcard address.
    """

    kind: Literal["listening_only_on"]
    allowed: list[str] = Field(description="Allowed addresses or CIDR networks, e.g. 127.0.0.1, 10.1.0.0/16.")
    ports: list[int] = Field(default_factory=list, description="Only look at these ports (all when empty).")
    must_listen: bool = Field(False, description="Also fail if none of ``ports`` is listening at all.")


class SystemdCheck(_CheckBase):
    """A systemd unit is in the expected state (``systemctl is-active``)."""

    kind: Literal["systemd_active"]
    unit: str = Field(description="Unit name, e.g. stunnel@off.service.")
    state: Literal["active", "inactive", "failed"] = Field("active", description="Expected state.")


class ZpoolHealthyCheck(_CheckBase):
    """A ZFS pool is ONLINE with no errors, no missing log or cache device."""

    kind: Literal["zpool_healthy"]
    pool: str = Field(description="Pool name, e.g. zfs-hdd.")
    min_size: str | None = Field(None, description="Minimum SIZE from `zpool list`, e.g. 60G.")


class ZpoolAbsentCheck(_CheckBase):
    """No pool with this name is imported, and `zpool import` lists no stale pool of that name."""

    kind: Literal["zpool_unique"]
    pool: str = Field(description="Pool name that must be unique, e.g. rpool.")


class ZfsDatasetCheck(_CheckBase):
    """A ZFS dataset exists (or, with ``exists: false``, does not), with optional properties."""

    kind: Literal["zfs_dataset"]
    dataset: str = Field(description="Dataset name, e.g. zfs-hdd/off/images.")
    exists: bool = Field(True, description="false: pass only if the dataset does not exist.")
    properties: dict[str, str] = Field(default_factory=dict, description="Expected property values.")


class PveQuorateCheck(_CheckBase):
    """`pvecm status` says Quorate with the expected number of nodes."""

    kind: Literal["pve_quorate"]
    nodes: int = Field(ge=1, description="Expected number of cluster nodes.")


class PveStorageCheck(_CheckBase):
    """`pvesm status` lists these storages as active."""

    kind: Literal["pve_storage_active"]
    storages: list[str] = Field(min_length=1, description="Storage names that must be active.")


class FileCheck(_CheckBase):
    """A file exists (or not) with the given mode and owner."""

    kind: Literal["file"]
    path: str = Field(description="Absolute path on the target.")
    exists: bool = Field(True, description="false: pass only if the path does not exist.")
    mode: str | None = Field(None, pattern=r"^0?[0-7]{3,4}$", description="Octal mode, e.g. 0600.")
    owner: str | None = Field(None, description="Expected owner (user name).")
    group: str | None = Field(None, description="Expected group name.")
    contains: str | None = Field(None, description="Pass only if the file contains this text.")


class HttpCheck(_CheckBase):
    """An HTTP(S) URL answers with the expected status (probed with curl from ``probe_from``)."""

    kind: Literal["http_status"]
    url: str = Field(description="URL to fetch.")
    status: int = Field(200, description="Expected HTTP status code.")
    host_header: str | None = Field(None, description="Send this Host header (test before a DNS switch).")


class PveApiCheck(_CheckBase):
    """The Proxmox API answers a GET on ``path``; optional field expectations on the result."""

    kind: Literal["pve_api"]
    path: str = Field(description="API path, e.g. /cluster/status.")
    expect: dict[str, str] = Field(default_factory=dict, description="field -> expected value (as text).")


Check = Annotated[
    CommandCheck
    | TcpCheck
    | ListeningCheck
    | SystemdCheck
    | ZpoolHealthyCheck
    | ZpoolAbsentCheck
    | ZfsDatasetCheck
    | PveQuorateCheck
    | PveStorageCheck
    | FileCheck
    | HttpCheck
    | PveApiCheck,
    Field(discriminator="kind"),
]

CHECK_KINDS: tuple[str, ...] = (
    "command",
    "tcp_open",
    "tcp_closed",
    "listening_only_on",
    "systemd_active",
    "zpool_healthy",
    "zpool_unique",
    "zfs_dataset",
    "pve_quorate",
    "pve_storage_active",
    "file",
    "http_status",
    "pve_api",
)
