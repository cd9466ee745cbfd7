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
import sys
from pathlib import Path
from typing import Any

SYNC_INTERVAL = 0.25


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


def mirror(pve: Any, config: dict[str, Any]) -> None:
    """Copy the cluster, quorum and storages of the host's stand-in state into fakepve."""
    node = config["node"]
    try:
        state = json.loads(Path(config["state_file"]).read_text(encoding="utf-8"))
        clusters = json.loads(Path(config["clusters_file"]).read_text(encoding="utf-8"))
        faults = set(json.loads(Path(config["faults_file"]).read_text(encoding="utf-8")))
    except FileNotFoundError:
        return
    except json.JSONDecodeError:
        return  # a writer replaces files atomically; a partial read cannot happen, but stay alive
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
