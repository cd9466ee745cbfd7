"""The executor registry: the engine's one :class:`StepRunner`, dispatching by step kind.

* ``ssh`` / ``local``: the step's command on ``connections.for_target(step.host)`` (or the
  local machine), secrets by environment or stdin (:mod:`migrator.executors.steps`);
* ``proxmox``: the call on the endpoint's client, one client per endpoint, cached;
* ``wait``: ``step.until`` probed every ``step.interval`` until it passes or the timeout ends;
* ``manual``: the operator walks the checklist (:mod:`migrator.executors.manual`);
* ``stunnel``: PSK, config or verify on a tunnel host (:mod:`migrator.executors.stunnel_step`),
  the tunnel file read relative to ``plan_dir``.

``expect_new_host_key`` (a host was reinstalled): the registry fetches the key the host now
presents, shows its ``SHA256:`` fingerprint and asks the operator to compare it with the
console; only a yes pins it in the inventory's known_hosts, and the host is reconnected. A
no raises :class:`HostKeyError` and nothing runs. It happens before an ssh/local/proxmox
action, after a manual step's checklist (the person reinstalls first), and inside a wait
step's loop once the host answers again.

Secret outputs are flagged in :attr:`ActionOutcome.secret_values`; the engine keeps their
values in memory for later steps of the run (they come back rendered in ``ctx.command``) and
stores only their fingerprint.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from migrator.checks import describe
from migrator.errors import ConnectError, ExecutorError, HostKeyError, RunStateError
from migrator.executors.base import ActionOutcome, Prompter, StepContext, StepRunner, to_shell
from migrator.executors.checking import UNREACHABLE, CheckProber, unreachable
from migrator.executors.command import render
from migrator.executors.connections import Connections
from migrator.executors.detached import JOBS_DIR, JOBS_DIR_VAR
from migrator.executors.hostkeys import (
    fetch_host_key,
    key_fingerprint,
    known_hosts_name,
    load_known_hosts,
    pin_host_key,
)
from migrator.executors.manual import LabHooks, confirm_checklist, run_manual_step
from migrator.executors.steps import (
    render_value,
    resolve_secrets,
    run_command_step,
    run_proxmox_step,
    run_wait_step,
)
from migrator.plan.inventory import LOCAL, Inventory
from migrator.plan.load import plans_dir
from migrator.plan.model import StepKind
from migrator.secrets import Redactor

if TYPE_CHECKING:
    from paramiko import PKey

    from migrator.checks.base import CheckResult
    from migrator.executors.detached_step import DetachedJob, FollowSettings
    from migrator.executors.proxmox import ProxmoxClient
    from migrator.executors.stunnel_step import StunnelStepOptions, StunnelSteps
    from migrator.plan.checks import Check, Command
    from migrator.plan.model import Step


class Executors:
    """Implements :class:`~migrator.executors.base.StepRunner` with real I/O."""

    def __init__(
        self,
        loaded_plan_inventory: Inventory,
        *,
        inventory_dir: Path,
        prompter: Prompter,
        redactor: Redactor,
        confirm_manual: bool = False,
        lab: LabHooks | None = None,
        connections: Connections | None = None,
        plan_dir: Path | None = None,
        stunnel_options: StunnelStepOptions | None = None,
    ) -> None:
        self.inventory = loaded_plan_inventory
        self.inventory_dir = inventory_dir
        self.prompter = prompter
        self.redactor = redactor
        self.confirm_manual = confirm_manual
        self.lab = lab
        self.connections = connections or Connections(
            loaded_plan_inventory, inventory_dir=inventory_dir, redactor=redactor
        )
        self._clients: dict[str, ProxmoxClient] = {}
        # stunnel steps name their tunnel file relative to the plan (default: the plans dir)
        self._stunnel_setup = (plan_dir or plans_dir(), stunnel_options)
        self._stunnel: StunnelSteps | None = None  # built by the first stunnel step (~15 ms of imports)
        self.follow_settings: FollowSettings | None = None
        """How detached jobs are followed (poll interval, reconnect backoff); None: defaults."""
        self._prober = CheckProber(
            loaded_plan_inventory,
            transport_for=self.connections.for_target,
            api_for=self._client,
            redactor=redactor,
        )
        self._actions: dict[StepKind, Callable[[Step, StepContext], ActionOutcome]] = {
            StepKind.SSH: self._command,
            StepKind.LOCAL: self._command,
            StepKind.PROXMOX: self._proxmox,
            StepKind.WAIT: self._wait,
            StepKind.MANUAL: self._manual,
            StepKind.STUNNEL: self._stunnel_step,
        }

    # ------------------------------------------------------------ StepRunner

    def execute(self, step: Step, ctx: StepContext) -> ActionOutcome:
        self._refuse_dry_run(step, ctx, "action")
        if step.expect_new_host_key and step.kind in (StepKind.SSH, StepKind.LOCAL, StepKind.PROXMOX):
            self.accept_new_host_key(step, ctx)
        return self._actions[step.kind](step, ctx)

    def rollback(self, step: Step, ctx: StepContext) -> ActionOutcome:
        self._refuse_dry_run(step, ctx, "rollback")
        undo = step.rollback
        if undo is None or (undo.command is None and undo.instructions is None):
            raise RunStateError(
                "the step has no rollback",
                where=f"step {step.id}",
                hint=step.irreversible or "undo it by hand and mark the step",
            )
        if undo.command is not None:
            # The rollback runs where the action ran, with the same secrets, sudo and timeout.
            target = LOCAL if step.kind == StepKind.LOCAL else step.host
            if step.detach and step.command is not None and ctx.attempt > 0:
                # Undoing a step whose job still runs would race it: stop the job first.
                self._detached(step, ctx, target, step.command, {}).cancel("stopped for its rollback")
            plain = step.model_copy(update={"outputs": {}, "detach": False})
            return self._run_command(plain, ctx, undo.command, target)
        return confirm_checklist(
            title=f"Roll back {step.id}: {step.title}",
            instructions=undo.instructions or "",
            items=[f"Rolled back: {step.title}"],
            prompter=self.prompter,
            auto=self.confirm_manual,
            where=f"rollback of step {step.id}",
        )

    def check(self, check: Check, step: Step, ctx: StepContext) -> CheckResult:
        return self._prober.check(check, step)

    def _stunnel_step(self, step: Step, ctx: StepContext) -> ActionOutcome:
        if self._stunnel is None:
            from migrator.executors.stunnel_step import StunnelSteps

            plan_dir, options = self._stunnel_setup
            self._stunnel = StunnelSteps(self.connections.for_target, self.redactor, plan_dir=plan_dir,
                                         options=options)  # fmt: skip
        return self._stunnel.run(step, ctx)

    def connect_early(self, steps: Iterable[Step]) -> None:
        """Start the SSH connections these steps will use, in the background (see
        :meth:`Connections.prefetch`). A host whose step expects a new host key is left alone:
        its key is shown to the operator first."""
        hosts = [
            self.inventory.resolve_target(step.host)[0]
            for step in steps
            if step.kind in (StepKind.SSH, StepKind.STUNNEL, StepKind.WAIT) and not step.expect_new_host_key
        ]
        self.connections.prefetch(hosts)

    def close(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()
        self.connections.close_all()

    # ------------------------------------------------------------ step kinds

    def _command(self, step: Step, ctx: StepContext) -> ActionOutcome:
        if step.command is None:
            raise ExecutorError(f"a {step.kind.value} step needs a command", where=f"step {step.id}")
        target = LOCAL if step.kind == StepKind.LOCAL else step.host
        return self._run_command(step, ctx, step.command, target)

    def _run_command(self, step: Step, ctx: StepContext, command: Command, target: str) -> ActionOutcome:
        where = f"step {step.id}"
        env, stdin = resolve_secrets(step, self.redactor)
        # Rendered once, by the engine (ctx.command); a rollback renders its own command here.
        rendered = ctx.command or render(command, ctx.outputs, {}, where=where, redact=self.redactor)
        output_env = dict(rendered.env)
        if step.detach and step.kind == StepKind.SSH:
            return self._detached(step, ctx, target, rendered.command, {**env, **output_env}).run()
        transport = self.connections.for_target(target)
        return run_command_step(
            step,
            ctx,
            transport,
            self.redactor,
            command=rendered.command,
            env={**env, **output_env},
            stdin=stdin,
        )

    def _detached(
        self, step: Step, ctx: StepContext, target: str, command: Command, env: dict[str, str]
    ) -> DetachedJob:
        from migrator.executors.detached_step import DetachedJob, follow_settings

        if env:
            raise ExecutorError(
                "a detached step cannot take secrets: the job outlives the session that carries them",
                where=f"step {step.id}",
                hint="drop detach: for this step",
            )
        name, _ = self.inventory.resolve_target(target)
        host = self.inventory.hosts.get(name)
        jobs_dir = (host.vars.get(JOBS_DIR_VAR) if host is not None else None) or JOBS_DIR
        return DetachedJob(
            step,
            ctx,
            lambda: self.connections.for_target(target),
            lambda: self.connections.reconnect(target),
            self.redactor,
            command=to_shell(command),
            jobs_dir=str(jobs_dir),
            settings=follow_settings(self.follow_settings, step),
        )

    def stop_job(self, step: Step, ctx: StepContext, why: str) -> str:
        """Stop the detached job of ``ctx.attempt`` of ``step`` on its host (an abort while no
        migrator follows it); what was done there. Raises ConnectError when the host is out of reach."""
        if step.command is None:
            return "no command"
        from migrator.executors.detached_step import FollowSettings

        job = self._detached(step, ctx, step.host, step.command, {})
        job.settings = FollowSettings(give_up=0.0)  # one try: the operator is waiting
        return job.cancel(why)

    def _proxmox(self, step: Step, ctx: StepContext) -> ActionOutcome:
        if step.call is None:
            raise ExecutorError("a proxmox step needs a call", where=f"step {step.id}")
        where = f"step {step.id}"
        call = step.call.model_copy(
            update={
                "path": render_value(step.call.path, ctx, where=where),
                "params": render_value(dict(step.call.params), ctx, where=where),
            }
        )
        client = self._client(step.call.endpoint or step.host)
        return run_proxmox_step(step, ctx, client, call, self.redactor)

    def _manual(self, step: Step, ctx: StepContext) -> ActionOutcome:
        outcome = run_manual_step(step, self.prompter, confirm_manual=self.confirm_manual, lab=self.lab)
        if outcome.ok and step.expect_new_host_key:
            fingerprint = self.accept_new_host_key(step, ctx)
            outcome.evidence = f"{outcome.evidence}\nnew host key confirmed and pinned: {fingerprint}"
        return outcome

    def _wait(self, step: Step, ctx: StepContext) -> ActionOutcome:
        until = step.until
        if until is None:
            raise ExecutorError("a wait step needs `until`", where=f"step {step.id}")
        key_pending = step.expect_new_host_key

        def probe() -> CheckResult:
            nonlocal key_pending
            if key_pending:
                # The host is coming back from a reinstall: until sshd answers, it is not up.
                try:
                    self.accept_new_host_key(step, ctx)
                except HostKeyError:
                    raise
                except ConnectError as exc:
                    return unreachable(until, self.redactor(exc.message))
                key_pending = False
            result = self._prober.check(until, step)
            if result.observed.startswith(UNREACHABLE):
                # A rebooting host kills cached connections: start afresh on the next probe.
                self._reconnect(until.probe_from or step.host)
            return result

        return run_wait_step(step, ctx, probe, describe_until=describe(until))

    # ------------------------------------------------------------ host keys

    def accept_new_host_key(self, step: Step, ctx: StepContext | None = None) -> str:
        """Show the host's new key, pin it if the operator confirms, reconnect; its fingerprint.

        Raises :class:`ConnectError` when the host does not answer, :class:`HostKeyError`
        when the operator refuses the key.
        """
        name, _ = self.inventory.resolve_target(step.host)
        host = self.inventory.hosts.get(name)
        if host is None:
            raise ExecutorError(
                f"expect_new_host_key needs an SSH host, and '{name}' is not one in inventory "
                f"{self.inventory.name}",
                where=f"step {step.id}",
            )
        key = fetch_host_key(host.address, host.port)
        fingerprint = key_fingerprint(key)
        entry = known_hosts_name(host.address, host.port)
        if self._already_trusted(name, entry, key):
            # A resumed step after the pin, or a host not reinstalled after all: this key is
            # trusted already, so asking again would only train operators to say yes.
            return fingerprint
        question = (
            f"{name} ({host.address}:{host.port}) now presents the SSH host key {key.get_name()} "
            f"{fingerprint} - does it match the console? "
        )
        if not self.prompter.confirm(question):
            raise HostKeyError(
                f"the operator did not confirm the new host key {fingerprint} of {name}",
                where=f"step {step.id}",
                hint="compare with `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on the console; "
                "if it differs, stop: someone else may be answering",
            )
        pinned = self._known_hosts_file(name)
        pin_host_key(pinned, entry, key)
        if ctx is not None:
            ctx.decide(
                "host_key",
                "accept",
                f"{name} ({host.address}:{host.port}) {key.get_name()} {fingerprint} confirmed as matching "
                f"the console; pinned in {pinned}",
            )
        self._reconnect(step.host)
        return fingerprint

    def _already_trusted(self, name: str, entry: str, key: PKey) -> bool:
        known = load_known_hosts(self.connections.known_hosts_for(name))
        if known.is_revoked(key):
            return False
        pinned = known.keys.lookup(entry)
        same_type = None if pinned is None else pinned.get(key.get_name())
        return same_type is not None and same_type.asbytes() == key.asbytes()

    def _known_hosts_file(self, name: str) -> Path:
        """Where a confirmed key is pinned: the host's own file, else the inventory's."""
        host = self.inventory.hosts[name]
        configured = host.known_hosts or self.inventory.known_hosts
        if configured is None:
            raise HostKeyError(
                f"no known_hosts file to pin the new key of {name} into",
                where=f"inventory {self.inventory.name}",
                hint="set known_hosts: in the inventory (migrator never writes ~/.ssh/known_hosts)",
            )
        path = Path(configured).expanduser()
        return path if path.is_absolute() else self.inventory_dir / path

    # ------------------------------------------------------------ plumbing

    @staticmethod
    def _refuse_dry_run(step: Step, ctx: StepContext, what: str) -> None:
        # The engine never acts in a dry-run; if it ever asked, doing real I/O would be the worst answer.
        if ctx.dry_run:
            raise RunStateError(
                f"refusing to run the {what} in a dry-run",
                where=f"step {step.id}",
                hint="this is a bug in the engine: dry-runs may only probe checks",
            )

    def _client(self, target: str) -> ProxmoxClient:
        endpoint, _ = self.inventory.resolve_target(target)
        client = self._clients.get(endpoint)
        if client is None:
            # Imported here: requests + proxmoxer cost ~0.1 s at start-up, and only plans
            # with proxmox steps need them.
            from migrator.executors.proxmox import open_client

            client = open_client(self.inventory, endpoint, self.redactor)
            self._clients[endpoint] = client
        return client

    def _reconnect(self, target: str) -> None:
        """Drop ``target``'s connection; it reconnects (reloading known_hosts) on next use."""
        self.connections.reconnect(target)


def _is_a_step_runner(executors: Executors) -> StepRunner:
    """Never called: lets mypy prove that Executors satisfies the engine's protocol."""
    return executors
