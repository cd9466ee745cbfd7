"""The files a Proxmox node keeps in /etc/pve that plans read: storage.cfg and lxc/VMID.conf.

On a real node /etc/pve is pmxcfs: ``pvesm`` writes ``storage.cfg`` and every container's
config *is* ``/etc/pve/lxc/VMID.conf`` (raw ``lxc.*`` lines appended by hand are kept and
shown after the keys). The lab keeps them as plain files in the host's /etc/pve: the
stand-in ``pvesm`` rewrites storage.cfg, and the host's fakepve process writes each
container's conf whenever the API's config changes, keeping the file's ``lxc.*`` lines.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

CONTENT = {"dir": "iso,vztmpl,backup", "zfspool": "images,rootdir"}


def storage_cfg(storages: list[dict[str, Any]]) -> str:
    """PVE's section-config format: ``TYPE: ID`` then tab-indented ``key value`` lines."""
    blocks = []
    for item in storages:
        lines = [f"{item['type']}: {item['name']}"]
        if item["type"] == "zfspool":
            lines += [f"\tpool {item['pool']}", "\tsparse"]
        else:
            lines.append(f"\tpath {item.get('path', '/var/lib/vz')}")
        lines.append(f"\tcontent {item.get('content', CONTENT.get(item['type'], 'images'))}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def write_storage_cfg(path: Path, storages: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(storage_cfg(storages), encoding="utf-8")


def ct_conf(config: dict[str, Any], raw_lines: list[str]) -> str:
    """``key: value`` sorted as pct writes them (no digest), then the raw ``lxc.*`` lines."""
    lines = [f"{key}: {value}" for key, value in sorted(config.items()) if key not in ("digest", "lock")]
    return "\n".join(lines + raw_lines) + "\n"


def raw_lines(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    return [line for line in text.splitlines() if line.startswith("lxc.")]


def sync_ct_confs(lxc_dir: Path, configs: dict[int, dict[str, Any]], written: dict[int, str]) -> None:
    """Write the conf of each container whose API config changed; remove destroyed ones.

    ``written`` remembers the last text per VMID (the caller keeps it across calls), so a
    line appended to the file by hand is not lost to a rewrite of an unchanged config.
    """
    lxc_dir.mkdir(parents=True, exist_ok=True)
    for vmid, config in configs.items():
        keys = ct_conf(config, [])
        path = lxc_dir / f"{vmid}.conf"
        if written.get(vmid) != keys or not path.exists():
            path.write_text(ct_conf(config, raw_lines(path)), encoding="utf-8")
            written[vmid] = keys
    for vmid in [v for v in written if v not in configs]:
        (lxc_dir / f"{vmid}.conf").unlink(missing_ok=True)
        del written[vmid]
