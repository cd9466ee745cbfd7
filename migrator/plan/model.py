"""The plan language: plans, phases, steps, rollbacks and outputs, as pydantic models.

A plan file (YAML, in ``plans/``) is a :class:`Plan`. Every field carries a description that
ends up in the JSON Schema (``migrator schema``) and in the README's plan-format section.
Models are pure data: nothing here runs, connects or opens a database.

Steps are one model with a ``kind`` (ssh, local, proxmox, manual, wait, stunnel) and the fields of each
kind; cross-field rules (a ssh step needs a command, ...) live in :mod:`migrator.plan.validate`
so that every problem of a plan is reported in one pass, each with its line.
"""

from __future__ import annotations

import re
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from migrator.plan.checks import Check, Command
from migrator.plan.durations import Duration

STEP_ID = r"^[a-z0-9][a-z0-9._-]*$"
SECRET_REF = re.compile(r"^(env:[A-Za-z_][A-Za-z0-9_]*|file:.+)$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Where(StrEnum):
    """Where a phase sits relative to the maintenance window."""

    BEFORE = "before"
    """Preparation: services still up, no downtime."""
    WINDOW = "window"
    """Downtime: counted in the planned downtime and the window arithmetic."""
    AFTER = "after"
    """Cleanup and follow-up once services are back."""


class StepKind(StrEnum):
    SSH = "ssh"
    LOCAL = "local"
    PROXMOX = "proxmox"
    MANUAL = "manual"
    WAIT = "wait"
    STUNNEL = "stunnel"


class ProxmoxCall(_Strict):
    """A Proxmox VE API call as data."""

    method: Literal["GET", "POST", "PUT", "DELETE"] = Field(description="HTTP method.")
    path: str = Field(description="API path below /api2/json, e.g. /nodes/{{ hosts.off2.name }}/lxc.")
    params: dict[str, Any] = Field(default_factory=dict, description="Call parameters.")
    wait_task: bool = Field(True, description="If the call returns a task (UPID), wait for it to end OK.")
    endpoint: str | None = Field(
        None, description="Proxmox endpoint from the inventory (default: the step host)."
    )


class Rollback(_Strict):
    """How to undo a step: a command on the same target, or instructions for a person."""

    command: Command | None = Field(None, description="Command run on the step's target to undo it.")
    instructions: str | None = Field(None, description="What a person does to undo it.")
    estimate: Duration | None = Field(None, description="How long the rollback takes (window arithmetic).")


class OutputSpec(_Strict):
    """A named value a step produces for later steps (``{{ outputs.STEP.NAME }}``)."""

    regex: str | None = Field(
        None, description="Regular expression over stdout; group 1 (or the whole match) is the value."
    )
    secret: bool = Field(False, description="Store only a fingerprint of the value, never the value.")


class StunnelAction(_Strict):
    """stunnel: deploy one piece of a tunnel inventory (plans/tunnels.yaml) on the step's host."""

    action: Literal["psk", "config", "verify"] = Field(
        description="psk: make the service's PSK file identical on the server (the step host) and every "
        "client, with the key of the tunnel's `secret:` reference (an existing server file that disagrees "
        "stops the step; 0600, only fingerprints are shown); config: render the host's "
        "off.conf and systemd drop-in, parse-test them on the host, then move them into place; verify: "
        "`ss -ltnH` matches the rendered config (client listeners only on private or loopback addresses) "
        "and stunnel@off is active."
    )
    tunnels: str = Field(
        description="Tunnel inventory file, relative to the plan (e.g. tunnels.yaml; a {{ params.NAME }} "
        "lets each inventory name its own). It must pass the January 2024 invariants at plan validation."
    )
    service: str | None = Field(
        None, description="psk: the tunnel's service, e.g. MongoDB (its server is the step host)."
    )
    restart: bool = Field(
        False,
        description="config: `systemctl restart stunnel@off` after the parse test passed. A restart cuts "
        "every tunnel on that host.",
    )
    services: list[str] = Field(
        default_factory=list,
        description="config/verify: only the sections of these services (the tunnels rolled out so far, "
        "one at a time); empty: every tunnel of the host. Sections left out are removed from off.conf.",
    )


class OwnAddition(_Strict):
    """A step of ours, not in the team's repository: say why it is there."""

    ours: str = Field(min_length=1, description="Why we added the step (what it guards or automates).")


SOURCE_PATH = r"^[A-Za-z0-9_.@-][A-Za-z0-9_./@+-]*(#[^\s]*)?$"
"""A repository path, optionally with ``#section``: no spaces, no leading slash."""
SourcePath = Annotated[str, StringConstraints(pattern=SOURCE_PATH)]


class PlanStep(_Strict):
    """A step of another plan: ``{plan: off1, step: ct102-start}``."""

    plan: str = Field(pattern=STEP_ID, description="The other plan's name (plans/NAME.yaml).")
    step: str = Field(pattern=STEP_ID, description="The step id in that plan.")


class LabEffect(StrEnum):
    """What a manual step does to a lab host; applied only when the inventory is a lab."""

    REINSTALL = "reinstall"
    REBOOT = "reboot"
    NONE = "none"


class Step(_Strict):
    """One step: pre-checks, an action, post-checks, a rollback."""

    id: str = Field(
        pattern=STEP_ID, description="Stable unique id (lower case, digits, . _ -). Never rename."
    )
    title: str = Field(description="One line: what the step does.")
    description: str | None = Field(None, description="Why, and anything the operator must know.")
    source: list[SourcePath] | OwnAddition | None = Field(
        None,
        description="Where the step comes from: paths in openfoodfacts/openfoodfacts-infrastructure, "
        "optionally with a section (docs/reports/2023-12-08-off1-upgrade.md#joining-pve-cluster), or "
        "{ours: REASON} for our own addition. Every step of the real plans has one.",
    )
    host: str = Field(
        "local",
        description="Target: an inventory host, a container on a Proxmox host (off2/ct:101) or `local`.",
    )
    kind: StepKind = Field(description="ssh, local, proxmox, manual, wait or stunnel.")

    # action, by kind
    command: Command | None = Field(
        None,
        description="ssh/local: a shell string (run by sh -c; over SSH a plain program call without "
        "shell syntax or env is exec'd directly, the same to the program) or an argv list "
        "(quoted with shlex).",
    )
    sudo: bool = Field(False, description="ssh: run through sudo when the login user is not root.")
    detach: bool = Field(
        False,
        description="ssh: run the command on the host as a job independent of the SSH session "
        "(a transient systemd unit, else setsid) and follow it; a lost connection or a crash of "
        "migrator does not stop it, and a resume reattaches to it. For steps longer than a few minutes.",
    )
    reconnect_for: Duration | None = Field(
        None,
        description="detach: how long migrator keeps reconnecting to a host out of reach while it "
        "follows the job before the run pauses (exit 3; the job goes on, `migrator resume` "
        "reattaches). Default 1h.",
    )
    progress: Literal["rsync", "zfs-send", "zfs-receive", "pv", "syncoid", "zpool", "none"] | None = Field(
        None,
        description="ssh/local: how to read the command's progress from its output (default: guessed "
        "from the command: rsync --info=progress2, zfs send -v/-P, zfs receive -v, syncoid/pv, zpool).",
    )
    call: ProxmoxCall | None = Field(None, description="proxmox: the API call.")
    instructions: str | None = Field(None, description="manual: what the person does.")
    checklist: list[str] = Field(
        default_factory=list, description="manual: items the person confirms one by one."
    )
    lab_effect: LabEffect = Field(LabEffect.NONE, description="manual: what the step does to a lab host.")
    until: Check | None = Field(None, description="wait: the check that must pass.")
    stunnel: StunnelAction | None = Field(None, description="stunnel: what to deploy or check on the host.")
    interval: Duration = Field(5, description="wait: time between two probes.")
    expect_new_host_key: bool = Field(
        False,
        description="The host was reinstalled: show its new SSH host key, ask the operator to confirm it "
        "against the console, then pin it.",
    )

    done_when: list[Check] = Field(
        default_factory=list,
        description="Checks that all hold when the work is already done: then the step is not run "
        "(its post-checks must hold too, else it halts). A check that does not hold or cannot tell "
        "means the step runs (or, cannot tell in a real run, halts): never done by default.",
    )
    pre: list[Check] = Field(default_factory=list, description="Checks before the action.")
    post: list[Check] = Field(
        default_factory=list, description="Checks after the action; they prove it worked."
    )
    rollback: Rollback | None = Field(None, description="How to undo the step.")
    irreversible: str | None = Field(None, description="Why the step cannot be undone (instead of rollback).")
    depends_on: list[str] | None = Field(
        None, description="Step ids this step needs. Default: the step before it in the plan."
    )
    requires: list[PlanStep] = Field(
        default_factory=list,
        description="Steps of other plans that must be done first (succeeded in their plan's newest live "
        "or rehearsal run on the same inventory that recorded them, and not rolled back since): "
        "checked at preflight and before the step, which is blocked until they are.",
    )
    idempotent: bool = Field(False, description="Running it twice is harmless: safe to re-run when in doubt.")
    destructive: bool = Field(False, description="Destroys data or service: needs explicit confirmation.")
    point_of_no_return: bool = Field(
        False, description="After this step, going back costs more than going on: go/no-go before it."
    )
    timeout: Duration | None = Field(None, description="Stop the action after this long.")
    retries: int = Field(0, ge=0, le=20, description="How many times to retry a failed action.")
    retry_delay: Duration = Field(10, description="Wait between retries.")
    estimate: Duration | None = Field(None, description="Expected duration of the action.")
    outputs: dict[str, OutputSpec] = Field(default_factory=dict, description="Named values for later steps.")
    secrets: dict[str, str] = Field(
        default_factory=dict,
        description="Environment variables for the action, each a reference (env:NAME or file:PATH), "
        "never a value. Secrets reach the host by environment or stdin, never the command line.",
    )
    stdin_secret: str | None = Field(None, description="Name in ``secrets`` whose value is fed on stdin.")


def source_lines(step: Step) -> list[str]:
    """The step's sources as display lines ("ours: ..." for our own additions; empty: none given)."""
    if step.source is None:
        return []
    if isinstance(step.source, OwnAddition):
        return [f"ours: {step.source.ours}"]
    return list(step.source)


class Phase(_Strict):
    """A group of steps, placed before, in or after the maintenance window."""

    id: str = Field(pattern=STEP_ID, description="Unique id of the phase (shares the namespace of step ids).")
    title: str = Field(description="Shown as the phase heading.")
    where: Where = Field(description="before (preparation), window (downtime) or after (cleanup).")
    steps: list[Step] = Field(default_factory=list, description="The phase's steps, in order.")


class Window(_Strict):
    """The maintenance window."""

    start: AwareDatetime | None = Field(
        None, description="Planned start, ISO 8601 with a time zone (2026-12-18T08:00:00+01:00)."
    )
    length: Duration = Field(description="Length of the window, e.g. 8h.")

    @field_validator("length")
    @classmethod
    def _end_is_a_date(cls, length: int, info: ValidationInfo) -> int:
        # `plan` prints start + length; a start in year 9999 must fail here, not there.
        start = info.data.get("start")
        if start is not None:
            try:
                start + timedelta(seconds=length)
            except OverflowError:
                raise ValueError("the window would end after the year 9999; check window.start") from None
        return length


class Plan(_Strict):
    """A migration plan: an ordered, resumable list of steps grouped in phases."""

    name: str = Field(pattern=STEP_ID, description="Short name; `migrator plan NAME` finds plans/NAME.yaml.")
    title: str = Field(description="One line, shown at the top of every view.")
    description: str | None = Field(None, description="What the plan achieves and for whom.")
    inventory: str = Field(
        description="Inventory file the plan expects, relative to the plan (override with --inventory)."
    )
    window: Window | None = Field(None, description="The maintenance window: planned start and length.")
    params: dict[str, str] = Field(
        default_factory=dict,
        description="Plan parameters for {{ params.NAME }}; values may use {{ hosts.* }} substitutions.",
    )
    phases: list[Phase] = Field(min_length=1, description="Phases in order: before, window, after.")

    def steps(self) -> list[Step]:
        """All steps in plan order."""
        return [step for phase in self.phases for step in phase.steps]

    def phase_of(self) -> dict[str, Phase]:
        """Step id -> its phase."""
        return {step.id: phase for phase in self.phases for step in phase.steps}
