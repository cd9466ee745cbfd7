"""What the CLI tests share."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest


@pytest.fixture
def ctrl_c_reaches_children() -> Iterator[None]:
    """Children started meanwhile get SIGINT at its default, as a foreground command of an
    interactive shell does. The suite may run with SIGINT ignored (a CI runner, `test.sh &`),
    children inherit that, and Python keeps an inherited SIG_IGN: a Ctrl-C sent to them would
    never arrive. A handled signal is reset to its default at exec, so a handler here is enough."""
    before = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)
