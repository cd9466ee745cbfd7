"""Stand-ins (fakes) for the tools that cannot run on the lab machine: ZFS, Proxmox, systemd.

Each is a tiny script in ``DIR/standins`` (bound over /usr/local/sbin on every lab host)
that runs :func:`migrator.lab.standins.main.main`, which dispatches on ``argv[0]``. They
keep per-host state in /var/lib/migrator-lab and print what the real tools print (the
formats recorded in ``tests/data/checks``), so the same checks read lab and production.
"""

from __future__ import annotations

TOOLS: tuple[str, ...] = (
    "zpool",
    "zfs",
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
    "redis-cli",
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
