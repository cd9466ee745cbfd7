"""Fake ``dig``: the lab's DNS zone, never a real resolver (the lab only talks to loopback).

The zone holds each lab host's ``fqdn`` var (in the lab: its 127.0.1.x address) as an A
record with the lowered TTL the plans check before a window (300 s). Output is BIND 9.16's:
``+short`` prints the addresses; ``+noall +answer`` the answer lines
(``NAME.<TAB>TTL<TAB>IN<TAB>A<TAB>ADDRESS``); a name outside the zone answers nothing.
"""

from __future__ import annotations

from migrator.lab.layout import HOSTS
from migrator.lab.standins.context import Context, ToolError, out

LOWERED_TTL = 300


def zone() -> dict[str, str]:
    records = {}
    for lab_host in HOSTS:
        records[lab_host.vars.get("fqdn", lab_host.address).rstrip(".") + "."] = lab_host.address
    return records


def dig(ctx: Context) -> int:
    options = [a for a in ctx.args if a.startswith("+")]
    words = [a for a in ctx.args if not a.startswith(("+", "@", "-"))]
    names = [w for w in words if w.upper() not in ("A", "AAAA", "IN", "ANY")]
    if not names:
        raise ToolError("dig: no name given (the lab's dig answers lab names only)", 1)
    record_type = next((w.upper() for w in words if w.upper() in ("A", "AAAA")), "A")
    fqdn = names[0].rstrip(".") + "."
    address = zone().get(fqdn) if record_type == "A" else None
    if "+short" in options:
        if address:
            out(address)
        return 0
    answer = f"{fqdn}\t\t{LOWERED_TTL}\tIN\tA\t{address}" if address else ""
    if "+noall" in options:
        if answer and "+answer" in options:
            out(answer)
        return 0
    status = "NOERROR" if address else "NXDOMAIN"
    out(
        f"; <<>> DiG 9.16.44-Debian <<>> {' '.join(ctx.args)}\n;; global options: +cmd\n;; Got answer:\n"
        f";; ->>HEADER<<- opcode: QUERY, status: {status}, id: 4242\n\n"
        f";; QUESTION SECTION:\n;{fqdn}\t\t\tIN\tA\n"
        + (f"\n;; ANSWER SECTION:\n{answer}\n" if answer else "")
    )
    return 0
