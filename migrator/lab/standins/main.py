"""The one entry point of every stand-in tool: dispatch on the name it was called by."""

from __future__ import annotations

import sys
from collections.abc import Callable

from migrator.lab.standins import devnodes, help_text
from migrator.lab.standins.context import Context, ToolError, make_context


def _handlers() -> dict[str, Callable[[Context], int]]:
    # Imported here so each call loads only what dispatching needs.
    from migrator.lab.standins import (
        build,
        clients,
        cron,
        dns,
        fetch,
        mail,
        mongo,
        netfilter,
        pvetools,
        pveum,
        sanoid,
        system,
        units,
        zdb,
        zfs,
    )

    return {
        "zpool": zfs.zpool,
        "zfs": zfs.zfs,
        "zdb": zdb.zdb,
        "pvecm": pvetools.pvecm,
        "pvesm": pvetools.pvesm,
        "pveam": pvetools.pveam,
        "pct": pvetools.pct,
        "pveversion": pvetools.pveversion,
        "pveum": pveum.pveum,
        "systemctl": system.systemctl,
        "syncoid": sanoid.syncoid,
        "sanoid": sanoid.sanoid,
        "smartctl": system.smartctl,
        "apt-get": system.apt_get,
        "apt": system.apt_get,
        "crontab": cron.crontab,
        "iptables": netfilter.iptables,
        "ip6tables": netfilter.iptables,
        "mongosh": clients.mongosh,
        "journalctl": units.journalctl,
        "sysctl": netfilter.sysctl,
        "mongodump": mongo.mongodump,
        "mongorestore": mongo.mongorestore,
        "mongo": mongo.mongo,
        "locale-gen": system.locale_gen,
        "wget": fetch.wget,
        "apt-key": fetch.apt_key,
        "parted": system.parted,
        "lsblk": system.lsblk,
        "dig": dns.dig,
        "ip": system.ip,
        "ifreload": system.ifreload,
        "postconf": mail.postconf,
        "newaliases": mail.newaliases,
        "dpkg-buildpackage": build.dpkg_buildpackage,
    }


PVE_ONLY = {"pvecm", "pvesm", "pveam", "pct", "pveversion", "pveum"}


def main(argv: list[str]) -> int:
    ctx = make_context(argv)
    try:
        state = ctx.load()
        profile = state.get("profile")
        zfs_tools = ("zpool", "zfs", "zdb", "syncoid", "sanoid")
        zfs_missing = ctx.tool in zfs_tools and profile in ("debian", "container")
        if (ctx.tool in PVE_ONLY and profile != "pve") or zfs_missing:
            # Not installed on this (lab) machine: what bash says for a missing command.
            raise ToolError(f"bash: {ctx.tool}: command not found", 127)
        if ctx.args[:1] == ["--help"]:  # says it is a stand-in, and of what
            sys.stdout.write(help_text(ctx.tool))
            return 0
        sync_dev = ctx.tool in ("parted", "zpool", "smartctl", "lsblk")  # their /dev/... names
        if sync_dev:
            devnodes.sync_here(state, ctx.faults(), ctx.in_container)
        code = _handlers()[ctx.tool](ctx)
        if sync_dev:
            devnodes.sync_here(ctx.load(), ctx.faults(), ctx.in_container)  # parted made or removed one
        return code
    except ToolError as exc:
        if exc.message:
            sys.stderr.write(exc.message.rstrip("\n") + "\n")
        return exc.code
    except BrokenPipeError:
        return 141
