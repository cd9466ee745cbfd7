"""The terminal is restored on every exit path Python can see (issue 17, item 5): a TUI
killed with SIGTERM or SIGHUP leaves the alternate screen and mouse mode. On c33c810 the
signal killed the process at once and the terminal stayed in the alternate screen."""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import sys
import time

import pytest

from tests.tui.scenes import ROOT

ALT_ON, ALT_OFF = b"\x1b[?1049h", b"\x1b[?1049l"
MOUSE_OFF = b"\x1b[?1000l"
CSI = re.compile(rb"\x1b\[[0-9;?<=>$]*[ -/]*[@-~]")  # styles and moves between the words on screen


def _read(fd: int, until: bytes | None, limit: float) -> bytes:
    """Bytes from the pty until ``until`` shows (or EOF, or ``limit`` seconds: a hang fails)."""
    out = b""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
        if until is not None and until in CSI.sub(b"", out):
            break
    return out


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_a_signal_restores_the_terminal(sig: signal.Signals) -> None:
    pid, fd = pty.fork()
    if pid == 0:  # the child: a scene of the TUI on a real terminal
        os.chdir(ROOT)
        env = dict(os.environ, TERM="xterm-256color", COLUMNS="80", LINES="24")
        os.execve(sys.executable, [sys.executable, "-m", "tests.tui.scenes", "--run", "main"], env)
    try:
        # The header of the first frame (the app is up): a step name may be scrolled out of view
        # at 80x24, and then this waited the full 60 s (wipe-disks did, after the plans grew).
        started = _read(fd, b"REHEARSAL on the lab", 60)
        assert ALT_ON in started, "the TUI never entered the alternate screen"
        assert b"REHEARSAL on the lab" in CSI.sub(b"", started), "the TUI never drew its screen"
        os.kill(pid, sig)
        rest = _read(fd, None, 30)
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    assert ALT_OFF in rest and MOUSE_OFF in rest, rest[-300:]
    assert os.waitstatus_to_exitcode(status) == 128 + int(sig)
