"""Parse ``ss -ltnH`` / ``ss -ltnpH`` output into listeners (a fact parser: text in, data out).

A line looks like ``LISTEN 0 4096 127.0.0.1:16000 0.0.0.0:* users:(("stunnel4",pid=7,fd=8))``.
Local addresses come as ``10.1.0.113:27017``, ``[::]:16000``, ``*:27017`` (dual-stack any),
``127.0.0.53%lo:53`` (scoped) or ``[fe80::1]%eth0:22``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from migrator.stunnel.model import HostPort

_PROCESS = re.compile(r'users:\(\("(?P<name>[^"]+)"')


@dataclass(frozen=True)
class Listener:
    address: HostPort
    process: str | None  # only with ss -p
    shown: str  # the local address as ss printed it


def _local_address(text: str) -> HostPort | None:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        return None
    host = host.split("%", 1)[0]  # 127.0.0.53%lo -> 127.0.0.53
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1].split("%", 1)[0]
    return HostPort(host or None, int(port))


def parse_ss_listeners(output: str) -> list[Listener]:
    """Every TCP listener in ``ss -ltnH`` output; header lines and junk are skipped."""
    listeners = []
    for line in output.splitlines():
        fields = line.split()
        # State Recv-Q Send-Q Local Peer [Process]; without -H the header starts with "State".
        if len(fields) < 5 or fields[0] != "LISTEN":
            continue
        address = _local_address(fields[3])
        if address is None:
            continue
        process = _PROCESS.search(line)
        listeners.append(Listener(address, process["name"] if process else None, fields[3]))
    return listeners
