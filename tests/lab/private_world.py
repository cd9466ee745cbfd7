"""Run a command as on another machine: its own network namespace (loopback only, so the lab's
fixed 127.0.1.x addresses clash with no other lab and no system sshd) and its own mount
namespace where a doctored file is bound over /etc/hosts. The machine's file is never touched.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# A machine whose /etc/hosts names the lab's hosts (as CI's did, hiding issue 16) ...
HOSTS_WITH_LAB_NAMES = (
    "127.0.0.1\tlocalhost\n127.0.1.1\toff1 lab-name-from-the-machine\n127.0.1.2\toff2\n"
    "127.0.1.3\toff3\n10.0.0.9\tovh1\n::1\tlocalhost ip6-localhost ip6-loopback\n"
)
# ... and one that names none of them (a fresh Debian machine).
HOSTS_WITHOUT_LAB_NAMES = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"


def in_private_world(hosts_file: Path, script: str, *, timeout: float) -> subprocess.CompletedProcess[str]:
    """``script`` (sh) with ``hosts_file`` as /etc/hosts, in new network and mount namespaces."""
    wrapped = f"set -e; ip link set lo up; mount --bind {hosts_file} /etc/hosts; set +e; {script}"
    return subprocess.run(
        ["unshare", "--net", "--mount", "--propagation", "private", "sh", "-c", wrapped],
        capture_output=True, text=True, timeout=timeout, cwd=REPO, env={**os.environ, "COLUMNS": "200"},
        check=False,
    )  # fmt: skip


CLONE_NEWNET = 0x40000000


@contextmanager
def private_network() -> Iterator[None]:
    """This thread (the test's) in a new network namespace with only loopback up, then back.

    For the in-process lab fixture: everything the lab starts (sshd, fakepve, stand-ins'
    daemons) and every socket the test opens lives there, so a demo lab on the machine's
    127.0.1.x, another test's lab, or a system sshd on :22 changes nothing. The namespace ends
    with its last process (the lab's, stopped by ``down``).
    """
    libc = ctypes.CDLL(None, use_errno=True)
    with open("/proc/self/ns/net", "rb") as original:
        if libc.unshare(CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNET)")
        try:
            subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
            yield
        finally:
            if libc.setns(original.fileno(), CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns back to the machine's network namespace")
