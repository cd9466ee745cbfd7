"""Run commands on the machine migrator runs on (``local`` steps, lab set-up, the PVE host itself).

argv lists run as they are; strings go through ``sh -c``. The child starts in its own
session, so a timeout can stop it *and everything it started* with one ``killpg``. Both
output streams are read by threads into one queue, so neither can fill its pipe and block
the other; lines reach ``on_line`` on the caller's thread, in order within each stream.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import queue
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from typing import IO

from migrator import interrupts
from migrator.errors import CommandTimeout, ExecutorError
from migrator.executors.base import CommandResult, LineSink, no_output
from migrator.executors.shellwrap import (
    LineSplitter,
    OutputCollector,
    check_env_names,
    inner_script,
    sudo_prefix,
)
from migrator.plan.checks import Command
from migrator.plan.inventory import LOCAL

KILL_GRACE = 3.0
_CHUNK = 65536

_Chunk = tuple[str, bytes | None]  # (stream, data); None marks end of stream


def _identity(text: str) -> str:
    return text


class LocalTransport:
    """A :class:`~migrator.executors.base.Transport` for this machine."""

    def __init__(self, *, redactor: Callable[[str], str] | None = None, target: str = LOCAL) -> None:
        self.target = target
        self.redact = redactor or _identity
        self.user = "root" if os.geteuid() == 0 else getpass.getuser()

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
        data = stdin.encode() if stdin else b""
        prefix = sudo_prefix(self.user, sudo)
        if prefix and env:
            # sudo resets the environment: carry the secrets across on stdin instead.
            script, env_data = inner_script(command if isinstance(command, str) else shlex.join(command), env)
            argv = [*prefix, "sh", "-c", script]
            return self._spawn(argv, None, env_data + data, timeout, on_line)
        argv = [*prefix, *(["sh", "-c", command] if isinstance(command, str) else command)]
        if env:
            check_env_names(env)
        # Secrets in the child's environment are readable only by the same user (/proc/PID/environ).
        child_env = {**os.environ, **env} if env else None
        return self._spawn(argv, child_env, data, timeout, on_line)

    def execute(
        self,
        script: str,
        *,
        stdin: bytes = b"",
        timeout: float | None = None,
        sudo: bool = False,
        on_line: LineSink = no_output,
    ) -> CommandResult:
        """Run a shell ``script`` whose secrets (if any) arrive on ``stdin`` (see shellwrap)."""
        argv = [*sudo_prefix(self.user, sudo), "sh", "-c", script]
        return self._spawn(argv, None, stdin, timeout, on_line)

    def close(self) -> None:
        """Nothing to close: every command is its own process."""

    def _spawn(
        self,
        argv: list[str],
        env: dict[str, str] | None,
        stdin: bytes,
        timeout: float | None,
        on_line: LineSink,
    ) -> CommandResult:
        start = time.monotonic()
        out = OutputCollector(self.redact, on_line)
        proc: subprocess.Popen[bytes] | None = None
        finished = False
        try:
            # From the fork until this try's finally can stop the child, a Ctrl-C would leave
            # it running in its own session, unwatched: it is held until the section ends.
            with interrupts.held():
                try:
                    proc = subprocess.Popen(
                        argv,
                        stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE,
                        env=env,
                        start_new_session=True,
                        bufsize=0,
                    )
                except FileNotFoundError:
                    # What a shell does: exit 127 with a message, so checks judge it like any failure.
                    out.emit("stderr", [f"{argv[0]}: command not found"])
                    return CommandResult(127, "", out.text("stderr"), time.monotonic() - start)
                except OSError as exc:
                    raise ExecutorError(
                        f"cannot start {argv[0]}: {exc.strerror}", where=self.target, hint="check the command"
                    ) from exc
                assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
                chunks: queue.Queue[_Chunk] = queue.Queue()
                threads = [
                    threading.Thread(target=_pump_out, args=("stdout", proc.stdout, chunks), daemon=True),
                    threading.Thread(target=_pump_out, args=("stderr", proc.stderr, chunks), daemon=True),
                    threading.Thread(target=_pump_in, args=(proc.stdin, stdin), daemon=True),
                ]
                for thread in threads:
                    thread.start()
            deadline = None if timeout is None else start + timeout
            finished = _collect(chunks, out, deadline) and _wait(proc, deadline)
            if not finished:
                _stop(proc)
                raise CommandTimeout(
                    f"local command {argv[0]} ran past its timeout of {timeout:g} s and was stopped",
                    where=self.target,
                    hint="raise the step's timeout if the command is just slow",
                )
        finally:
            if proc is not None and not finished and proc.poll() is None:
                _stop(proc)  # interrupted (Ctrl-C): do not leave the process group behind
            if finished:
                for thread in threads:
                    thread.join()
            # else: a process that left the group (setsid) may hold the pipes open; the daemon
            # reader threads end when it does, and must not delay the timeout error.
        code = proc.returncode
        return CommandResult(
            exit_code=None if code < 0 else code,
            stdout=out.text("stdout"),
            stderr=out.text("stderr"),
            duration=time.monotonic() - start,
        )


def _pump_out(stream: str, pipe: IO[bytes], chunks: queue.Queue[_Chunk]) -> None:
    with pipe:
        while data := pipe.read(_CHUNK):
            chunks.put((stream, data))
    chunks.put((stream, None))


def _pump_in(pipe: IO[bytes], data: bytes) -> None:
    # A BrokenPipeError means the command exited without reading all its stdin (as
    # subprocess.communicate does, ignore it): its exit status tells the story.
    with contextlib.suppress(BrokenPipeError):
        if data:
            pipe.write(data)
    with contextlib.suppress(BrokenPipeError):
        pipe.close()


def _collect(chunks: queue.Queue[_Chunk], out: OutputCollector, deadline: float | None) -> bool:
    """Split chunks into lines until both streams end (True) or the deadline passes (False)."""
    splitters = {"stdout": LineSplitter(), "stderr": LineSplitter()}
    open_streams = {"stdout", "stderr"}
    while open_streams:
        wait = None if deadline is None else deadline - time.monotonic()
        if wait is not None and wait <= 0:
            return False
        try:
            stream, data = chunks.get(timeout=wait)
        except queue.Empty:
            return False
        if data is None:
            open_streams.discard(stream)
            out.emit(stream, splitters[stream].flush())
        else:
            out.emit(stream, splitters[stream].feed(data))
    return True


def _wait(proc: subprocess.Popen[bytes], deadline: float | None) -> bool:
    try:
        proc.wait(None if deadline is None else max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        return False
    return True


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """TERM the whole process group, then KILL it after a grace period."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return  # the group is already gone
        try:
            proc.wait(KILL_GRACE)
            # The leader is gone; stragglers in its group still get the KILL below.
            if sig == signal.SIGTERM:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    return
            return
        except subprocess.TimeoutExpired:
            continue
