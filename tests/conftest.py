"""Shared pytest configuration: fixture modules from tests/fixtures are registered here, and the
two rules that keep the suite correct when pytest-xdist runs it in parallel (``-n``, README):

- a test module whose tests share a module-scoped fixture (a lab: sshd per host, fakepve,
  stand-ins) runs on one worker, so its set-up still happens once (``--dist loadgroup``);
- each worker, as root, runs in a network namespace of its own (loopback only), so the
  loopback ports one worker picks (``free_port``: bind port 0, close, let sshd or stunnel bind
  it) can never be taken by another worker in between. Lab modules add one namespace each.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import warnings

import pytest

pytest_plugins = ["tests.fixtures.sshd"]

CLONE_NEWNET = 0x40000000
SHARED_SCOPES = ("module", "package", "class")


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("PYTEST_XDIST_WORKER") and os.geteuid() == 0:
        _own_network_namespace()


def _own_network_namespace() -> None:
    """This worker (its main thread, which runs the tests, and all it starts) in a new network
    namespace with only loopback up. Not root (no lab tests then): the machine's namespace."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNET) != 0:
        warnings.warn(
            f"xdist worker: no network namespace of its own (unshare: {os.strerror(ctypes.get_errno())}); "
            "free ports may race with other workers",
            stacklevel=1,
        )
        return
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook, which reads the xdist_group marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """One xdist group per module whose tests use a module-, package- or class-scoped fixture."""
    for item in items:
        info = getattr(item, "_fixtureinfo", None)
        if info is None or not isinstance(item, pytest.Function):
            continue
        if any(d.scope in SHARED_SCOPES for defs in info.name2fixturedefs.values() for d in defs):
            item.add_marker(pytest.mark.xdist_group(item.module.__name__))
