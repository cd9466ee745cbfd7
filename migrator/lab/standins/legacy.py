"""What a lab host carries from before the stunnel rollout: off2's MongoDB IP filter and DNAT.

In 2023 ovh2 (robotoff, off-query) reached MongoDB (off1 CT 102, no auth) through a DNAT of
off2's public port 27017 and a FORWARD ACCEPT for ovh2's address; the stunnel plan removes
both once the tunnel answers. ``lab up`` seeds them into off2's iptables stand-in state
(``migrator.lab.standins.netfilter``), in the text ``iptables -S`` prints, with the lab's
addresses (the same ones the plan renders from the lab inventory).
"""

from __future__ import annotations

from typing import Any


def legacy_mongodb_rules(ovh2: str, off2: str, mongodb: str) -> dict[str, list[str]]:
    """``iptables -S`` lines per table (the stand-in's ``iptables`` state shape)."""
    match = f"-s {ovh2}/32 -d {{}}/32 -p tcp -m tcp --dport 27017"
    return {
        "filter": [f"-A FORWARD {match.format(mongodb)} -j ACCEPT"],
        "nat": [f"-A PREROUTING {match.format(off2)} -j DNAT --to-destination {mongodb}:27017"],
    }


def seed_legacy_rules(state: dict[str, Any], host: str) -> None:
    """Add the 2023 rules to a new host state (only off2 had them)."""
    if host != "off2":
        return
    from migrator.lab.layout import host as lab_host

    mongodb = f"{lab_host('off1').vars['ct_prefix']}.102"  # off1 CT 102, as in tunnels.lab.yaml
    tables = state.setdefault("iptables", {})
    rules = legacy_mongodb_rules(lab_host("ovh2").address, lab_host("off2").address, mongodb)
    for table, lines in rules.items():
        kept = tables.setdefault(table, [])
        kept.extend(line for line in lines if line not in kept)
