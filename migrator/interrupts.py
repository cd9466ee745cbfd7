"""How the operator's Ctrl-C (SIGINT) reaches migrator.

As Python's own handler does, it raises :class:`KeyboardInterrupt` wherever the main thread
is, with two differences:

* inside a :func:`held` section it is held, and raised as the section ends. A section is the
  few lines between starting something that outlives migrator (a step's process, in its own
  session) and the ``try`` whose ``finally`` stops it: an interrupt landing there would leave
  the step running unwatched while the run is recorded as interrupted;
* :func:`interrupted` says whether one was received, so that an error raised *because* of it
  (a library wrapping the KeyboardInterrupt into its own exception) is reported as the
  interruption it is, not as a bug.

A process started with SIGINT ignored (``nohup``, ``cmd &`` from a script) keeps it ignored,
as Python and every Unix tool do: :func:`install` leaves that choice alone.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

_state = threading.local()  # the main thread's own: handlers run there, sections nest there
_received = False


def _depth() -> int:
    return int(getattr(_state, "depth", 0))


def _handler(signum: int, frame: FrameType | None) -> None:
    global _received
    _received = True
    if _depth() > 0:
        _state.pending = True
        return
    raise KeyboardInterrupt


def install() -> bool:
    """Take over SIGINT from Python's default handler (main thread only), and forget an earlier
    command's interruption (tests run several in one process). False when SIGINT is ignored
    or handled by someone else (a test runner, an embedding program)."""
    global _received
    if threading.current_thread() is not threading.main_thread():
        return False
    if signal.getsignal(signal.SIGINT) not in (signal.default_int_handler, _handler):
        return False
    _received = False
    signal.signal(signal.SIGINT, _handler)
    return True


def uninstall() -> None:
    """Give SIGINT back to Python's default handler, if it is still ours (main thread only):
    a caller that runs commands in its own process (tests) is left as it was."""
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGINT) is _handler:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def interrupted() -> bool:
    """Whether a Ctrl-C reached this process since :func:`install`."""
    return _received


@contextmanager
def held() -> Iterator[None]:
    """Hold a Ctrl-C that arrives inside; raise it as the (outermost) section ends. Only the
    main thread receives signals: on other threads this holds nothing and costs nothing."""
    _state.depth = _depth() + 1
    try:
        yield
    finally:
        _state.depth -= 1
        if _state.depth == 0 and getattr(_state, "pending", False):
            _state.pending = False
            raise KeyboardInterrupt
