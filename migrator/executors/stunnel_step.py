"""The ``stunnel`` step kind: PSK files, config deployment with an on-host parse test, live verify.

One step does one action of :class:`~migrator.plan.model.StunnelAction` on its host:

* ``psk`` (on a tunnel's server): the key deployed is the value of the tunnel's ``secret:``
  reference (``env:NAME`` / ``file:PATH``, resolved here, registered with the redactor). A
  missing server file is written from it (through stdin); an existing one must hold the same
  identity and key, else the step stops and says so, with fingerprints only (which side is
  right is the operator's call: remove the server's file, or fix the reference). Every
  client's file is then made identical, comparing ``sha256`` fingerprints computed on the
  hosts. Files are 0600 in a 0700 directory. Only fingerprints come out
  (``values["psk_fingerprint"]``). Running it again changes nothing.
* ``config``: render the host's ``off.conf`` and the systemd drop-in, upload the config as
  ``off.conf.new``, let stunnel parse a loopback copy **on the host** (a restart cuts every
  tunnel there, pitfall 16), and only then move it into place (the old one kept as
  ``off.conf.previous``), install the drop-in and ``systemctl daemon-reload``; with
  ``restart: true``, ``systemctl enable`` + ``restart stunnel@off``.
* ``verify``: ``ss -ltnH`` against the rendered config (:func:`listening_problems`: client
  listeners only where declared, never on a wildcard; every accept listening), the deployed
  file equal to the rendered one, and ``systemctl is-active stunnel@off``.

The tunnel inventory is read and checked against the January 2024 invariants on every step
(the plan validated it, but the file may have changed since): an unsafe inventory is never
deployed. ``StunnelStepOptions.root`` prefixes every remote path, so tests can aim the real
commands at a temp dir; production and the lab use none.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from migrator.errors import ExecutorError, MigratorError
from migrator.executors import stunnel_remote as remote
from migrator.executors.base import ActionOutcome, CommandResult, StepContext, Transport
from migrator.plan.model import Step, StunnelAction
from migrator.secrets import Redactor, resolve
from migrator.stunnel.load import load_tunnels, locate
from migrator.stunnel.model import ClientSide, ServerSide, TunnelInventory, split_host_port
from migrator.stunnel.parse import loopback_copy
from migrator.stunnel.parse_ss import parse_ss_listeners
from migrator.stunnel.psk import render_psk_file
from migrator.stunnel.render import CONFIG_PATH, DROPIN_PATH, RenderOptions, render_host
from migrator.stunnel.validate import listening_problems, validate_tunnels

UNIT = "stunnel@off"
DEFAULT_PID_DIR = RenderOptions().pid_dir
DEFAULT_PSK_DIR = RenderOptions().psk_dir


@dataclass(frozen=True)
class StunnelStepOptions:
    """How the step reaches its files. The defaults are production's (and the lab's)."""

    root: str = ""
    """Prefix of every remote path; ``{host}`` becomes the host target made path-safe."""
    drop_privileges: bool = True
    """``setuid``/``setgid = stunnel4`` in the rendered config."""
    debug: str | None = None
    """stunnel ``debug`` level written into the config."""
    systemctl: str = "systemctl"
    command_timeout: float = 120.0


def fingerprint_of(sha_hex: str) -> str:
    """The shown form of a file's sha256 (as :func:`migrator.secrets.fingerprint` shows values)."""
    return "sha256:" + sha_hex[:16]


class StunnelSteps:
    """Runs ``kind: stunnel`` steps through the transports of :class:`Connections`."""

    def __init__(self, transport_for: Callable[[str], Transport], redactor: Redactor, *, plan_dir: Path,
                 options: StunnelStepOptions | None = None) -> None:
        self.transport_for = transport_for
        self.redactor = redactor
        self.plan_dir = plan_dir
        self.options = options or StunnelStepOptions()

    def run(self, step: Step, ctx: StepContext) -> ActionOutcome:
        action = step.stunnel
        if action is None:
            raise ExecutorError("a stunnel step needs `stunnel:`", where=f"step {step.id}")
        inventory = self._inventory(step, action)
        if action.services and action.action != "psk":
            # one tunnel at a time: only the sections rolled out so far
            kept = [t for t in inventory.tunnels if t.service in action.services]
            inventory = inventory.model_copy(update={"tunnels": kept})
        if action.action == "psk":
            return self._psk(step, action, inventory)
        if action.action == "config":
            return self._config(step, action, inventory, ctx)
        return self._verify(step, action, inventory)

    # ------------------------------------------------------------ shared

    def _inventory(self, step: Step, action: StunnelAction) -> TunnelInventory:
        path = self.plan_dir / action.tunnels
        try:
            loaded = load_tunnels(path, str(path))
        except MigratorError as exc:
            raise ExecutorError(f"tunnel inventory {path} does not load: {exc.message}",
                                where=f"step {step.id}", hint=exc.hint) from exc
        problems = [locate(p, loaded.source) for p in validate_tunnels(loaded.inventory)]
        if problems:
            raise ExecutorError(
                f"tunnel inventory {path} breaks the stunnel invariants; not deploying it: "
                + "; ".join(problems[:5]),
                where=f"step {step.id}", hint="fix the file, then `migrator validate` the plan")
        return loaded.inventory

    def _path(self, host: str, path: str) -> str:
        safe = host.replace("/", "_").replace(":", "")
        return self.options.root.replace("{host}", safe) + path

    def _render_options(self, host: str, action: StunnelAction) -> RenderOptions:
        drop = self.options.drop_privileges
        return RenderOptions(
            pid_dir=self._path(host, DEFAULT_PID_DIR), psk_dir=self._path(host, DEFAULT_PSK_DIR),
            setuid="stunnel4" if drop else None, setgid="stunnel4" if drop else None,
            debug=self.options.debug, source=action.tunnels)

    def _sh(self, transport: Transport, step: Step, script: str, *, stdin: str | None = None,
            what: str, check: bool = True) -> CommandResult:
        # on_line is left out on purpose: these outputs may be PSK material; they stay in memory.
        result = transport.run(script, stdin=stdin, timeout=self.options.command_timeout, sudo=step.sudo)
        if check and not result.ok:
            raise ExecutorError(
                f"{what} failed on {transport.target} (exit {result.exit_code}): "
                + self.redactor(result.stderr.strip() or result.stdout.strip())[-500:],
                where=f"step {step.id}", hint="run it by hand on the host to see why")
        return result

    # ------------------------------------------------------------ psk

    def _psk(self, step: Step, action: StunnelAction, inventory: TunnelInventory) -> ActionOutcome:
        tunnel = next((t for t in inventory.tunnels if t.service == action.service), None)
        if tunnel is None or tunnel.server.host != step.host:
            raise ExecutorError(f"no tunnel {action.service} with its server on {step.host}",
                                where=f"step {step.id}", hint="plan validation checks this: re-validate")
        identity, reference = tunnel.psk.identity, tunnel.psk.secret
        # The reference's value is the key that gets deployed (resolved first: an unset
        # reference stops the step before anything is touched).
        key = resolve(reference, redactor=self.redactor, where=f"step {step.id}, tunnel {tunnel.service}")
        wanted = render_psk_file(identity, key)
        wanted_sha = hashlib.sha256(wanted.encode()).hexdigest()
        server = self.transport_for(step.host)
        path = self._render_options(step.host, action).psk_file(tunnel.psk.name)
        sha, found_identity = self._psk_state(server, step, path)
        content: str | None = wanted
        if sha is None:
            self._sh(server, step, remote.write_private(path), stdin=wanted, what="writing the PSK file")
            sha, found_identity = self._psk_state(server, step, path)
            server_note = "written"
        elif sha == wanted_sha:
            self._sh(server, step, remote.tighten(path), what="setting PSK file modes")
            server_note = "kept"
        else:
            # The file may hold the same key written differently (no final newline): only a
            # different identity or key is a disagreement.
            content = self._read_server_psk(server, step, path, sha)
            found_identity, _, found_key = content.strip().partition(":")
            if (found_identity, found_key.strip()) != (identity, key):
                raise ExecutorError(
                    f"the PSK file {path} on {step.host} ({fingerprint_of(sha)}, identity "
                    f"'{found_identity}') disagrees with {reference} ({fingerprint_of(wanted_sha)}, identity "
                    f"'{identity}'); nothing was changed", where=f"step {step.id}",
                    hint="if the reference holds the key to deploy, remove the server's file and run the "
                    "step again (every client then gets it); else put the server's key in the reference")
            self._sh(server, step, remote.tighten(path), what="setting PSK file modes")
            server_note = "kept"
        if sha is None or found_identity != identity:
            raise ExecutorError(
                f"the PSK file {path} on {step.host} has identity '{found_identity}', the inventory says "
                f"'{identity}'", where=f"step {step.id}",
                hint="fix the inventory, or remove the file so that the reference's key is written")
        written, same = [], []
        for client in tunnel.clients:
            transport = self.transport_for(client.host)
            client_path = self._render_options(client.host, action).psk_file(tunnel.psk.name)
            client_sha, _ = self._psk_state(transport, step, client_path)
            if client_sha == sha:
                self._sh(transport, step, remote.tighten(client_path), what="setting PSK file modes")
                same.append(client.host)
                continue
            self._sh(transport, step, remote.write_private(client_path), stdin=content,
                     what="writing the PSK file")
            if self._psk_state(transport, step, client_path)[0] != sha:
                raise ExecutorError(f"the PSK file on {client.host} still differs after writing it",
                                    where=f"step {step.id}", hint="check the disk and the directory there")
            written.append(client.host)
        shown = fingerprint_of(sha)
        summary = (f"PSK {tunnel.psk.name} ({identity}) {shown} from {reference}: {server_note} on "
                   f"{step.host}; written to {', '.join(written) or 'no client'}; already identical on "
                   f"{', '.join(same) or 'no client'}")
        return ActionOutcome(ok=True, summary=summary, evidence=summary, values={
            "psk_fingerprint": shown, "psk_identity": identity,
            "psk_server": server_note, "psk_written_to": ",".join(written)})

    def _psk_state(self, transport: Transport, step: Step, path: str) -> tuple[str | None, str | None]:
        result = self._sh(transport, step, remote.psk_state(path), what="reading the PSK file state")
        return remote.parse_psk_state(result.stdout)

    def _read_server_psk(self, server: Transport, step: Step, path: str, sha: str) -> str:
        result = self._sh(server, step, remote.read_base64(path), what="reading the server's PSK file")
        encoded = result.stdout.strip()
        self.redactor.add(encoded)
        try:
            content = base64.b64decode(encoded, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise ExecutorError(f"the PSK file on {server.target} did not read back as text",
                                where=f"step {step.id}", hint="look at the file's encoding") from exc
        _, _, key = content.partition(":")
        self.redactor.add(key.strip())
        if hashlib.sha256(content.encode()).hexdigest() != sha:
            raise ExecutorError(f"the PSK file on {server.target} changed while it was read",
                                where=f"step {step.id}", hint="run the step again")
        return content

    # ------------------------------------------------------------ config

    def _config(self, step: Step, action: StunnelAction, inventory: TunnelInventory,
                ctx: StepContext) -> ActionOutcome:
        host = step.host
        files = render_host(inventory, host, self._render_options(host, action))
        config, dropin = files[CONFIG_PATH], files[DROPIN_PATH]
        target, dropin_path = self._path(host, CONFIG_PATH), self._path(host, DROPIN_PATH)
        new = target + ".new"
        transport = self.transport_for(host)
        before = self._sh(transport, step, remote.sha256(target), what="reading the config").stdout.strip()
        self._sh(transport, step, remote.write_public(new), stdin=config, what=f"uploading {new}")

        workdir = f"/tmp/migrator-stunnel-check-{uuid.uuid4().hex}"
        copy = loopback_copy(config, Path(PurePosixPath(workdir)))
        parsed = self._sh(transport, step, remote.parse_test(workdir), stdin=copy,
                          what="the stunnel parse test", check=False)
        if not parsed.ok:
            errors = remote.locate_parse_errors(self.redactor(parsed.stdout), workdir, new)
            if parsed.exit_code == remote.PARSE_EXIT_NO_STUNNEL:
                errors = ["stunnel is not installed on the host (apt-get install stunnel4)"]
            detail = "; ".join(errors) or self.redactor(parsed.stdout + parsed.stderr).strip()[-800:]
            return ActionOutcome(
                ok=False, exit_code=parsed.exit_code,
                summary=f"stunnel refused the new config on {host}; nothing was moved into place",
                evidence=f"parse test of {new}: {detail}\n{new} is left on the host for inspection",
                stdout=self.redactor(parsed.stdout)[-4000:])
        ctx.on_line("stdout", f"{host}: stunnel parsed {new}")

        self._sh(transport, step, remote.move_into_place(new, target), what=f"moving {new} into place")
        self._sh(transport, step, remote.write_unless_linked(dropin_path), stdin=dropin,
                 what="writing the drop-in")
        systemctl = self.options.systemctl
        self._sh(transport, step, f"{systemctl} daemon-reload", what="systemctl daemon-reload")
        changed = before != hashlib.sha256(config.encode()).hexdigest()
        restarted = "no"
        if action.restart:
            ctx.on_line("stdout", f"{host}: restarting {UNIT} (every tunnel on this host drops briefly)")
            self._sh(transport, step, f"{systemctl} enable {UNIT} && {systemctl} restart {UNIT}",
                     what=f"restarting {UNIT}")
            restarted = "yes"
        summary = (f"{target} on {host}: {'changed' if changed else 'unchanged'}, parse test passed, "
                   f"drop-in installed, {'restarted' if action.restart else 'not restarted'}")
        return ActionOutcome(ok=True, summary=summary, evidence=summary, values={
            "config_sha256": fingerprint_of(hashlib.sha256(config.encode()).hexdigest()),
            "config_changed": "yes" if changed else "no", "restarted": restarted})

    # ------------------------------------------------------------ verify

    def _verify(self, step: Step, action: StunnelAction, inventory: TunnelInventory) -> ActionOutcome:
        host = step.host
        config = render_host(inventory, host, self._render_options(host, action))[CONFIG_PATH]
        transport = self.transport_for(host)
        ss = self._sh(transport, step, "ss -ltnH", what="ss -ltnH")
        own = own_listeners(ss.stdout, inventory, host)
        found = [p.describe() for p in listening_problems(own, config, host=host)]
        deployed = self._sh(transport, step, remote.sha256(self._path(host, CONFIG_PATH)),
                            what="reading the deployed config").stdout.strip()
        if deployed != hashlib.sha256(config.encode()).hexdigest():
            found.append(f"the deployed {CONFIG_PATH} differs from the rendered one (run the config step)")
        state = self._sh(transport, step, f"{self.options.systemctl} is-active {UNIT}",
                         what=f"systemctl is-active {UNIT}", check=False).stdout.strip()
        if state != "active":
            found.append(f"{UNIT} is {state or 'unknown'}, not active (journalctl -u {UNIT})")
        evidence = "\n".join([f"ss -ltnH on {host}:", own.rstrip(), f"{UNIT}: {state}", *found])
        if found:
            return ActionOutcome(ok=False, summary=f"stunnel on {host}: {len(found)} problem(s): {found[0]}",
                                 evidence=evidence, values={"problems": str(len(found))})
        return ActionOutcome(ok=True, summary=f"stunnel on {host}: listeners match the config, {UNIT} active",
                             evidence=evidence, values={"problems": "0", **accept_values(inventory, host)})


def accept_values(inventory: TunnelInventory, host: str) -> dict[str, str]:
    """``<service>_accept``, ``_host`` and ``_port`` of each end on ``host``, for later probes.

    The plan's probes take the client's address from here, so the same plan probes production
    and the lab (whose tunnel file puts everything on 127.x).
    """
    values: dict[str, str] = {}
    for tunnel in inventory.tunnels:
        ends: list[ServerSide | ClientSide] = [tunnel.server, *tunnel.clients]
        for end in ends:
            if end.host != host:
                continue
            accept = split_host_port(end.accept)
            values[f"{tunnel.service}_accept"] = end.accept
            values[f"{tunnel.service}_port"] = str(accept.port)
            if accept.host is not None:
                values[f"{tunnel.service}_host"] = accept.host
    return values


def _addresses_of(inventory: TunnelInventory, host: str) -> set[str]:
    facts = inventory.hosts.get(host)
    found = set(facts.private_addresses + facts.public_addresses) if facts else set()
    for tunnel in inventory.tunnels:
        ends: list[ServerSide | ClientSide] = [tunnel.server, *tunnel.clients]
        accepts = [split_host_port(e.accept) for e in ends if e.host == host]
        # a wildcard is nobody's own address: it must never be filtered out
        found.update(a.host for a in accepts if a.host is not None and not a.is_wildcard)
    return {n for address in found if (n := _normal(address)) is not None}


def _normal(address: str | None) -> str | None:
    """An IP address in canonical text, or None (a DNS name or a wildcard-ish ``*``)."""
    try:
        return str(ipaddress.ip_address(address or ""))
    except ValueError:
        return None


def own_listeners(ss_output: str, inventory: TunnelInventory, host: str) -> str:
    """``ss`` lines minus those on addresses only *other* tunnel hosts have.

    In production every host has its own network namespace, so nothing is dropped. In the
    rehearsal lab the hosts share one, and another host's accept on the same port would read
    as an undeclared listener here. Wildcards and unknown addresses are always kept.
    """
    mine = _addresses_of(inventory, host)
    others: set[str] = set()
    for name in inventory.host_names():
        if name != host:
            others |= _addresses_of(inventory, name)
    foreign = others - mine
    kept = []
    for line in ss_output.splitlines():
        listeners = parse_ss_listeners(line)
        if listeners and _normal(listeners[0].address.host) in foreign:
            continue
        kept.append(line)
    return "\n".join(kept) + ("\n" if kept else "")
