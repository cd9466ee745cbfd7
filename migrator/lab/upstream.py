"""What the lab hosts would fetch from the Internet: the infrastructure repo and a mirror.

* ``DIR/infra.git``: a local bare git repository standing in for
  github.com/openfoodfacts/openfoodfacts-infrastructure (the lab inventory's ``infra_repo``
  var points at it; production's points at GitHub). It holds the files the plans link or
  install from the repo, with the same paths, and lab values where an address matters.
* ``DIR/mirror/HOST/PATH``: what the stand-in ``wget`` serves for ``https://HOST/PATH``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

from migrator.errors import LabError

# MongoDB in off1's CT 102: data in /mongo/db, no pidFilePath (off-facts 5). The lab's CTs share
# the machine's loopback, so the lab config binds the CT's own lab address only.
MONGOD_CONF = """\
# mongod.conf for the MongoDB container (CT 102 on off1)
storage:
  dbPath: /mongo/db
  journal:
    enabled: true
systemLog:
  destination: file
  logAppend: true
  path: /var/log/mongodb/mongod.log
net:
  port: 27017
  bindIp: {bind_ip}
processManagement:
  timeZoneInfo: /usr/share/zoneinfo
"""

OFF1_SANOID_CONF = """\
[zfs-hdd/pve]
  use_template=prod_data
  recursive=yes

[zfs-nvme/pve]
  use_template=prod_data
  recursive=yes

[zfs-nvme/pve/subvol-102-disk-0]
  use_template=prod_data

[rpool]
  use_template=system
  recursive=yes

[template_prod_data]
  hourly = 36
  daily = 30
  monthly = 3
  autosnap = yes
  autoprune = yes

[template_system]
  hourly = 0
  daily = 7
  monthly = 3
  autosnap = yes
  autoprune = yes
"""

# off2's (off-facts 4): its flavors' data and pve datasets local_data, the system pool local_sys.
OFF2_SANOID_CONF = """\
[zfs-hdd/off]
  use_template=local_data
  recursive=yes

[zfs-hdd/off-pro]
  use_template=local_data
  recursive=yes

[zfs-hdd/pve]
  use_template=local_data
  recursive=yes

[zfs-nvme/pve]
  use_template=local_data
  recursive=yes

[rpool]
  use_template=local_sys
  recursive=yes

[template_local_data]
  hourly = 36
  daily = 30
  monthly = 3
  autosnap = yes
  autoprune = yes

[template_local_sys]
  hourly = 10
  daily = 10
  monthly = 6
  autosnap = yes
  autoprune = yes
"""

# off1 pulls off2 (off-facts 4); production's file names off2 by its private address 10.0.0.2,
# the lab's copy by the lab's (the only value that differs).
SYNCOID_ARGS = """\
--no-sync-snap --no-privilege-elevation --recursive off1operator@{off2}:zfs-hdd/off zfs-hdd/off
--no-sync-snap --no-privilege-elevation --recursive off1operator@{off2}:zfs-hdd/off-pro zfs-hdd/off-pro
"""
# off2 pulls off1's PVE volumes and system (confs/off2/sanoid/syncoid-args.conf), off1 by its
# lab address.
_PULL = "--no-sync-snap --no-privilege-elevation --recursive"
OFF2_SYNCOID_ARGS = "## pulling from off1\n" + "".join(
    f"{_PULL} off2operator@{{off1}}:{source} zfs-hdd/off-backups/{target}\n"
    for source, target in (
        ("zfs-hdd/pve", "off1-pve"),
        ("zfs-nvme/pve", "off1-pve-nvme"),
        ("rpool", "off1-rpool"),
    )
)

# confs/off-memcached/memcached.conf (CT 121): 3584 MB. The real file listens on 0.0.0.0; lab CTs
# share the machine's loopback, so the lab copy listens on the CT's own lab address.
OFF_MEMCACHED_CONF = """\
# memcached.conf for off2's CT 121 (off-memcached)
-d
logfile /var/log/memcached.log
-m 3584
-p 11211
-u memcache
-l {listen}
"""

# confs/off*/munin/munin-node.conf: the lines that matter (who may ask, where it listens).
MUNIN_NODE_CONF = """\
# munin-node.conf ({host}), the repository's lines that matter
log_level 4
log_file /var/log/munin/munin-node.log
pid_file /var/run/munin/munin-node.pid
background 1
setsid 1
user root
group root
allow ^127\\.0\\.0\\.1$
allow ^::1$
allow ^10\\.0\\.0
host *
port 4949
"""

# github.com/jimsalterjrs/sanoid as docs/sanoid.md builds it: release tags v*, packages/debian
# with the changelog dpkg-buildpackage names the deb from (the lab inventory's ``sanoid_repo``).
SANOID_RELEASES = ("2.1.0", "2.2.0")
SANOID_CHANGELOG = """\
sanoid ({version}) unstable; urgency=medium

  * migrator lab copy of sanoid's release {version}

 -- migrator lab <lab@localhost>  Tue, 01 Aug 2023 00:00:00 +0000
"""

# Redis in off2's CT 122 as the repo's confs/off-redis/redis/redis.conf (2024-02-28 report): no
# protected mode, supervised by systemd. The real file binds every interface; lab CTs share the
# machine's loopback, so the lab copy binds localhost and the CT's own lab address only.
OFF_REDIS_CONF = """\
# redis.conf for off2's CT 122 (off-redis), Redis 7 from packages.redis.io
bind 127.0.0.1 {bind_ip}
protected-mode no
port 6379
supervised systemd
pidfile /var/run/redis-server.pid
dir /var/lib/redis
"""

OFF_REDIS_UNIT_FILES = {
    "confs/off-redis/systemd/system/redis.service.d/override.conf": (
        "[Unit]\nOnFailure=email-failures@%n.service\n"
    ),
    "confs/off-redis/systemd/system/email-failures@.service": "[Unit]\nDescription=email failure of %i\n\n"
    "[Service]\nType=oneshot\nExecStart=/bin/true\n",
}

UNITS = {
    "sanoid_check.service": "[Unit]\nDescription=Check sanoid snapshots\n\n[Service]\nType=oneshot\n"
    "ExecStart=/usr/sbin/sanoid --monitor-snapshots\n",
    "sanoid_check.timer": "[Unit]\nDescription=Check sanoid snapshots daily\n\n[Timer]\nOnCalendar=daily\n\n"
    "[Install]\nWantedBy=timers.target\n",
    "syncoid.service": "[Unit]\nDescription=syncoid pulls\nOnFailure=email-failures@%n.service\n\n"
    "[Service]\nType=oneshot\nTimeoutSec=6h\n"
    "ExecStart=/bin/sh -c 'grep -v ^# /etc/sanoid/syncoid-args.conf | xargs -L1 /usr/sbin/syncoid'\n",
    "email-failures@.service": "[Unit]\nDescription=mail a failure of %i\n\n[Service]\nType=oneshot\n"
    "ExecStart=/bin/true\n",
}

MONGODB_KEY = """\
-----BEGIN PGP PUBLIC KEY BLOCK-----
Comment: migrator lab mirror: a stand-in for www.mongodb.org/static/pgp/server-4.4.asc

mQINBF5lYtQBEADcWGCOD4Cbuvy4xBF9Kdr6zGeCrnKUlC9F6+UxbkIgsVqsGkSI
=labx
-----END PGP PUBLIC KEY BLOCK-----
"""


def _git(*args: str, cwd: Path) -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "migrator lab",
        "GIT_AUTHOR_EMAIL": "lab@localhost",
        "GIT_COMMITTER_NAME": "migrator lab",
        "GIT_COMMITTER_EMAIL": "lab@localhost",
        "GIT_CONFIG_GLOBAL": "/dev/null",
    }
    result = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise LabError(f"git {' '.join(args)} failed: {result.stderr.strip()}", where=str(cwd))


def infra_files(
    mongodb_address: str,
    off2_address: str,
    redis_address: str = "127.0.0.1",
    off1_address: str = "127.0.1.1",
    memcached_address: str = "127.0.0.1",
) -> dict[str, str]:
    files = {
        "confs/mongodb/mongod.conf": MONGOD_CONF.format(bind_ip=mongodb_address),
        "confs/off1/sanoid/sanoid.conf": OFF1_SANOID_CONF,
        "confs/off1/sanoid/syncoid-args.conf": SYNCOID_ARGS.format(off2=off2_address),
        "confs/off2/sanoid/sanoid.conf": OFF2_SANOID_CONF,
        "confs/off2/sanoid/syncoid-args.conf": OFF2_SYNCOID_ARGS.format(off1=off1_address),
        "confs/off1/munin/munin-node.conf": MUNIN_NODE_CONF.format(host="off1"),
        "confs/off2/munin/munin-node.conf": MUNIN_NODE_CONF.format(host="off2"),
        "confs/off-memcached/memcached.conf": OFF_MEMCACHED_CONF.format(listen=memcached_address),
        "README.md": "# openfoodfacts-infrastructure (migrator lab copy)\n",
        "confs/off-redis/redis/redis.conf": OFF_REDIS_CONF.format(bind_ip=redis_address),
        **OFF_REDIS_UNIT_FILES,
    }
    files.update({f"confs/common/systemd/system/{name}": text for name, text in UNITS.items()})
    # Where the plans link them from, as in the repository: each host's own copies.
    for host_dir in ("confs/off1/systemd/system", "confs/off2/systemd/system"):
        files.update({f"{host_dir}/{name}": text for name, text in UNITS.items()})
    override = "[Service]\nEnvironment=TZ=UTC\n"
    files["confs/off1/systemd/system/sanoid.service.d/override.conf"] = override
    files["confs/off2/systemd/sanoid.service.d/override.conf"] = override
    return files


def write_infra_repo(bare: Path, files: dict[str, str]) -> None:
    """The bare repository ``bare`` of ``files`` (:func:`infra_files`; made once, kept while current)."""
    _write_bare(bare, [("", files)])


def write_sanoid_repo(bare: Path) -> None:
    """sanoid's upstream repository: one commit and one tag per release, oldest first."""
    releases = [
        {"README.md": f"# sanoid {v} (migrator lab copy)\n",
         "packages/debian/changelog": SANOID_CHANGELOG.format(version=v)}
        for v in SANOID_RELEASES
    ]  # fmt: skip
    _write_bare(bare, [(f"v{v}", files) for v, files in zip(SANOID_RELEASES, releases, strict=True)])


def _write_bare(bare: Path, steps: list[tuple[str, dict[str, str]]]) -> None:
    """A bare repository: each (tag, files) committed in turn, tagged where a tag is given."""
    digest = hashlib.sha256(json.dumps(steps, sort_keys=True).encode()).hexdigest()
    marker = bare / "lab-files.sha256"
    if (bare / "HEAD").exists() and marker.exists() and marker.read_text(encoding="utf-8") == digest:
        return
    shutil.rmtree(bare, ignore_errors=True)  # an older lab's copy: made again from today's files
    if shutil.which("git") is None:
        raise LabError("git not found", hint="apt-get install git")
    work = bare.with_name(bare.name + ".work")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    _git("init", "-q", "-b", "develop", cwd=work)
    for tag, release in steps:
        for relative, text in release.items():
            path = work / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        _git("add", ".", cwd=work)
        _git("commit", "-q", "-m", f"lab copy {tag or 'of the repository'}", cwd=work)
        if tag:
            _git("tag", tag, cwd=work)
    _git("clone", "-q", "--bare", str(work), str(bare), cwd=work.parent)
    shutil.rmtree(work)
    marker.write_text(digest, encoding="utf-8")


def write_mirror(mirror: Path) -> None:
    key = mirror / "www.mongodb.org/static/pgp/server-4.4.asc"
    key.parent.mkdir(parents=True, exist_ok=True)
    key.write_text(MONGODB_KEY, encoding="utf-8")
    redis_key = mirror / "packages.redis.io/gpg"  # off2 plan ct122-redis (Redis 7 from packages.redis.io)
    redis_key.parent.mkdir(parents=True, exist_ok=True)
    redis_text = MONGODB_KEY.replace("www.mongodb.org/static/pgp/server-4.4.asc", "packages.redis.io/gpg")
    redis_key.write_text(redis_text, encoding="utf-8")
