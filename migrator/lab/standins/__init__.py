"""Stand-ins (fakes) for the tools that cannot run on the lab machine: ZFS, Proxmox, MongoDB, systemd.

Each is a tiny script in ``DIR/standins`` (bound over /usr/local/sbin on every lab host)
that runs :func:`migrator.lab.standins.main.main`, which dispatches on ``argv[0]``. They
keep per-host state in /var/lib/migrator-lab and print what the real tools print (the
formats recorded in ``tests/data/checks``), so the same checks read lab and production.
Each answers ``TOOL --help`` with what it stands in for (:data:`STANDS_IN_FOR`): a person in a
lab shell is never left believing a fake is the real program. Where Debian ships the real
program (redis-server, redis-cli, postgresql, memcached, apache2, nginx, stunnel, sshd) the lab runs
that instead.
"""

from __future__ import annotations

TOOLS: tuple[str, ...] = (
    "zpool",
    "zfs",
    "zdb",  # -C only: zdb.py
    "pvecm",
    "pvesm",
    "pveam",
    "pct",
    "pveversion",
    "pveum",  # off2 plan pve-groups: pveum.py
    "systemctl",
    "syncoid",
    "sanoid",
    "smartctl",
    "apt-get",
    "apt",
    "crontab",
    "iptables",
    "ip6tables",  # off2 plan network-ipv6 (2024-09-05 report): netfilter.py, IPv6 tables
    "mongosh",
    "journalctl",
    "sysctl",
    "mongodump",
    "mongorestore",
    "mongo",
    "locale-gen",
    "wget",
    "apt-key",
    "parted",
    "lsblk",
    "ip",
    "ifreload",
    "dig",  # off2 plan: dns.py
    "postconf",  # off2 plan ct_postinstall: mail.py
    "newaliases",
    "dpkg-buildpackage",  # sanoid-install builds sanoid's deb (docs/sanoid.md): build.py
)

# What each stand-in fakes, for its ``--help`` (``main.py``).
_ZFS, _PVE, _MONGO, _SYSTEMD = "OpenZFS", "Proxmox VE", "MongoDB", "systemd"
STANDS_IN_FOR: dict[str, str] = {
    "zpool": f"{_ZFS}'s zpool (pools in the host's lab state, no kernel module)",
    "zfs": f"{_ZFS}'s zfs (datasets as directories, streams as files)",
    "zdb": f"{_ZFS}'s zdb -C (the pool configuration with the vdev GUIDs zpool status -g prints)",
    "syncoid": f"syncoid (sanoid's replication tool, on the {_ZFS} stand-in)",
    "sanoid": f"sanoid (snapshots on the {_ZFS} stand-in)",
    "pvecm": f"{_PVE}'s pvecm (the lab's cluster file)",
    "pvesm": f"{_PVE}'s pvesm (storages in the host's lab state)",
    "pveam": f"{_PVE}'s pveam (templates from the lab's mirror)",
    "pct": f"{_PVE}'s pct (containers as mount namespaces, through the host's fakepve)",
    "pveversion": f"{_PVE}'s pveversion",
    "pveum": f"{_PVE}'s pveum (users and groups through the host's fakepve)",
    "systemctl": f"{_SYSTEMD}'s systemctl (units the lab starts: real stunnel, redis-server, postgresql, "
    "memcached, apache2, nginx; stand-in mongod)",
    "journalctl": f"{_SYSTEMD}'s journalctl (the lab's unit logs)",
    "mongosh": f"{_MONGO}'s mongosh (hostInfo and ping over the real wire protocol)",
    "mongo": f"{_MONGO}'s legacy mongo shell",
    "mongodump": f"{_MONGO}'s mongodump (archives of the stand-in mongod)",
    "mongorestore": f"{_MONGO}'s mongorestore",
    "smartctl": "smartmontools' smartctl (the host's lab disks)",
    "apt-get": "apt-get (packages' config files and units; nothing is downloaded)",
    "apt": "apt (as the stand-in apt-get)",
    "crontab": "cron's crontab (the host's own spool)",
    "iptables": "iptables (rules in the host's lab state; the machine's firewall is never touched)",
    "sysctl": "sysctl (the host's lab values)",
    "locale-gen": "locale-gen (reads the host's /etc/locale.gen; writes nothing)",
    "wget": "wget (the lab's mirror only)",
    "apt-key": "apt-key",
    "parted": "parted (partitions of the host's lab disks)",
    "lsblk": "util-linux's lsblk (the host's lab disks)",
    "ip": "iproute2's ip for routes (other ip commands run the real one)",
    "ifreload": "ifupdown2's ifreload (routes from the host's /etc/network/interfaces)",
    "dig": "dig (the lab's names only)",
    "postconf": "Postfix's postconf (the host's /etc/postfix/main.cf)",
    "newaliases": "Postfix's newaliases",
    "dpkg-buildpackage": "dpkg-buildpackage (../NAME_VERSION_all.deb from debian/changelog)",
    "ip6tables": "ip6tables (IPv6 rules in the host's lab state; the machine's firewall is never touched)",
}


def help_text(tool: str) -> str:
    return (
        f"{tool}: migrator lab stand-in for {STANDS_IN_FOR.get(tool, tool)}.\n"
        "Not the real program: it prints what the real one prints for the calls the plans make,\n"
        "on the lab host's own state (see migrator/lab/standins/). In production the real tool runs.\n"
    )
