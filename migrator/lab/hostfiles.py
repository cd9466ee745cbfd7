"""A lab host's (or container's) own files: its /etc, root's crontab, the old system's data.

Each host gets a copy of the machine's /etc, bound over /etc in its namespace, so the real
``adduser``, ``id``, ``getent``, ``deluser`` and ``sed -i`` work on that host's users and
files and never on the machine's. The copy drops the machine's own login users (uid 1000
and up): a fresh install has none, and uid 1000 must be free for the user ``off``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

FIRST_USER_UID = 1000
NOBODY_UID = 65534
SOURCE_ETC = Path("/etc")

# off1's root crontab as it stood before its move (report, section 2: sto-products-sync.sh
# was commented out when the last flavor moved to off2).
OFF1_CRONTAB = """\
# m h  dom mon dow   command
# flavors live on off2 since 2023-07: products are no longer synced from here
#*/30 * * * * /srv/off/scripts/sto-products-sync.sh >> /var/log/sto-products-sync.log 2>&1
15 3 * * * /usr/sbin/logrotate /etc/logrotate.conf
"""


def _drop_login_users(etc: Path) -> None:
    """Remove users and groups with ids 1000..65533 from passwd/group (and their shadows)."""
    keep_users: set[str] = set()
    passwd = etc / "passwd"
    lines = passwd.read_text(encoding="utf-8").splitlines()
    kept = []
    for line in lines:
        fields = line.split(":")
        if len(fields) > 2 and fields[2].isdigit() and FIRST_USER_UID <= int(fields[2]) < NOBODY_UID:
            continue
        kept.append(line)
        keep_users.add(fields[0])
    passwd.write_text("\n".join(kept) + "\n", encoding="utf-8")
    keep_groups: set[str] = set()
    group = etc / "group"
    kept = []
    for line in group.read_text(encoding="utf-8").splitlines():
        fields = line.split(":")
        if len(fields) > 2 and fields[2].isdigit() and FIRST_USER_UID <= int(fields[2]) < NOBODY_UID:
            continue
        members = ",".join(m for m in fields[3].split(",") if m in keep_users) if len(fields) > 3 else ""
        kept.append(":".join([*fields[:3], members]))
        keep_groups.add(fields[0])
    group.write_text("\n".join(kept) + "\n", encoding="utf-8")
    for shadow, names in (("shadow", keep_users), ("gshadow", keep_groups)):
        path = etc / shadow
        if path.exists():
            rows = [
                row for row in path.read_text(encoding="utf-8").splitlines() if row.split(":")[0] in names
            ]
            path.write_text("\n".join(rows) + "\n", encoding="utf-8")


def seed_etc(etc: Path, *, hostname: str, debian_version: str | None = None) -> None:
    """``etc`` becomes a copy of the machine's /etc for a host named ``hostname`` (once)."""
    if (etc / "passwd").exists():
        return
    etc.mkdir(parents=True, exist_ok=True)
    shutil.copytree(SOURCE_ETC, etc, symlinks=True, dirs_exist_ok=True, ignore_dangling_symlinks=True)
    _drop_login_users(etc)
    (etc / "hostname").write_text(hostname + "\n", encoding="utf-8")
    if debian_version is not None:
        (etc / "debian_version").write_text(debian_version + "\n", encoding="utf-8")


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
    from migrator.lab.layout import host

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
