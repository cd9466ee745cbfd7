"""One transport per host for a whole run: ``local``, ``off1``, ``off2/ct:101``.

Connections are opened lazily (a plan that only touches off2 never connects to off1) and
reused across steps, which is what makes a step cost milliseconds instead of a handshake.
Jump hosts named in the inventory (``jump: off1``) reuse that host's own connection.

A run can ask for its first hosts early (:meth:`Connections.prefetch`): their handshakes then
overlap the rest of the start-up (the store, the engine) instead of delaying the first step.

Known host keys come from ``~/.ssh/known_hosts``, the inventory's ``known_hosts`` file, the
host's own ``known_hosts`` file and any extra files given (the rehearsal lab's).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from migrator.errors import ConnectError
from migrator.executors.base import Transport
from migrator.executors.container import ContainerTransport
from migrator.executors.hostkeys import USER_KNOWN_HOSTS
from migrator.executors.local import LocalTransport
from migrator.executors.ssh import SSHTransport
from migrator.executors.sshconfig import DEFAULT_SSH_CONFIG
from migrator.plan.inventory import LOCAL, Inventory


class Connections:
    """Hands out and caches transports by target; ``close_all()`` at the end of a run."""

    def __init__(
        self,
        inventory: Inventory,
        *,
        inventory_dir: Path,
        redactor: Callable[[str], str],
        extra_known_hosts: Iterable[Path] = (),
        user_known_hosts: Path | None = USER_KNOWN_HOSTS,
        ssh_config: Path | None = DEFAULT_SSH_CONFIG,
    ) -> None:
        self.inventory = inventory
        self.inventory_dir = inventory_dir
        self.redactor = redactor
        self.extra_known_hosts = [Path(p) for p in extra_known_hosts]
        self.user_known_hosts = user_known_hosts
        self.ssh_config = ssh_config
        self._hosts: dict[str, SSHTransport] = {}
        self._local: LocalTransport | None = None
        self._lock = threading.RLock()
        self._connecting: list[threading.Thread] = []  # prefetches not yet awaited
        self._prefetch_failed: dict[str, Exception] = {}

    def prefetch(self, names: Iterable[str]) -> None:
        """Start connecting to these inventory hosts in the background (``local`` and unknown
        names are left alone). Nothing runs on them: the connection is only authenticated and
        kept. A failure is raised by the first use of the host, exactly as if that use had
        connected itself, so the error lands on the step that needed the host."""
        for name in dict.fromkeys(names):
            if name == LOCAL or name not in self.inventory.hosts:
                continue
            thread = threading.Thread(
                target=self._connect_early, args=(name,), name=f"connect-{name}", daemon=True
            )
            self._connecting.append(thread)
            thread.start()

    def _connect_early(self, name: str) -> None:
        try:
            self._cached(name).transport()
        except Exception as exc:  # kept, and raised by the host's first use (_await_prefetch)
            self._prefetch_failed[name] = exc

    def _await_prefetch(self, name: str) -> None:
        """Wait for the background connections, then raise ``name``'s failure if it had one.
        Called before taking ``_lock``, which the prefetch threads need."""
        while self._connecting:
            self._connecting.pop().join()
        failed = self._prefetch_failed.pop(name, None)
        if failed is not None:
            raise failed

    def for_target(self, target: str) -> Transport:
        """The transport for ``local``, a host name, or ``host/ct:CTID``."""
        name, ctid = self.inventory.resolve_target(target)
        self._await_prefetch(name)
        with self._lock:
            if name == LOCAL:
                if self._local is None:
                    self._local = LocalTransport(redactor=self.redactor)
                host_transport: SSHTransport | LocalTransport = self._local
            else:
                host_transport = self._cached(name)
        if ctid is not None:
            return ContainerTransport(host_transport, ctid)
        return host_transport

    def ssh(self, name: str) -> SSHTransport:
        """The (cached) SSH transport of inventory host ``name``, its jump host first."""
        self._await_prefetch(name)
        return self._cached(name)

    def _cached(self, name: str, _chain: tuple[str, ...] = ()) -> SSHTransport:
        with self._lock:
            cached = self._hosts.get(name)
            if cached is not None:
                return cached
            host = self.inventory.hosts.get(name)
            if host is None:
                raise ConnectError(
                    f"host '{name}' is not in inventory {self.inventory.name}",
                    hint=f"known hosts: {', '.join(sorted(self.inventory.hosts)) or 'none'}",
                )
            if name in _chain:
                raise ConnectError(
                    f"jump hosts loop: {' -> '.join((*_chain, name))}",
                    where=f"inventory {self.inventory.name}",
                    hint="fix `jump:` so the chain ends at a directly reachable host",
                )
            via = self._cached(host.jump, (*_chain, name)) if host.jump else None
            transport = SSHTransport(
                name,
                host,
                known_hosts=self.known_hosts_for(name),
                via=via,
                redactor=self.redactor,
                ssh_config=self.ssh_config,
                base_dir=self.inventory_dir,
            )
            self._hosts[name] = transport
            return transport

    def known_hosts_for(self, name: str) -> list[Path]:
        files: list[Path] = [] if self.user_known_hosts is None else [self.user_known_hosts]
        host = self.inventory.hosts[name]
        for configured in (self.inventory.known_hosts, host.known_hosts):
            if configured:
                path = Path(configured).expanduser()
                files.append(path if path.is_absolute() else self.inventory_dir / path)
        return [*files, *self.extra_known_hosts]

    def reconnect(self, target: str) -> None:
        """Drop ``target``'s host connection (after a reboot or a re-pinned key); reopened on next use."""
        name, _ = self.inventory.resolve_target(target)
        self._await_prefetch(name)
        with self._lock:
            transport = self._hosts.get(name)
        if transport is not None:
            transport.close()  # closing keeps the object usable: the next run() connects afresh

    def close_all(self) -> None:
        while self._connecting:  # a connection still being made would outlive the close
            self._connecting.pop().join()
        self._prefetch_failed.clear()  # hosts never used: their failure concerns nobody
        with self._lock:
            transports = list(self._hosts.values())
            self._hosts.clear()
        # Close the targets before the jump hosts their tunnels run through.
        for transport in reversed(transports):
            transport.close()
