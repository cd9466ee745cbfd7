"""A lab host's (or container's) own files: its /etc, root's crontab, the old system's data.

Each host's /etc is built from the lab's own definition, never copied from the machine's
mutable state: passwd/group/shadow/gshadow of a fresh Debian 12 install (plus the system users
of the packages the lab runs: sshd, stunnel4, redis, postgres, memcache), ``hostname``, and
``hosts`` as the site's installer and name service would write it. It is bound over /etc in the
host's namespace, so the real ``adduser``, ``id``, ``getent``, ``deluser`` and ``sed -i`` work on
that host's users and files and never on the machine's. A lab built on a machine whose
/etc/hosts names lab hosts (or none) is the same lab, byte for byte.

What the machine's own programs need to run at all (the dynamic linker's cache, the
``alternatives`` links that make ``awk`` or ``nc`` resolve, PAM for ``chpasswd``, OpenSSL's
config) is package-owned software configuration, not host state: :data:`SOFTWARE_FILES` names
exactly those entries, copied as they are.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from migrator.lab.layout import host

FIRST_USER_UID = 1000
NOBODY_UID = 65534
SOURCE_ETC = Path("/etc")
DEBIAN_VERSION = "12.5"  # Proxmox VE 8 and the lab's Debian hosts: bookworm
# Package-owned files the machine's binaries read to run (see the module docstring); absent
# entries are skipped. Nothing here names a host, a user or an address.
SOFTWARE_FILES: tuple[str, ...] = (
    "alternatives",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "ssl",
    "services",
    "protocols",
    "login.defs",
    "adduser.conf",
    "deluser.conf",
    "skel",
    "pam.conf",
    "pam.d",
    "security",
)

# name, uid, gid, gecos, home, shell: base-passwd's static users, then the packages' system users
SYSTEM_USERS: tuple[tuple[str, int, int, str, str, str], ...] = (
    ("root", 0, 0, "root", "/root", "/bin/bash"),
    ("daemon", 1, 1, "daemon", "/usr/sbin", "/usr/sbin/nologin"),
    ("bin", 2, 2, "bin", "/bin", "/usr/sbin/nologin"),
    ("sys", 3, 3, "sys", "/dev", "/usr/sbin/nologin"),
    ("sync", 4, 65534, "sync", "/bin", "/bin/sync"),
    ("games", 5, 60, "games", "/usr/games", "/usr/sbin/nologin"),
    ("man", 6, 12, "man", "/var/cache/man", "/usr/sbin/nologin"),
    ("lp", 7, 7, "lp", "/var/spool/lpd", "/usr/sbin/nologin"),
    ("mail", 8, 8, "mail", "/var/mail", "/usr/sbin/nologin"),
    ("news", 9, 9, "news", "/var/spool/news", "/usr/sbin/nologin"),
    ("uucp", 10, 10, "uucp", "/var/spool/uucp", "/usr/sbin/nologin"),
    ("proxy", 13, 13, "proxy", "/bin", "/usr/sbin/nologin"),
    ("www-data", 33, 33, "www-data", "/var/www", "/usr/sbin/nologin"),
    ("backup", 34, 34, "backup", "/var/backups", "/usr/sbin/nologin"),
    ("list", 38, 38, "Mailing List Manager", "/var/list", "/usr/sbin/nologin"),
    ("irc", 39, 39, "ircd", "/run/ircd", "/usr/sbin/nologin"),
    ("_apt", 42, 65534, "", "/nonexistent", "/usr/sbin/nologin"),
    ("nobody", NOBODY_UID, 65534, "nobody", "/nonexistent", "/usr/sbin/nologin"),
    ("sshd", 100, 65534, "", "/run/sshd", "/usr/sbin/nologin"),
    ("stunnel4", 101, 102, "", "/var/run/stunnel4", "/usr/sbin/nologin"),
    ("redis", 102, 103, "", "/var/lib/redis", "/usr/sbin/nologin"),
    ("postgres", 103, 104, "PostgreSQL administrator,,,", "/var/lib/postgresql", "/bin/bash"),
    ("memcache", 104, 106, "Memcached,,,", "/nonexistent", "/bin/false"),
)
SYSTEM_GROUPS: tuple[tuple[str, int], ...] = (
    ("root", 0), ("daemon", 1), ("bin", 2), ("sys", 3), ("adm", 4), ("tty", 5), ("disk", 6),
    ("lp", 7), ("mail", 8), ("news", 9), ("uucp", 10), ("man", 12), ("proxy", 13), ("kmem", 15),
    ("dialout", 20), ("fax", 21), ("voice", 22), ("cdrom", 24), ("floppy", 25), ("tape", 26),
    ("sudo", 27), ("audio", 29), ("dip", 30), ("www-data", 33), ("backup", 34), ("operator", 37),
    ("list", 38), ("irc", 39), ("src", 40), ("shadow", 42), ("utmp", 43), ("video", 44),
    ("sasl", 45), ("plugdev", 46), ("staff", 50), ("games", 60), ("users", 100), ("_ssh", 101),
    ("stunnel4", 102), ("redis", 103), ("postgres", 104), ("ssl-cert", 105), ("memcache", 106),
    ("crontab", 107), ("nogroup", 65534),
)  # fmt: skip
PASSWORD_DAY = 19700  # shadow's "last changed" day: fixed, so two labs are byte-identical
NSSWITCH = """passwd:         files
group:          files
shadow:         files
gshadow:        files
hosts:          files dns
networks:       files
protocols:      files
services:       files
ethers:         files
rpc:            files
"""
LOCALE_GEN = """# This file lists locales that you wish to have built. (the lab's Debian default, shortened)
# en_GB.UTF-8 UTF-8
# en_US.UTF-8 UTF-8
# fr_FR.UTF-8 UTF-8
"""

# off1's root crontab as it stood before its move (report, section 2: sto-products-sync.sh
# was commented out when the last flavor moved to off2).
OFF1_CRONTAB = """\
# m h  dom mon dow   command
# flavors live on off2 since 2023-07: products are no longer synced from here
#*/30 * * * * /srv/off/scripts/sto-products-sync.sh >> /var/log/sto-products-sync.log 2>&1
15 3 * * * /usr/sbin/logrotate /etc/logrotate.conf
"""


def hosts_file(hostname: str, address: str | None) -> str:
    """/etc/hosts as Debian's installer writes it: localhost, the host's own name, IPv6 lines."""
    own = f"{address}\t{hostname}\n" if address else ""
    return (
        f"127.0.0.1\tlocalhost\n{own}\n"
        "# The following lines are desirable for IPv6 capable hosts\n"
        "::1     localhost ip6-localhost ip6-loopback\nff02::1 ip6-allnodes\nff02::2 ip6-allrouters\n"
    )


def _write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)


def _copy_software_files(source: Path, etc: Path) -> None:
    for entry in SOFTWARE_FILES:
        src, dst = source / entry, etc / entry
        if src.is_symlink():
            dst.symlink_to(src.readlink())
        elif src.is_dir():
            shutil.copytree(src, dst, symlinks=True, dirs_exist_ok=True, ignore_dangling_symlinks=True)
        elif src.exists():
            shutil.copy2(src, dst)


def seed_etc(
    etc: Path, *, hostname: str, address: str | None = None, debian_version: str | None = None
) -> None:
    """``etc`` becomes a fresh install's /etc for a host named ``hostname`` (once)."""
    if (etc / "passwd").exists():
        return
    etc.mkdir(parents=True, exist_ok=True)
    _copy_software_files(SOURCE_ETC, etc)
    users = SYSTEM_USERS
    _write(etc / "passwd", "".join(f"{n}:x:{u}:{g}:{c}:{h}:{s}\n" for n, u, g, c, h, s in users))
    _write(etc / "group", "".join(f"{n}:x:{g}:\n" for n, g in SYSTEM_GROUPS))
    _write(etc / "shadow", "".join(f"{u[0]}:*:{PASSWORD_DAY}:0:99999:7:::\n" for u in users), 0o640)
    _write(etc / "gshadow", "".join(f"{n}:*::\n" for n, _ in SYSTEM_GROUPS), 0o640)
    for empty in ("subuid", "subgid"):
        _write(etc / empty, "")
    _write(etc / "nsswitch.conf", NSSWITCH)
    _write(etc / "hostname", hostname + "\n")
    _write(etc / "hosts", hosts_file(hostname, address))
    _write(etc / "resolv.conf", "nameserver 127.0.1.253\n")  # the lab's dns var (layout._free_dc)
    _write(etc / "shells", "/bin/sh\n/usr/bin/sh\n/bin/bash\n/usr/bin/bash\n")
    _write(etc / "locale.gen", LOCALE_GEN)
    _write(etc / "timezone", "Etc/UTC\n")
    (etc / "localtime").symlink_to("/usr/share/zoneinfo/Etc/UTC")
    (etc / "mtab").symlink_to("../proc/self/mounts")
    release = debian_version or DEBIAN_VERSION
    _write(etc / "debian_version", release + "\n")
    codename = {"10": "buster", "11": "bullseye", "12": "bookworm"}.get(release.split(".")[0], "bookworm")
    _write(
        etc / "os-release",
        f'PRETTY_NAME="Debian GNU/Linux {release.split(".")[0]} ({codename})"\nNAME="Debian GNU/Linux"\n'
        f'VERSION_ID="{release.split(".")[0]}"\nVERSION_CODENAME={codename}\nID=debian\n',
    )
    _write(etc / "apt/sources.list", f"deb http://deb.debian.org/debian {codename} main contrib\n")
    for directory in ("apt/sources.list.d", "cron.d", "ssh", "default", "systemd/system", "sysctl.d"):
        (etc / directory).mkdir(parents=True, exist_ok=True)


def template_debian_version(ostemplate: str) -> str | None:
    """``local:vztmpl/debian-10-standard_10.7-1_amd64.tar.gz`` -> ``10.7``."""
    name = ostemplate.rsplit("/", 1)[-1]
    if not name.startswith("debian-") or "_" not in name:
        return None
    return name.split("_", 2)[1].split("-", 1)[0]


def seed_crontab(root: Path, user: str, text: str) -> None:
    """``root``'s crontab for ``user`` as cron keeps it (/var/spool/cron/crontabs/USER, 0600)."""
    path = root / "var/spool/cron/crontabs" / user
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_text(text, encoding="utf-8")
        path.chmod(0o600)


MONGO_FILES = ("WiredTiger", "WiredTiger.wt", "_mdb_catalog.wt", "collection-0-off.wt", "index-1-off.wt")


def seed_old_system(root: Path, name: str, profile: str) -> None:
    """What the hosts hold before the plans run (first `lab up` only)."""
    if name == "off2":  # migrated in 2023: the user off has uid 1000 (off2.yaml user-off)
        add_user(root / "etc", "off", FIRST_USER_UID, shell="/usr/sbin/nologin")
        if profile == "pve":  # and /etc/hosts names both nodes privately (off2.yaml etc-hosts)
            name_nodes_privately(root / "etc/hosts")
    if profile == "pve":
        return
    if name == "off1":
        seed_crontab(root, "root", OFF1_CRONTAB)
    if name == "off3":  # MongoDB's files (the plan copies them into CT 102) and a backup dir
        db = root / "mongo/db"
        db.mkdir(parents=True, exist_ok=True)
        for file_name in MONGO_FILES:
            (db / file_name).write_bytes(f"lab stand-in for {file_name}\n".encode() * 64)
        (root / "mongo/backup").mkdir(exist_ok=True)


def name_nodes_privately(hosts: Path) -> None:
    """off2's /etc/hosts after plans/off2.yaml etc-hosts: off2 and off1 by their private addresses."""

    lines = [
        f"{host('off2').address} off2.openfoodfacts.org off2 pve-localhost",
        f"{host('off1').address} off1.openfoodfacts.org off1",
    ]
    text = hosts.read_text(encoding="utf-8") if hosts.exists() else "127.0.0.1 localhost\n"
    missing = [line for line in lines if line not in text.splitlines()]
    if missing:
        hosts.write_text(text.rstrip("\n") + "\n" + "\n".join(missing) + "\n", encoding="utf-8")


def add_user(etc: Path, name: str, uid: int, *, shell: str = "/bin/bash") -> None:
    """What ``adduser --disabled-password`` writes to passwd, group, shadow and gshadow."""
    rows = {
        "passwd": f"{name}:x:{uid}:{uid}:,,,:/home/{name}:{shell}",
        "group": f"{name}:x:{uid}:",
        "shadow": f"{name}:!:19700:0:99999:7:::",
        "gshadow": f"{name}:!::",
    }
    for file_name, row in rows.items():
        path = etc / file_name
        if path.exists() and not any(
            line.split(":")[0] == name for line in path.read_text(encoding="utf-8").splitlines()
        ):
            with path.open("a", encoding="utf-8") as handle:
                handle.write(row + "\n")
