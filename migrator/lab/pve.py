"""One fakepve Proxmox API per lab Proxmox host, kept in step with the host's stand-in state.

Run as ``python -m migrator.lab.pve CONFIG`` (the lab starts it; CONFIG is a JSON file under
the lab dir). The API token secret is read from a file, never from the command line.

Who owns what (the lab's choice): fakepve owns the guests (``pct`` asks it over HTTPS with
the token whether a container exists and runs); the host's stand-in state owns the cluster
(``pvecm``) and storages (``pvesm``), and this process mirrors them into fakepve every
:data:`SYNC_INTERVAL` seconds, so the API and the command line agree.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
from pathlib import Path
from typing import Any

SYNC_INTERVAL = 0.25
_WRITTEN: dict[int, str] = {}  # the conf text last written per VMID (see pve_files.sync_ct_confs)


def _storages(state: dict[str, Any]) -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = {}
    for item in state.get("storages", []):
        entry: dict[str, Any] = {
            "type": item["type"],
            "active": 1,
            "files": set(),
            "content": "images,rootdir" if item["type"] == "zfspool" else "iso,vztmpl,backup",
            "avail": 50 * 1024**3,
        }
        if item["type"] == "zfspool":
            entry["pool"] = item["pool"]
        else:
            entry["path"] = item.get("path", "/var/lib/vz")
        result[item["name"]] = entry
    return result


def _read(path: str, default: Any) -> Any:
    """A JSON file the lab writes atomically (temp file + rename); ``default`` if absent."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return default


def mirror(pve: Any, config: dict[str, Any]) -> None:
    """Copy the cluster, quorum and storages of the host's stand-in state into fakepve."""
    node = config["node"]
    state = _read(config["state_file"], None)
    if state is None:  # mid-reinstall: the host's state is being rewritten
        return
    clusters = _read(config["clusters_file"], {})
    # No faults file until a fault is set (it used to make every mirror a no-op).
    faults = set(_read(config["faults_file"], []))
    cluster = state.get("cluster")
    members = clusters.get(cluster, {}).get("members", []) if cluster else []
    wanted = {name: {"online": True} for name in (members or [node])}
    if pve.nodes != wanted:
        pve.nodes = wanted
    pve.cluster_name = cluster or ""
    pve.quorate = "cluster-no-quorum" not in faults
    storages = _storages(clusters[cluster] if cluster and "storages" in clusters.get(cluster, {}) else state)
    if set(storages) != set(pve.storages):
        pve.storages = storages
    from migrator.lab.standins.pve_files import sync_ct_confs  # /etc/pve/lxc/VMID.conf (off2 plan)

    lxc_dir = Path(config["state_file"]).parents[3] / "etc/pve/lxc"
    sync_ct_confs(lxc_dir, {int(ct.vmid): dict(ct.config) for ct in pve.cts if ct.node == node}, _WRITTEN)


def _request_template(pve: Any, vmid: int) -> str | None:
    """The ``ostemplate`` of the latest create request for ``vmid`` (PVE keeps it nowhere else)."""
    from urllib.parse import parse_qs

    for method, path, body in reversed(pve.requests):
        if method != "POST" or not str(path).endswith("/lxc"):
            continue
        raw = body.decode(errors="replace") if isinstance(body, bytes) else str(body)
        try:
            params = {k: str(v) for k, v in json.loads(raw).items()}
        except ValueError:
            params = {k: v[0] for k, v in parse_qs(raw).items()}
        if params.get("vmid") == str(vmid):
            return params.get("ostemplate")
    return None


def realise_guest(pve: Any, config: dict[str, Any], vmid: int) -> None:
    """What PVE does on the node when it creates a CT: a ZFS subvol per zfspool volume, mounted.

    Recorded in the host's stand-in state (``zfs list`` shows them) with the CT's template,
    which ``pct exec`` uses to give the container its own /etc (its Debian release).
    """
    from migrator.lab import state as host_state

    guest = pve.ct(vmid)
    if guest is None:
        return
    state_dir = Path(config["state_file"]).parent
    root = state_dir.parents[2]  # DIR/hosts/NAME/root/var/lib/migrator-lab -> .../root
    mounts: dict[str, str] = {}
    # A new CT starts from its template: the lab's files of any earlier CT with this id go
    # (``pct exec`` makes them again, with the template's /etc).
    old_root = state_dir / "ct" / str(vmid)
    if old_root.exists():
        shutil.rmtree(old_root)
    with host_state.locked(state_dir) as state:
        for key, value in guest.config.items():
            if key != "rootfs" and not (key.startswith("mp") and key[2:].isdigit()):
                continue
            storage, _, volume = str(value).split(",", 1)[0].partition(":")
            store = pve.storages.get(storage, {})
            if store.get("type") != "zfspool" or not volume:
                continue
            dataset = f"{store['pool']}/{volume}"
            state["datasets"].setdefault(dataset, {"props": {}, "snapshots": []})
            (root / dataset).mkdir(parents=True, exist_ok=True)
            options = dict(o.split("=", 1) for o in str(value).split(",")[1:] if "=" in o)
            if "mp" in options:
                mounts[options["mp"]] = "/" + dataset  # seen in the CT at mp (bound by pct exec)
        state.setdefault("guests", {})[str(vmid)] = {
            "hostname": str(guest.config.get("hostname", f"CT{vmid}")),
            "ostemplate": _request_template(pve, vmid),
            "mounts": mounts,
        }


def _hook_creates(pve: Any, config: dict[str, Any]) -> None:
    """Realise a CT on the node before its create task ends (a post-check may look right away)."""
    original = pve.task

    async def task(node: str, ttype: str, tid: Any, user: str, body: Any, *args: Any, **kwargs: Any) -> Any:
        if ttype not in ("vzcreate", "vzrestore"):
            return await original(node, ttype, tid, user, body, *args, **kwargs)

        async def realised() -> Any:
            result = await body()
            realise_guest(pve, config, int(tid))
            return result

        return await original(node, ttype, tid, user, realised, *args, **kwargs)

    pve.task = task


async def serve(config: dict[str, Any]) -> None:
    from fakepve import FakePve

    pve = FakePve(
        user="root@pam",
        password=Path(config["password_file"]).read_text().strip(),
        host=config["address"],
        port=config["port"],
    )
    pve.time_scale = 0.0
    pve.apitokens[config["token_id"]] = Path(config["token_file"]).read_text(encoding="utf-8").strip()
    pve.nodes = {config["node"]: {"online": True}}
    for guest in config.get("guests", []):
        pve.add_ct(
            guest["vmid"],
            guest["name"],
            node=config["node"],
            status="running",
            config={
                "hostname": guest["name"],
                "memory": 512,
                "cores": 1,
                "rootfs": f"local:{guest['vmid']}/vm-{guest['vmid']}-disk-0.raw,size=8G",
            },
        )
    mirror(pve, config)
    _hook_creates(pve, config)
    await pve.start(config["cert"], config["key"])
    print(f"fakepve listening on {pve.url}", flush=True)
    while True:
        await asyncio.sleep(SYNC_INTERVAL)
        mirror(pve, config)


def main(argv: list[str]) -> int:
    config = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
    try:
        asyncio.run(serve(config))
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
