"""One command running on an SSH session channel: its output pumped line by line, its stdin
fed, its process group id read from the wrapper's first line (:mod:`migrator.executors.ssh`).

stdout and stderr are drained together in one loop: reading one to EOF first deadlocks once
the other passes the channel window (~2 MB). The loop sleeps on the channel (select) while
output may come, and on the exit status once it has ended.
"""

from __future__ import annotations

import select
import time
from collections.abc import Callable

import paramiko
from paramiko.common import cMSG_CHANNEL_REQUEST
from paramiko.message import Message

from migrator.executors.base import LineSink
from migrator.executors.shellwrap import LineSplitter, OutputCollector

EOF_GRACE = 2.0  # how long output may trail the exit status (see CommandSession.pump)
PGID_MARKER = "__migrator_pgid__="
_CHUNK = 65536


def request_exec(channel: paramiko.Channel, command: str, timeout: float | None) -> None:
    """Send ``command``'s exec request on ``channel`` and wait for sshd's answer, at most
    ``timeout`` s (None: as long as the connection lives).

    paramiko's ``Channel.exec_command`` sends the same message and waits for the answer with no
    limit: over a network cut silently (packets dropped, no reset) that is until TCP gives up,
    ~15 min, whatever timeout the command has. Raises :class:`TimeoutError` when no answer came
    (the command may or may not have started), :class:`paramiko.SSHException` when sshd refused
    it or the connection died."""
    transport = channel.get_transport()
    if channel.closed or not channel.active or transport is None:
        raise paramiko.SSHException("Channel is not open")
    m = Message()
    m.add_byte(cMSG_CHANNEL_REQUEST)
    m.add_int(channel.remote_chanid)
    m.add_string("exec")
    m.add_boolean(True)  # want a reply
    m.add_string(command)
    channel.event.clear()  # paramiko's Channel._event_pending
    channel.event_ready = False
    transport._send_user_message(m)  # type: ignore[attr-defined]  # as exec_command sends it
    if not channel.event.wait(timeout):
        raise TimeoutError(f"no answer from sshd to the exec request in {timeout:.3g} s")
    if channel.event_ready:
        return
    raise transport.get_exception() or paramiko.SSHException("Channel closed.")


class CommandSession:
    """One running command: drains stdout and stderr together, feeds stdin without blocking."""

    def __init__(
        self, channel: paramiko.Channel, stdin: bytes, redact: Callable[[str], str], sink: LineSink
    ) -> None:
        self.channel = channel
        self.pending = stdin
        self.pgid: int | None = None
        self.out = OutputCollector(redact, sink)
        self._split = {"stdout": LineSplitter(), "stderr": LineSplitter()}
        channel.settimeout(0.0)
        if not stdin:
            channel.shutdown_write()

    def pump(self, deadline: float | None) -> bool:
        """Run until the command exits (True) or ``deadline`` passes (False).

        Done means the exit status is in *and* the output has ended (EOF): sshd may send the
        exit status before the last output, so stopping at the status alone loses lines.
        A command that leaves a background process holding its stdout open never sends EOF
        (``ssh host 'sleep 60 &'`` hangs for that reason); after :data:`EOF_GRACE` seconds
        past the exit status we stop waiting for it.
        """
        ch = self.channel
        status_seen: float | None = None
        while True:
            wait = 0.2 if deadline is None else min(0.2, deadline - time.monotonic())
            if wait <= 0:
                return False
            if self._output_ended() and not self.pending:
                # Paramiko's channel stays readable from EOF on, so select() would spin until
                # the exit status arrives (hundreds of wake-ups per step, CPU taken from
                # sshd). Sleep on the status instead (it is also set when the channel closes).
                ch.status_event.wait(wait)
            else:
                select.select([ch], [ch] if self.pending else [], [], wait)
            self._drain()
            self._feed_stdin()
            if ch.exit_status_ready() and not ch.recv_ready() and not ch.recv_stderr_ready():
                if status_seen is None:
                    status_seen = time.monotonic()
                if self._output_ended() or time.monotonic() - status_seen >= EOF_GRACE:
                    self._drain(final=True)
                    return True
            if ch.closed and not ch.exit_status_ready():
                raise EOFError("channel closed without an exit status")

    def _output_ended(self) -> bool:
        """EOF (or close) seen and every byte before it taken: nothing more will come."""
        ch = self.channel
        ended = bool(ch.eof_received or ch.closed)
        return ended and not ch.recv_ready() and not ch.recv_stderr_ready()

    def _drain(self, final: bool = False) -> None:
        ch = self.channel
        while ch.recv_ready():
            self._lines("stdout", self._split["stdout"].feed(ch.recv(_CHUNK)))
        while ch.recv_stderr_ready():
            self._lines("stderr", self._split["stderr"].feed(ch.recv_stderr(_CHUNK)))
        if final:
            for stream, splitter in self._split.items():
                self._lines(stream, splitter.flush())

    def _lines(self, stream: str, lines: list[str]) -> None:
        if stream == "stdout" and self.pgid is None:
            for i, line in enumerate(lines):
                if line.startswith(PGID_MARKER):
                    self.pgid = int(line.removeprefix(PGID_MARKER))
                    self.out.emit(stream, lines[:i] + lines[i + 1 :])
                    return
        self.out.emit(stream, lines)

    def _feed_stdin(self) -> None:
        ch = self.channel
        if not self.pending or not ch.send_ready():
            return
        try:
            sent = ch.send(self.pending[:_CHUNK])
        except (TimeoutError, OSError):
            if ch.exit_status_ready() or ch.closed:
                self.pending = b""  # the command ended without reading all its stdin
            return
        self.pending = self.pending[sent:]
        if not self.pending:
            ch.shutdown_write()
