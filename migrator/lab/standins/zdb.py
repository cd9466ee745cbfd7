"""Fake ``zdb -C [POOL]``: the cached pool configuration, with the vdev GUIDs ``zpool status -g``
prints (both from :func:`migrator.lab.standins.zfs.vdev_guid`, so two probes agree).

The layout is OpenZFS's (``zdb -C`` as recorded in openzfs/zfs issues #16709 and #14312, see
``tests/data/checks/command/pass_zdb_guids_match_zpool_status_g.json``): the pool name, then
four-space indented pairs, ``vdev_tree`` with ``children[N]``; strings quoted, numbers bare.
Cache devices are not part of it (openzfs/zfs#1733). Other zdb modes are not faked.
"""

from __future__ import annotations

from typing import Any

from migrator.lab.standins.context import Context, ToolError, out
from migrator.lab.standins.devices import short

METASLAB_SHIFT = 34
ASHIFT = 12


def pool_guid(name: str, pool: dict[str, Any]) -> str:
    from migrator.lab.standins.zfs import vdev_guid

    guid = str(pool.get("guid", "0"))
    return guid if guid != "0" else vdev_guid(name, pool, "root")


def _leaf(name: str, pool: dict[str, Any], where: str, number: int, device: str, *, indent: str) -> list[str]:
    from migrator.lab.standins.zfs import vdev_guid

    path = device if device.startswith("/") else f"/dev/{short(device)}"
    return [
        f"{indent}type: 'disk'",
        f"{indent}id: {number}",
        f"{indent}guid: {vdev_guid(name, pool, where)}",
        f"{indent}path: '{path}'",
        f"{indent}whole_disk: 0",
        f"{indent}create_txg: 4",
    ]


def _top(name: str, pool: dict[str, Any], index: int, vdev: dict[str, Any], is_log: bool) -> list[str]:
    from migrator.lab.standins.zfs import vdev_guid

    pad = " " * 12
    top = [f"{pad}metaslab_array: {256 + index}", f"{pad}metaslab_shift: {METASLAB_SHIFT}",
           f"{pad}ashift: {ASHIFT}", f"{pad}asize: {int(pool.get('size', 0))}",
           f"{pad}is_log: {1 if is_log else 0}"]  # fmt: skip
    lines = [f"        children[{index}]:"]
    if vdev["type"] == "disk":
        leaf = _leaf(name, pool, str(index), index, vdev["devices"][0], indent=pad)
        return lines + leaf[:4] + top + leaf[4:]
    kind = "raidz" if vdev["type"].startswith("raidz") else vdev["type"]
    lines += [f"{pad}type: '{kind}'", f"{pad}id: {index}", f"{pad}guid: {vdev_guid(name, pool, str(index))}"]
    if kind == "raidz":
        lines.append(f"{pad}nparity: {vdev['type'].removeprefix('raidz') or '1'}")
    lines += [*top, f"{pad}create_txg: 4"]
    for position, device in enumerate(vdev["devices"]):
        lines.append(f"{pad}children[{position}]:")
        lines += _leaf(name, pool, f"{index}/{position}", position, device, indent=" " * 16)
    return lines


def config_text(host: str, name: str, pool: dict[str, Any]) -> str:
    guid = pool_guid(name, pool)
    tops = [(vdev, False) for vdev in pool["vdevs"]]
    tops += [({"type": "disk", "devices": [d]}, True) for d in pool.get("logs", [])]
    lines = [f"{name}:", "    version: 5000", f"    name: '{name}'", "    state: 0", "    txg: 4",
             f"    pool_guid: {guid}", "    errata: 0", f"    hostname: '{host}'",
             "    com.delphix:has_per_vdev_zaps", f"    vdev_children: {len(tops)}", "    vdev_tree:",
             "        type: 'root'", "        id: 0", f"        guid: {guid}",
             "        create_txg: 4"]  # fmt: skip
    for index, (vdev, is_log) in enumerate(tops):
        if is_log:  # a log device's GUID is the one `zpool status -g` shows under logs
            position = index - len(pool["vdevs"])
            leaf = _leaf(name, pool, f"logs/{position}", index, vdev["devices"][0], indent=" " * 12)
            lines += [f"        children[{index}]:", *leaf[:4], f"{' ' * 12}is_log: 1", *leaf[4:]]
            continue
        lines += _top(name, pool, index, vdev, is_log)
    lines += ["    features_for_read:", "        com.delphix:hole_birth", "        com.delphix:embedded_data"]
    return "\n".join(lines) + "\n"


def zdb(ctx: Context) -> int:
    args = [a for a in ctx.args if a != "-C"]
    if "-C" not in ctx.args:
        raise ToolError("zdb: only `zdb -C [POOL]` is faked in the lab", 2)
    pools = ctx.load().get("pools", {})
    names = args or sorted(pools)
    for name in names:
        if name not in pools:
            raise ToolError(f"zdb: can't open '{name}': No such file or directory", 1)
    out("".join(config_text(ctx.host_name, name, pools[name]) for name in names))
    return 0
