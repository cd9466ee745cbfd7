"""A container's routing table, from its network config on the host (what PVE sets up at start).

PVE writes each ``netN: name=ethX,...,ip=A/len,gw=G`` of ``/etc/pve/lxc/VMID.conf`` into the
container's network config; at boot the container gets a link route per address and a default
route per gateway. ``ip route`` in a lab container is computed from that same file on its host
(``DIR/hosts/HOST/root/etc/pve/lxc/VMID.conf``), so two gateways give two default routes, the
pitfall the plans' post-checks look for.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

from migrator.lab.standins.context import Context


def _options(value: str) -> dict[str, str]:
    return dict(item.split("=", 1) for item in value.split(",") if "=" in item)


def routes_from_conf(text: str) -> list[str]:
    """``ip route`` lines (default routes first, as the kernel lists them) for a CT config."""
    defaults: list[str] = []
    links: list[str] = []
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if not (key.startswith("net") and key[3:].isdigit()):
            continue
        options = _options(value.strip())
        device = options.get("name", f"eth{key[3:]}")
        address = options.get("ip", "")
        if "/" in address:  # static (not dhcp/manual)
            network = ipaddress.ip_interface(address).network
            links.append(f"{network} dev {device} proto kernel scope link src {address.split('/')[0]}")
        if "gw" in options:
            defaults.append(f"default via {options['gw']} dev {device} onlink")
    return defaults + links


def container_routes(ctx: Context) -> list[str]:
    """The routes of the container the stand-in runs in (none before its host has its config)."""
    conf = ctx.lab_dir / "hosts" / ctx.host_name / "root/etc/pve/lxc" / f"{ctx.identity['ctid']}.conf"
    try:
        return routes_from_conf(Path(conf).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
