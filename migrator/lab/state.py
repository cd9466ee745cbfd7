"""A lab host's stand-in state: disks, pools, datasets, cluster, storages, units (JSON).

One file per host (and per container) at ``/var/lib/migrator-lab/state.json`` inside its
namespace, i.e. ``DIR/hosts/NAME/root/var/lib/migrator-lab/state.json`` from outside. The
stand-ins read and write it under an exclusive ``flock``; the lab control code (hooks,
faults) uses the same functions from outside the namespace.

Fakes, named as such: nothing here is ZFS or Proxmox; it only remembers what the real tools
would report, in the shape the check library reads.
"""

from __future__ import annotations

import fcntl
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

State = dict[str, Any]

TIB = 1024**4
GIB = 1024**3
HDD_SIZE = 14000519643136  # 27344764928 sectors
RPOOL_SIZE = 68719476736  # 64G: the installer's hdsize on off1

HDD_MODEL = "TOSHIBA MG07ACA14TE"


def _hdd(serial: str, parts: list[dict[str, Any]]) -> dict[str, Any]:
    return {"size": HDD_SIZE, "model": HDD_MODEL, "serial": serial, "rotational": True, "parts": parts}


def _install_parts(with_data: bool) -> list[dict[str, Any]]:
    """The PVE installer's layout (BIOS boot, EFI, ZFS) plus, once partitioned, the data part."""
    parts = [
        {"num": 1, "start": 34, "end": 2047, "name": "", "fs": ""},
        {"num": 2, "start": 2048, "end": 2099199, "name": "", "fs": "fat32"},
        {"num": 3, "start": 2099200, "end": 136314880, "name": "", "fs": "zfs"},
    ]
    if with_data:
        parts.append({"num": 4, "start": 136316928, "end": 27344764894, "name": "zfs-hdd", "fs": "zfs"})
    return parts


def disks(host: str, *, data_parts: bool) -> dict[str, Any]:
    """The disks of ``host``: four 14 TB HDDs, NVMe (2 TB), the Optane, an old SSD on off1."""
    result = {
        f"sd{letter}": _hdd(f"X0N0A0B{i}F94G", _install_parts(data_parts))
        for i, letter in enumerate("abcd", 1)
    }
    result["nvme0n1"] = {
        "size": 2000398934016,
        "model": "WD_BLACK SN770 2TB",
        "serial": "22471K801234",
        "rotational": False,
        "parts": [],
    }
    if host == "off1":
        result["nvme1n1"] = {
            "size": 14403239936,
            "model": "INTEL MEMPEK1J016GA",
            "serial": "PHBT7233010P016N",
            "rotational": False,
            "parts": [],
        }
        result["nvme2n1"] = {
            "size": 1000204886016,
            "model": "Samsung SSD 970 EVO Plus 1TB",
            "serial": "S4EWNX0R701538X",
            "rotational": False,
            "parts": [],
        }
    else:
        result["nvme1n1"] = {
            "size": 2000398934016,
            "model": "Corsair MP600 GS",
            "serial": "A5B6C7D8E9F0",
            "rotational": False,
            "parts": [],
        }
        result["nvme2n1"] = {
            "size": 14403239936,
            "model": "INTEL MEMPEK1J016GA",
            "serial": "PHBT7233011P016N",
            "rotational": False,
            "parts": [
                {"num": 1, "start": 2048, "end": 15001599, "name": "log-zfs-nvme", "fs": "zfs"},
                {"num": 2, "start": 15001600, "end": 28131327, "name": "log-zfs-hdd", "fs": "zfs"},
            ],
        }
    return result


def pool(
    vdev_type: str, devices: list[str], size: int, *, logs: list[str] | None = None, guid: str = "0"
) -> dict[str, Any]:
    return {
        "vdevs": [{"type": vdev_type, "devices": devices}],
        "logs": logs or [],
        "cache": [],
        "size": size,
        "guid": guid,
        "props": {"autoexpand": "off"},
    }


def dataset(props: dict[str, str] | None = None) -> dict[str, Any]:
    return {"props": dict(props or {}), "snapshots": []}


def fresh_pve(host: str) -> State:
    """A host right after the Proxmox installer: rpool only, no cluster, storage local."""
    rpool_devices = (
        [f"/dev/sd{x}3" for x in "abcd"] if host in ("off1", "off2") else ["/dev/sda3", "/dev/sdb3"]
    )
    return {
        "profile": "pve",
        "disks": disks(host, data_parts=False),
        "pools": {"rpool": pool("mirror", rpool_devices, RPOOL_SIZE, guid="1706273485127460412")},
        "datasets": {"rpool": dataset(), "rpool/ROOT": dataset(), "rpool/data": dataset()},
        "importable": [],
        "labelcleared": [],
        "storages": [{"name": "local", "type": "dir", "path": "/var/lib/vz"}],
        "templates": [],
        "units": {},
        "packages": [],
    }


def migrated_off2() -> State:
    """off2 as it stands since 2023: rpool, zfs-hdd and zfs-nvme, storages, cluster off-free."""
    state = fresh_pve("off2")
    state["disks"] = disks("off2", data_parts=True)
    state["pools"]["zfs-hdd"] = pool(
        "raidz1",
        [f"/dev/sd{x}4" for x in "abcd"],
        55748862689280,
        logs=["/dev/nvme2n1p2"],
        guid="4412736389065418111",
    )
    state["pools"]["zfs-nvme"] = pool(
        "mirror",
        ["/dev/nvme0n1", "/dev/nvme1n1"],
        1992864825344,
        logs=["/dev/nvme2n1p1"],
        guid="5822081177431264109",
    )
    for name in ("zfs-hdd", "zfs-hdd/pve", "zfs-hdd/off", "zfs-hdd/backups", "zfs-nvme", "zfs-nvme/pve"):
        state["datasets"][name] = dataset({"compression": "on", "xattr": "sa"})
    state["storages"] += [
        {"name": "backups", "type": "dir", "path": "/zfs-hdd/backups"},
        {"name": "zfs-hdd", "type": "zfspool", "pool": "zfs-hdd/pve"},
        {"name": "zfs-nvme", "type": "zfspool", "pool": "zfs-nvme/pve"},
    ]
    return state


def old_debian(host: str, *, zfs: bool) -> State:
    """The bare-metal Debian before the move (off1: its old ZFS rpool; off3: no ZFS)."""
    state = fresh_pve(host)
    state["profile"] = "debian-zfs" if zfs else "debian"
    state["storages"] = []
    if not zfs:
        state["pools"], state["datasets"] = {}, {}
    else:
        state["pools"] = {
            "rpool": pool("mirror", ["/dev/nvme2n1p3"], 984894455808, guid="9184375294717263012")
        }
        state["datasets"] = {"rpool": dataset(), "rpool/off": dataset(), "rpool/off/products": dataset()}
    return state


def routes(host: str) -> list[str]:
    """The routing table the installer leaves: the public subnet and its gateway (lab values)."""
    from migrator.lab.layout import host as lab_host

    address = lab_host(host).address
    result = [
        "default via 127.0.1.254 dev vmbr0 proto kernel onlink",
        f"127.0.1.0/24 dev vmbr0 proto kernel scope link src {address}",
    ]
    if host == "off2":
        result.append("10.0.0.0/8 dev vmbr1 proto kernel scope link src 10.0.0.2")
    return result


def initial(host: str, profile: str) -> State:
    if profile == "pve":
        state = migrated_off2() if host == "off2" else fresh_pve(host)
    else:
        state = old_debian(host, zfs=host == "off1")
    state["routes"] = routes(host)
    if host == "off3":  # MongoDB 4.4 serves from off3 until the move (Feb 2023 - Jan 2024)
        state["units"]["mongod"] = {"state": "active", "enabled": True}
    if host == "off2":
        state["cluster"] = "off-free"
    return state


def container_state(ctid: int) -> State:
    return {"profile": "container", "ctid": ctid, "units": {}, "packages": []}


# ------------------------------------------------------------------- file access


def state_file(state_dir: Path) -> Path:
    return state_dir / "state.json"


def load(state_dir: Path) -> State:
    data: State = json.loads(state_file(state_dir).read_text(encoding="utf-8"))
    return data


def save(state_dir: Path, state: State) -> None:
    path = state_file(state_dir)
    tmp = path.with_name(".state.json.tmp")
    tmp.write_text(json.dumps(state, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)


@contextmanager
def locked(state_dir: Path) -> Iterator[State]:
    """The state, locked for the block; saved when the block ends without an exception."""
    state_dir.mkdir(parents=True, exist_ok=True)
    with (state_dir / ".lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            state = load(state_dir)
            yield state
            save(state_dir, state)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def identity(state_dir: Path) -> dict[str, Any]:
    """``host.json``: who this is (name, lab dir, address, container id)."""
    data: dict[str, Any] = json.loads((state_dir / "host.json").read_text(encoding="utf-8"))
    return data


def faults_of(lab_dir: Path, host: str) -> set[str]:
    try:
        return set(json.loads((lab_dir / "hosts" / host / "faults.json").read_text(encoding="utf-8")))
    except FileNotFoundError:
        return set()
