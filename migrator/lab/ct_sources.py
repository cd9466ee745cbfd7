"""Clients in the lab's CTs are seen from a private address, not from 127.0.0.1.

Every lab host and CT shares one network namespace, and every lab address is loopback: the
kernel answers a connection to ``127.2.0.120`` from its ``local 127.0.0.0/8 ... src 127.0.0.1``
route, so a real server (PostgreSQL, Redis) sees every client as 127.0.0.1 - admitted by
pg_hba's loopback line and by Redis's protected mode, where production refuses a CT's
private address. For each CT prefix (``127.S.0``) ``up`` adds ``127.S.0.1/32`` to ``lo`` and a
``local 127.S.0.0/24 ... src 127.S.0.1`` route: a client connecting to any CT of the prefix
comes from 127.S.0.1, an address on the CTs' private network that is not loopback, as a
neighbour CT's would. ``down`` removes both (nothing else uses the 127.S.0.0/24 ranges).
"""

from __future__ import annotations

import subprocess

from migrator.lab.layout import HOSTS


def prefixes() -> list[str]:
    return sorted({h.vars["ct_prefix"] for h in HOSTS if "ct_prefix" in h.vars})


def _batch(lines: list[str]) -> None:
    # -force: go on past "File exists" / "No such process" (an `up` again, a `down` after a crash)
    subprocess.run(["ip", "-force", "-batch", "-"], input="\n".join(lines) + "\n", text=True,
                   capture_output=True, check=False)  # fmt: skip


def add() -> str | None:
    """A line for ``up`` when it added them (None when an earlier ``up`` already had)."""
    shown = subprocess.run(["ip", "-o", "-4", "address", "show", "dev", "lo"], capture_output=True, text=True,
                           check=False).stdout  # fmt: skip
    if all(f" {p}.1/32 " in shown for p in prefixes()):
        return None
    _batch([line for p in prefixes() for line in (
        f"address add {p}.1/32 dev lo",
        f"route replace local {p}.0/24 dev lo src {p}.1 table local",
    )])  # fmt: skip
    return f"ct clients come from {', '.join(p + '.1' for p in prefixes())} (not 127.0.0.1)"


def remove() -> None:
    _batch([line for p in prefixes() for line in (
        f"route del local {p}.0/24 dev lo table local",
        f"address del {p}.1/32 dev lo",
    )])  # fmt: skip


def source_for(address: str) -> str | None:
    """The source address the kernel picks to reach ``address`` (``ip route get``)."""
    result = subprocess.run(
        ["ip", "-o", "route", "get", address], capture_output=True, text=True, check=False
    )
    words = result.stdout.split()
    return words[words.index("src") + 1] if "src" in words else None
