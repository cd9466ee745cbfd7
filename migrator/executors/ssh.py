"""Run commands on a host over SSH with paramiko: one connection per host, reused.

Why it is built this way (see reference/libraries.md §3 and perf-baseline.md):

* The socket is ours, with ``TCP_NODELAY`` (else every exec stalls ~40 ms on Nagle + delayed
  ACK, 15x slower) and TCP keepalives (paramiko's own keepalive never detects a dead peer).
* stdout and stderr are drained together in one loop (:mod:`.ssh_session`): reading one to EOF first
  deadlocks once the other passes the channel window (~2 MB).
* Closing a channel does not stop a PTY-less remote command. sshd starts every session in a
  new session (``setsid``), so the login shell's ``$$`` is the process group of everything
  the command starts; the wrapper prints it first, and a timeout sends ``kill -TERM -PGID``
  (then KILL) over a second channel.
* Secrets travel on stdin (see :mod:`migrator.executors.shellwrap`), never on the command line.
* A command gets its own ``sh -c`` (its syntax is sh's whatever the login shell), except a
  plain program call with no env and no sudo (``zpool list -H``, ``true``): the login shell execs it
  directly after the PGID line, which is the same to the command and saves an exec of sh
  (~0.6 ms, a quarter of a trivial step); see ``shellwrap.direct_command``.
* While a command runs, the next command's session channel is opened (a "spare"): the open's
  round trip overlaps the command instead of the next step's start. A session channel runs
  nothing until its exec request.
* Right after authenticating, one SSH_MSG_IGNORE acks sshd's two post-auth messages, which
  otherwise hold the first channel's confirmation ~40 ms (Nagle on sshd's side).
"""

from __future__ import annotations

import logging
import shlex
import socket
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import paramiko

from migrator.errors import CommandTimeout, ConnectError, HostKeyError, OutcomeUnknown
from migrator.executors.base import CommandResult, LineSink, no_output, to_shell
from migrator.executors.hostkeys import (
    StrictHostKeyPolicy,
    changed_key_error,
    key_fingerprint,
    load_known_hosts,
)
from migrator.executors.shellwrap import (
    direct_command,
    inner_script,
    kill_group_command,
    sudo_prefix,
)
from migrator.executors.ssh_session import PGID_MARKER, CommandSession, request_exec
from migrator.executors.sshconfig import DEFAULT_SSH_CONFIG, Endpoint, load_ssh_config, resolve_endpoint
from migrator.plan.checks import Command
from migrator.plan.inventory import Host

CONNECT_TIMEOUT = 10.0
KEEPALIVE_INTERVAL = 15
KILL_GRACE = 3.0
ACK_NUDGE_DELAY = 0.003  # after authenticating: time for sshd's two small messages to arrive

log = logging.getLogger(__name__)

__all__ = ["PGID_MARKER", "SSHTransport", "tuned_socket"]


def _identity(text: str) -> str:
    return text


def tuned_socket(address: str, port: int, timeout: float) -> socket.socket:
    """A connected TCP socket with NODELAY and keepalives (dead peer noticed in ~60 s)."""
    sock = socket.create_connection((address, port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for name, value in (("TCP_KEEPIDLE", 30), ("TCP_KEEPINTVL", 10), ("TCP_KEEPCNT", 3)):
        if hasattr(socket, name):  # Linux names; other systems keep their defaults
            sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, name), value)
    return sock


class SSHTransport:
    """A :class:`~migrator.executors.base.Transport` to one host over SSH."""

    def __init__(
        self,
        target_name: str,
        host: Host,
        *,
        known_hosts: list[Path],
        via: SSHTransport | None = None,
        redactor: Callable[[str], str] | None = None,
        ssh_config: Path | None = DEFAULT_SSH_CONFIG,
        base_dir: Path | None = None,
        connect_timeout: float = CONNECT_TIMEOUT,
        follow_proxy_jump: bool = True,
    ) -> None:
        self.target = target_name
        self.host = host
        self.known_hosts = list(known_hosts)
        self.redact = redactor or _identity
        self.connect_timeout = connect_timeout
        self.endpoint: Endpoint = resolve_endpoint(
            host, load_ssh_config(ssh_config), base_dir=base_dir, follow_proxy_jump=follow_proxy_jump
        )
        self.via = via
        self._owned_hops: list[SSHTransport] = []
        if via is None and self.endpoint.proxy_jump:
            # ProxyJump from ~/.ssh/config: a chain of transports we own (and close).
            for i, hop in enumerate(self.endpoint.proxy_jump):
                self.via = SSHTransport(
                    f"{target_name} jump {i + 1} ({hop.address})", hop,
                    known_hosts=self.known_hosts, via=self.via, redactor=redactor,
                    ssh_config=ssh_config, connect_timeout=connect_timeout, follow_proxy_jump=False,
                )  # fmt: skip
                self._owned_hops.append(self.via)
        self._client: paramiko.SSHClient | None = None
        self._spare: paramiko.Channel | None = None  # the next command's channel, opened early
        self._lock = threading.RLock()

    @property
    def user(self) -> str:
        return self.endpoint.user

    def describe(self) -> str:
        e = self.endpoint
        via = f" via {self.via.target}" if self.via else ""
        return f"{self.target} ({e.user}@{e.address}:{e.port}{via})"

    # -- connection ---------------------------------------------------------------------

    def transport(self) -> paramiko.Transport:
        """The live paramiko transport, connecting (or reconnecting) when needed."""
        with self._lock:
            client = self._client
            if client is not None:
                t = client.get_transport()
                if t is not None and t.is_active():
                    return t
                self._drop()
            self._client = self._connect()
            t = self._client.get_transport()
            assert t is not None  # connect() succeeded, so the transport exists
            return t

    def _open_socket(self) -> socket.socket | paramiko.Channel:
        e = self.endpoint
        if self.via is not None:
            try:
                return self.via.transport().open_channel(
                    "direct-tcpip", (e.address, e.port), ("127.0.0.1", 0), timeout=self.connect_timeout
                )
            except (paramiko.SSHException, EOFError, OSError) as exc:
                raise ConnectError(
                    f"jump host {self.via.target} could not open a tunnel to {e.address}:{e.port}: {exc}",
                    where=self.target,
                    hint="is the target up, and does the jump host allow TCP forwarding?",
                ) from exc
        try:
            return tuned_socket(e.address, e.port, self.connect_timeout)
        except OSError as exc:
            raise ConnectError(
                f"cannot connect to {self.describe()}: {exc.strerror or exc}",
                where=self.target,
                hint=f"is the host up and sshd listening on port {e.port}? check the address and firewall",
            ) from exc

    def _connect(self) -> paramiko.SSHClient:
        e = self.endpoint
        known = load_known_hosts(self.known_hosts)
        client = paramiko.SSHClient()
        host_keys = client.get_host_keys()
        for name in known.keys:
            host_keys[name] = known.keys[name]
        client.set_missing_host_key_policy(StrictHostKeyPolicy(self.target, e.address, e.port))
        sock = self._open_socket()
        try:
            client.connect(
                e.address, e.port, username=e.user, sock=sock,
                # paramiko documents a list here; the stubs only say str.
                key_filename=[str(k) for k in e.key_files] or None,  # type: ignore[arg-type]
                look_for_keys=False, allow_agent=e.agent,
                timeout=self.connect_timeout, banner_timeout=self.connect_timeout,
                auth_timeout=self.connect_timeout, channel_timeout=self.connect_timeout,
            )  # fmt: skip
        except BaseException as exc:
            client.close()
            sock.close()
            raise self._translate(exc) from exc
        t = client.get_transport()
        assert t is not None
        presented = t.get_remote_server_key()
        if known.is_revoked(presented):
            client.close()
            raise HostKeyError(
                f"{self.describe()} presented a REVOKED host key {key_fingerprint(presented)}",
                where=self.target,
                hint="the key is marked @revoked in known_hosts; do not connect until it is replaced",
            )
        t.set_keepalive(KEEPALIVE_INTERVAL)
        # sshd follows its "auth success" with two small messages (hostkeys-00@openssh.com and a
        # debug line). With Nagle on its side and delayed ACKs on ours, the reply to our first
        # channel open then waits ~40 ms for an ACK (seen on every connection, loopback or not).
        # An SSH_MSG_IGNORE sent once those messages are in carries that ACK at once.
        time.sleep(ACK_NUDGE_DELAY)
        t.send_ignore(1)
        return client

    def _translate(self, exc: BaseException) -> BaseException:
        e = self.endpoint
        if isinstance(exc, HostKeyError):
            return exc
        if isinstance(exc, paramiko.BadHostKeyException):
            return changed_key_error(self.target, e.address, e.port, exc.key, exc.expected_key)
        if isinstance(exc, paramiko.PasswordRequiredException):
            return ConnectError(
                f"the SSH key for {self.describe()} is passphrase-protected",
                where=self.target,
                hint="load it into ssh-agent (ssh-add) and set agent: true",
            )
        if isinstance(exc, paramiko.AuthenticationException):
            keys = ", ".join(str(k) for k in e.key_files) or "none"
            return ConnectError(
                f"authentication failed for {self.describe()} (keys: {keys}; agent: {e.agent})",
                where=self.target,
                hint="check `user:` and `key:` in the inventory and the host's authorized_keys",
            )
        if isinstance(exc, paramiko.SSHException | EOFError | OSError):
            return ConnectError(
                f"SSH handshake with {self.describe()} failed: {exc or type(exc).__name__}",
                where=self.target,
                hint="is it an SSH server, and is it up? retry once it is reachable",
            )
        return exc

    def _drop(self) -> None:
        self._spare = None  # closed with its connection
        if self._client is not None:
            self._client.close()
            self._client = None

    def _open_channel(self) -> paramiko.Channel:
        """A new session channel (the spare one when it is still open); reconnects once if the
        connection died since the last step."""
        with self._lock:
            spare, self._spare = self._spare, None
        if spare is not None and spare.active and not spare.closed:
            return spare
        for attempt in (1, 2):
            t = self.transport()
            try:
                return t.open_session(timeout=self.connect_timeout)
            except (paramiko.SSHException, EOFError, OSError) as exc:
                with self._lock:
                    self._drop()
                if attempt == 2:
                    raise ConnectError(
                        f"cannot open a session on {self.describe()}: {exc}",
                        where=self.target,
                        hint="the connection keeps dropping; check the host and the network",
                    ) from exc
        raise AssertionError("unreachable")

    def _open_spare(self) -> None:
        """Open the next command's session channel while this one runs: its round trip then
        overlaps the command instead of delaying the next step. A session channel runs nothing
        until an exec request; a failure here is left to the next step's own open to report."""
        with self._lock:
            client = self._client
            if self._spare is not None or client is None:
                return
        t = client.get_transport()
        if t is None or not t.is_active():
            return
        try:
            spare = t.open_session(timeout=self.connect_timeout)
        except (paramiko.SSHException, EOFError, OSError):
            return  # the next _open_channel opens afresh (and reconnects, or says why not)
        with self._lock:
            if self._client is client and self._spare is None:
                self._spare = spare
                return
        spare.close()  # reconnected meanwhile, or another thread was quicker

    def wait_until_reachable(self, deadline: float, *, interval: float = 2.0) -> float:
        """Reconnect until a command runs (``deadline`` is a ``time.monotonic()`` instant).

        For ``wait`` steps after a reboot. Returns the seconds waited. A host key problem
        is raised at once: waiting does not fix it.
        """
        start = time.monotonic()
        last: ConnectError | None = None
        while True:
            with self._lock:
                self._drop()
            try:
                if self.run("true", timeout=max(1.0, deadline - time.monotonic())).ok:
                    return time.monotonic() - start
            except HostKeyError:
                raise
            except (ConnectError, CommandTimeout) as exc:
                last = exc if isinstance(exc, ConnectError) else None
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ConnectError(
                    f"{self.describe()} still unreachable after {time.monotonic() - start:.0f} s"
                    + (f": {last.message}" if last else ""),
                    where=self.target,
                    hint="check the console (IPMI/KVM): the host may be stuck in boot",
                )
            time.sleep(min(interval, remaining))

    def close(self) -> None:
        with self._lock:
            self._drop()
        for hop in reversed(self._owned_hops):
            hop.close()

    # -- commands -----------------------------------------------------------------------

    def run(
        self,
        command: Command,
        *,
        env: Mapping[str, str] | None = None,
        stdin: str | None = None,
        timeout: float | None = None,
        sudo: bool = False,
        on_line: LineSink = no_output,
    ) -> CommandResult:
        shell = to_shell(command)
        data = stdin.encode() if stdin else b""
        if not env and not sudo_prefix(self.user, sudo):
            # A plain program call needs no `sh -c` of its own (see direct_command).
            direct = direct_command(shell)
            if direct is not None:
                remote = f"echo {PGID_MARKER}$$; {direct}"
                return self._start(remote, stdin=data, timeout=timeout, sudo=sudo, on_line=on_line)
        script, prefix = inner_script(shell, env)
        return self.execute(script, stdin=prefix + data, timeout=timeout, sudo=sudo, on_line=on_line)

    def remote_command(self, script: str, *, sudo: bool) -> str:
        """The exec string: print the process group id, then run ``script`` (under sudo if asked)."""
        argv = [*sudo_prefix(self.user, sudo), "sh", "-c", script]
        return f"echo {PGID_MARKER}$$; exec {shlex.join(argv)}"

    def execute(
        self,
        script: str,
        *,
        stdin: bytes = b"",
        timeout: float | None = None,
        sudo: bool = False,
        on_line: LineSink = no_output,
    ) -> CommandResult:
        """Run a shell ``script`` (already wrapped for env) and stream its output."""
        remote = self.remote_command(script, sudo=sudo)
        return self._start(remote, stdin=stdin, timeout=timeout, sudo=sudo, on_line=on_line)

    def _start(
        self, remote: str, *, stdin: bytes, timeout: float | None, sudo: bool, on_line: LineSink
    ) -> CommandResult:
        """Exec ``remote`` (it prints the PGID marker first) and pump it to its end or timeout.

        Once the exec request is sent the command may be running: from then on, losing the
        connection or a channel closed without an exit status raises :class:`OutcomeUnknown`
        (never a failure), and the command is left alone (killing it could leave its work
        half done; the engine settles the step by its post-checks)."""
        start = time.monotonic()
        deadline = None if timeout is None else start + timeout
        channel = self._open_channel()
        try:
            # The command's timeout bounds the wait for sshd's answer too (a silent cut).
            request_exec(channel, remote, None if deadline is None else max(0.0, deadline - time.monotonic()))
        except (paramiko.SSHException, EOFError, OSError) as exc:
            channel.close()
            if isinstance(exc, TimeoutError):
                with self._lock:
                    self._drop()  # no answer: the connection is dead; the next command reconnects
            raise OutcomeUnknown(
                f"{self.describe()} did not confirm the command's start: {exc or type(exc).__name__}",
                where=self.target,
                hint="the command may or may not have started: its post-checks (or you) must tell",
            ) from exc
        session = CommandSession(channel, stdin, self.redact, on_line)  # (sends EOF when no stdin)
        self._open_spare()
        finished = stopped = lost = False
        try:
            finished = session.pump(deadline)
            if not finished:
                stopped = True
                self._stop(session, sudo)
                raise CommandTimeout(
                    f"command on {self.target} ran past its timeout of {timeout:g} s and was stopped"
                    + ("" if session.pgid else " (its process group was unknown: it may still run)"),
                    where=self.target,
                    hint="raise the step's timeout if the command is just slow",
                )
        except (paramiko.SSHException, EOFError, OSError) as exc:
            lost = True
            raise self._lost(f"connection lost while the command ran: {exc or type(exc).__name__}") from exc
        finally:
            if not (finished or stopped or lost) and session.pgid is not None:
                # Interrupted (Ctrl-C): the operator wants it stopped; try not to leave it behind.
                try:
                    self._stop(session, sudo)
                except (ConnectError, paramiko.SSHException, EOFError, OSError) as exc:
                    log.warning(
                        "could not stop the command on %s after an interruption: %s", self.target, exc
                    )
            channel.close()
        status = channel.recv_exit_status()
        if status < 0 and not channel.eof_received:
            # No exit status and no end of output: the channel was torn down under the command
            # (its sshd session process died, the connection dropped). A command killed by a
            # signal ends differently: sshd sends its output's EOF, then exit-signal.
            raise self._lost("the channel closed without an exit status")
        return CommandResult(
            exit_code=None if status < 0 else status,
            stdout=session.out.text("stdout"),
            stderr=session.out.text("stderr"),
            duration=time.monotonic() - start,
        )

    def _lost(self, what: str) -> OutcomeUnknown:
        with self._lock:
            self._drop()  # the next command reconnects
        return OutcomeUnknown(
            f"{self.describe()}: {what}; the command may still be running, or have completed",
            where=self.target,
            hint="its post-checks settle it on `migrator resume`; check the host if they cannot",
        )

    def _stop(self, session: CommandSession, sudo: bool) -> None:
        """TERM the command's process group, then KILL it if it is still there after a grace."""
        if session.pgid is None:
            return
        prefix = sudo_prefix(self.user, sudo)
        self._signal(kill_group_command(session.pgid, "TERM", prefix))
        if not session.channel.status_event.wait(KILL_GRACE):
            self._signal(kill_group_command(session.pgid, "KILL", prefix))
            session.channel.status_event.wait(KILL_GRACE)

    def _signal(self, command: str) -> None:
        channel = self._open_channel()
        try:
            request_exec(channel, command, self.connect_timeout)
            channel.status_event.wait(self.connect_timeout)
        finally:
            channel.close()
