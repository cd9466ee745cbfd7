"""off2's history in the lab: as it stood before its move (Feb 2023), and what a reinstall keeps.

``migrator lab up`` makes off2 as it stands today (migrated, cluster off-free). To rehearse
plans/off2.yaml, :func:`stage_before_move` turns the lab's off2 back into the bare-metal
Debian of February 2023 (off-facts 2a): its system pool ``rpool`` on the 1 TB SSD (nvme3n1),
both 2 TB NVMe and the Optane blank, no Proxmox, no cluster, MongoDB already on off3, the
infrastructure repository checked out, root's crontab; and ovh3 holding the replicas off2
pushed as root@ (``rpool/off-backups/off2-rpool``, ``rpool/off/images``).

:func:`after_reinstall` is what the Proxmox installer leaves on disks it did not touch: the
NVMe/SSD pools wait in ``zpool import`` (two pools named rpool: the pitfall of 2a step 11),
and the fresh node has no guests and the installer's ``/etc/pve/storage.cfg``.
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from typing import TYPE_CHECKING, Any

from migrator.lab import state as host_state
from migrator.lab.hostfiles import seed_crontab
from migrator.lab.layout import SSH_PORT, host, read_json, write_json
from migrator.lab.standins import devnodes
from migrator.lab.standins.pve_files import write_storage_cfg
from migrator.lab.standins.zfs_stream import surviving

if TYPE_CHECKING:
    from migrator.lab.control import Lab

OLD_SSD = {
    "size": 1000204886016,
    "model": "Samsung SSD 970 EVO Plus 1TB",
    "serial": "S4EWNX0R801122K",
    "rotational": False,
    "parts": [
        {"num": 1, "start": 34, "end": 2047, "name": "", "fs": ""},
        {"num": 2, "start": 2048, "end": 1050623, "name": "", "fs": "fat32"},
        {"num": 3, "start": 1050624, "end": 1953525134, "name": "", "fs": "zfs"},
    ],
}
OLD_RPOOL_SIZE = 734439407616  # 684G (rpool2 in off-facts)
# sanoid's daily snapshots of the old system pool; ovh3 holds the same ones (root@ push).
SNAPSHOTS = [f"autosnap_2023-02-{day:02d}_00:00:01_daily" for day in range(10, 17)]
OLD_DATASETS = ("rpool", "rpool/ROOT", "rpool/ROOT/debian", "rpool/srv", "rpool/var")
OFF2_CRONTAB = """\
# m h  dom mon dow   command
# MongoDB moved to off3 (2023-02): refresh_products_tags runs there now
#0 2 * * * /srv/off/scripts/refresh_products_tags.sh > /var/log/refresh_products_tags.log 2>&1
15 3 * * * /usr/sbin/logrotate /etc/logrotate.conf
"""


def old_off2_state(current: dict[str, Any]) -> dict[str, Any]:
    """off2's stand-in state in Feb 2023, keeping what is not storage (iptables rules, routes)."""
    state = dict(current)
    disks = host_state.disks("off2", data_parts=False)
    disks["nvme2n1"]["parts"] = []  # the Optane is partitioned during the window
    disks["nvme3n1"] = OLD_SSD
    state.update(
        profile="debian-zfs",
        disks=disks,
        pools={
            "rpool": host_state.pool("disk", ["/dev/nvme3n1p3"], OLD_RPOOL_SIZE, guid="6417321905487213354")
        },
        datasets={name: {"props": {}, "snapshots": list(SNAPSHOTS)} for name in OLD_DATASETS},
        importable=[],
        labelcleared=[],
        storages=[],
        templates=[],
        units={"nginx": {"state": "active", "enabled": True}, "cron": {"state": "active", "enabled": True}},
    )
    state.pop("cluster", None)
    state.pop("stale_imported", None)
    return state


def stage_before_move(lab: Lab) -> list[str]:
    """Turn the running lab's off2 (and ovh3's replicas of it) back to February 2023."""
    paths = lab.paths
    with host_state.locked(paths.state_dir("off2")) as state:
        old = old_off2_state(state)
        state.clear()
        state.update(old)
    devnodes.sync_host(paths.dir, "off2")  # its /dev: the old disks' names
    clusters = read_json(paths.clusters, {})
    assert isinstance(clusters, dict)
    clusters.pop("off-free", None)  # off2 creates it (plans/off2.yaml cluster-create)
    write_json(paths.clusters, clusters)
    root = paths.root("off2")
    for item in (root / "etc/pve").iterdir():  # no Proxmox yet: /etc/pve is empty
        shutil.rmtree(item) if item.is_dir() and not item.is_symlink() else item.unlink()
    repo = root / "opt/openfoodfacts-infrastructure"
    if not (repo / ".git").exists():
        subprocess.run(
            ["git", "clone", "-q", str(paths.infra_repo), str(repo)],
            check=True,
            capture_output=True,
            env={"GIT_CONFIG_GLOBAL": "/dev/null", "PATH": "/usr/bin:/bin"},
        )
    seed_crontab(root, "root", OFF2_CRONTAB)
    with host_state.locked(paths.state_dir("ovh3")) as ovh3:
        datasets = ovh3["datasets"]
        for name in ("rpool/off-backups", "rpool/off", "rpool/off/images"):
            datasets.setdefault(name, {"props": {}, "snapshots": []})
        datasets["rpool/off/images"]["snapshots"] = ["autosnap_2023-02-16_00:00:01_daily"]
        for name in OLD_DATASETS:
            replica = "rpool/off-backups/off2-" + name
            datasets[replica] = {"props": {}, "snapshots": list(SNAPSHOTS)}
    fresh_api(lab, "off2")
    _mongod_on_off3(lab)
    return [
        "off2: bare-metal Debian of Feb 2023 (rpool on nvme3n1p3, NVMe and Optane blank, no Proxmox)",
        "ovh3: rpool/off-backups/off2-rpool and rpool/off/images as pushed by off2",
    ]


def _mongod_on_off3(lab: Lab) -> None:
    """MongoDB 4.4 serving from off3 (prep step 1 done): its conf, and the unit (re)started."""
    off3 = host("off3")
    conf = lab.paths.root("off3") / "etc/mongod.conf"
    conf.write_text(
        f"storage:\n  dbPath: /mongo/db\nnet:\n  port: 27017\n  bindIp: {off3.address}\n", encoding="utf-8"
    )
    known = lab.paths.known_hosts
    subprocess.run(
        ["ssh", "-i", str(lab.paths.client_key), "-p", str(SSH_PORT), "-o", f"UserKnownHostsFile={known}",
         "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", f"root@{off3.address}",
         "systemctl restart mongod"],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip


def fresh_api(lab: Lab, name: str) -> None:
    """Restart the host's fakepve without guests (a new install, or not Proxmox yet)."""
    lab.stop_extra(f"pve:{name}")
    lab._start_pve(dataclasses.replace(host(name), containers=()))


def after_reinstall(lab: Lab, name: str, old: dict[str, Any]) -> None:
    """What the installer leaves: untouched disks and their pools, no guests, storage.cfg."""
    state_dir = lab.paths.state_dir(name)
    with host_state.locked(state_dir) as fresh:
        surviving(old, fresh)
        storages = list(fresh["storages"])
    write_storage_cfg(lab.paths.root(name) / "etc/pve/storage.cfg", storages)
    fresh_api(lab, name)
