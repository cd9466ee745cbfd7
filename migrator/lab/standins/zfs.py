"""Fake ``zpool`` and ``zfs``: pools and datasets as JSON state (``syncoid``/``sanoid``: sanoid.py).

Output follows OpenZFS (``zpool status``'s tab-indented config, ``zpool import``'s pool
blocks, ``zfs get -H`` tab-separated lines) as recorded in ``tests/data/checks``.
Faults: degraded-pool, pool-full, stale-rpool, missing-nvme, zfs-labels, checksum-errors (see
migrator.lab.faults).

Every vdev has a GUID that stays the same between probes (``zpool status -g``, ``zdb -C``): a
hash of the pool's GUID and the vdev's place, as a real label keeps its GUID until the device is
replaced. Error counters sit where OpenZFS puts them (``tests/data/checks/zpool_healthy``,
sources cited there): a FAULTED leaf's own READ/WRITE counts; checksum errors that no replica
could repair on the top-level vdev and the pool rows, not on the leaves (openzfs/zfs#5018).
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

from migrator.lab.standins.context import Context, ToolError, out
from migrator.lab.standins.devices import missing, resolve, short

STALE_RPOOL = {
    "name": "rpool",
    "id": "9184375294717263012",
    "devices": ["nvme-Samsung_SSD_970_EVO_Plus_1TB_S4EWNX0R701538X-part3"],
}
OLD_LABEL_POOL = "off-zfs"
BAD = ("FAULTED", "UNAVAIL")
# checksum-errors fault: unrepaired checksum errors on the first top-level vdev and the pool
# (both rows, leaves at 0), the data errors scrub found (openzfs/zfs#5018, #14465).
CKSUM_VDEV, CKSUM_POOL, DATA_ERRORS = 12, 49, 3


def vdev_guid(pool_name: str, pool: dict[str, Any], where: str) -> str:
    """A uint64 GUID for the vdev at ``where`` ("0", "0/1", "logs/0"), the same at every probe."""
    seed = f"{pool_name}:{pool.get('guid', '0')}:{where}".encode()
    return str(int.from_bytes(hashlib.sha256(seed).digest()[:8], "big"))


def _flags(args: list[str], with_value: str = "") -> tuple[set[str], dict[str, list[str]], list[str]]:
    """Split ``-H -p -o x`` style arguments: flags, options with values, the rest."""
    flags: set[str] = set()
    values: dict[str, list[str]] = {}
    rest: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg.startswith("-") and len(arg) > 1 and not rest:
            for j, letter in enumerate(arg[1:]):
                if letter in with_value:
                    value = arg[j + 2 :] or args[i + 1]
                    i += 0 if arg[j + 2 :] else 1
                    values.setdefault(letter, []).append(value)
                    break
                flags.add(letter)
        else:
            rest.append(arg)
        i += 1
    return flags, values, rest


# --------------------------------------------------------------------------- zpool


def _device_state(ctx: Context, pool_name: str, device: str, first_data: bool) -> tuple[str, str, str]:
    """(state, error counts, note) of one leaf device under the current faults."""
    faults = ctx.faults()
    if missing(device, faults):
        return "UNAVAIL", _counts(0, 0, 0), f"was {device}"
    if "degraded-pool" in faults and first_data:
        return "FAULTED", _counts(14, 223, 0), "too many errors"
    return "ONLINE", _counts(0, 0, 0), ""


def _counts(read: int, write: int, cksum: int) -> str:
    """READ WRITE CKSUM cells, right-aligned under their headers as zpool prints them."""
    return f"{read:>6}{write:>6}{cksum:>6}"


def _rows(
    ctx: Context, name: str, pool: dict[str, Any], full: bool, guids: bool = False
) -> tuple[str, list[tuple[int, str, str, str, str]]]:
    """The pool's state and its config rows (indent, name, state, counts, note); ``guids``:
    every vdev named by its GUID (``zpool status -g``)."""
    rows: list[tuple[int, str, str, str, str]] = []
    worst = "ONLINE"
    cksum = "checksum-errors" in ctx.faults() and len(pool["vdevs"][0]["devices"]) > 1
    for index, vdev in enumerate(pool["vdevs"]):
        leaves = []
        for position, device in enumerate(vdev["devices"]):
            state, counts, note = _device_state(
                ctx, name, device, index == 0 and position == 1 and len(vdev["devices"]) > 1
            )
            shown = device if full else short(device)
            if state == "UNAVAIL" or guids:  # a missing device is shown by its GUID, as zpool does
                shown = vdev_guid(name, pool, f"{index}/{position}" if vdev["type"] != "disk" else str(index))
            leaves.append((shown, state, counts, note))
        bad = sum(1 for leaf in leaves if leaf[1] in BAD)
        group_state = (
            "ONLINE"
            if bad == 0
            else ("UNAVAIL" if bad == len(leaves) or vdev["type"] == "disk" else "DEGRADED")
        )
        if group_state != "ONLINE":
            worst = "UNAVAIL" if group_state == "UNAVAIL" else "DEGRADED"
        if vdev["type"] == "disk":
            rows += [(1, *leaf) for leaf in leaves]
        else:
            label = "raidz1" if vdev["type"].startswith("raidz") else vdev["type"]
            shown_vdev = vdev_guid(name, pool, str(index)) if guids else f"{label}-{index}"
            vdev_counts = _counts(0, 0, CKSUM_VDEV if cksum and index == 0 else 0)
            rows.append((1, shown_vdev, group_state, vdev_counts, ""))
            rows += [(2, *leaf) for leaf in leaves]
    for section in ("logs", "cache"):
        if pool.get(section):
            rows.append((0, section, "", "", ""))
            for position, device in enumerate(pool[section]):
                state, counts, note = _device_state(ctx, name, device, False)
                shown = (
                    (device if full else short(device))
                    if state == "ONLINE" and not guids
                    else vdev_guid(name, pool, f"{section}/{position}")
                )
                if state != "ONLINE" and worst == "ONLINE":
                    worst = "DEGRADED"
                rows.append((1, shown, state, counts, note))
    return worst, rows


def _status_text(ctx: Context, name: str, pool: dict[str, Any], full: bool, guids: bool = False) -> str:
    state, rows = _rows(ctx, name, pool, full, guids)
    width = max([len(name)] + [2 * indent + len(row) for indent, row, *_ in rows]) + 2
    lines = [f"  pool: {name}", f" state: {state}"]
    cksum = "checksum-errors" in ctx.faults() and len(pool["vdevs"][0]["devices"]) > 1
    if cksum:
        lines += [
            "status: One or more devices has experienced an error resulting in data",
            "\tcorruption.  Applications may be affected.",
            "action: Restore the file in question if possible.  Otherwise restore the",
            "\tentire pool from backup.",
            "   see: https://openzfs.github.io/openzfs-docs/msg/ZFS-8000-8A",
        ]
    elif any(r[2] == "FAULTED" for r in rows):
        lines += [
            "status: One or more devices are faulted in response to persistent errors.",
            "\tSufficient replicas exist for the pool to continue functioning in a",
            "\tdegraded state.",
            "action: Replace the faulted device, or use 'zpool clear' to mark the device",
            "\trepaired.",
        ]
    elif any(r[2] == "UNAVAIL" for r in rows):
        lines += [
            "status: One or more devices could not be opened.  Sufficient replicas exist for",
            "\tthe pool to continue functioning in a degraded state.",
            "action: Attach the missing device and online it using 'zpool online'.",
            "   see: https://openzfs.github.io/openzfs-docs/msg/ZFS-8000-2Q",
        ]
    scrubbed = f"scrub repaired 0B in 00:21:11 with {DATA_ERRORS} errors on Sun Mar 10 00:45:12 2024"
    scan = scrubbed if cksum else "none requested"
    lines += [
        f"  scan: {scan}",
        "config:",
        "",
        f"\t{'NAME':<{width}}STATE     READ WRITE CKSUM",
        f"\t{name:<{width}}{state:<8}{_counts(0, 0, CKSUM_POOL if cksum else 0)}",
    ]
    for indent, row, row_state, counts, note in rows:
        if not row_state:
            lines.append(f"\t{row}" + ("\t" if row == "logs" else ""))
            continue
        cell = "  " * indent + row
        lines.append(f"\t{cell:<{width}}{row_state:<8}{counts}" + (f"  {note}" if note else ""))
    errors = f"{DATA_ERRORS} data errors, use '-v' for a list" if cksum else "No known data errors"
    lines += ["", f"errors: {errors}"]
    return "\n".join(lines) + "\n"


def _healthy(ctx: Context, name: str, pool: dict[str, Any]) -> bool:
    cksum = "checksum-errors" in ctx.faults() and len(pool["vdevs"][0]["devices"]) > 1
    return _rows(ctx, name, pool, False)[0] == "ONLINE" and not cksum


def _importable(ctx: Context, state: dict[str, Any]) -> list[dict[str, Any]]:
    pools = list(state.get("importable", []))
    if "stale-rpool" in ctx.faults() and not state.get("stale_imported"):
        pools.insert(0, STALE_RPOOL)
    return pools


def _import_text(pools: list[dict[str, Any]]) -> str:
    blocks = []
    for item in pools:
        devices = "".join(f"\t    {d:<60}ONLINE\n" for d in item["devices"])
        blocks.append(
            f"   pool: {item['name']}\n     id: {item['id']}\n  state: ONLINE\n"
            "status: The pool was last accessed by another system.\n"
            " action: The pool can be imported using its name or numeric identifier and\n\tthe '-f' flag.\n"
            "   see: https://openzfs.github.io/openzfs-docs/msg/ZFS-8000-EY\n config:\n\n"
            f"\t{item['name']:<64}ONLINE\n\t  {'mirror-0':<62}ONLINE\n{devices}"
        )
    return "\n".join(blocks)


def _human(size: float) -> str:
    for unit in ("", "K", "M", "G", "T", "P"):
        if size < 1024 or unit == "P":
            return f"{size:.0f}{unit}" if unit == "" else f"{size:.3g}{unit}"
        size /= 1024
    return str(size)


# Full property names and their short forms (zpoolprops(7)); the stand-in keys by the short one.
_POOL_ALIASES = {"allocated": "alloc", "capacity": "cap", "fragmentation": "frag", "dedupratio": "dedup",
                 "expandsize": "expandsz", "checkpoint": "ckpoint"}  # fmt: skip
DEFAULT_ALLOC = 1288490188  # 1.2G in use, unless the pool's state says otherwise ("alloc")
FULL_PERCENT = 93  # the pool-full fault


def _zpool_list(ctx: Context, state: dict[str, Any], args: list[str]) -> int:
    """``zpool list`` as OpenZFS prints it (lib/libzfs/libzfs_pool.c ``zpool_get_prop``):
    capacity and fragmentation as ``N%`` (``N`` with -p), sizes by ``zfs_nicenum`` (bytes
    with -p), dedup as ``1.00x`` (``1.00`` with -p), ``-`` for a zero expandsize/checkpoint."""
    flags, values, names = _flags(args, "o")
    columns = ",".join(
        values.get("o", ["name,size,alloc,free,ckpoint,expandsz,frag,cap,dedup,health,altroot"])
    )
    columns = ",".join(_POOL_ALIASES.get(c, c) for c in columns.split(","))
    literal = "p" in flags
    pools = state["pools"]
    for name in names:
        if name not in pools:
            raise ToolError(f"cannot open '{name}': no such pool")
    rows = []
    for name in names or sorted(pools):
        pool = pools[name]
        health = _rows(ctx, name, pool, False)[0]
        size = int(pool["size"])
        alloc = min(int(pool.get("alloc", DEFAULT_ALLOC)), size)
        if "pool-full" in ctx.faults():
            alloc = -(-size * FULL_PERCENT // 100)  # capacity = alloc * 100 / size, truncated (spa.c)
        percent = "" if literal else "%"
        cells = {
            "name": name,
            "size": str(size) if literal else _human(size),
            "alloc": str(alloc) if literal else _human(alloc),
            "free": str(size - alloc) if literal else _human(size - alloc),
            "ckpoint": "-",
            "expandsz": "-",
            "frag": f"0{percent}",
            "cap": f"{alloc * 100 // size if size else 0}{percent}",
            "dedup": "1.00" if literal else "1.00x",
            "health": health,
            "altroot": "-",
        }
        rows.append([cells.get(c, "-") for c in columns.split(",")])
    if "H" in flags:
        out("".join("\t".join(row) + "\n" for row in rows))
    elif not pools:
        out("no pools available")
    else:
        header = [c.upper() for c in columns.split(",")]
        widths = [max(len(x) for x in col) for col in zip(header, *rows, strict=True)]
        for row in [header, *rows]:
            out("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0


def _zpool_status(ctx: Context, state: dict[str, Any], args: list[str]) -> int:
    flags, _, names = _flags(args)
    pools = state["pools"]
    for name in names:
        if name not in pools:
            raise ToolError(f"cannot open '{name}': no such pool")
    chosen = names or sorted(pools)
    if "x" in flags:
        chosen = [n for n in chosen if not _healthy(ctx, n, pools[n])]
        if not chosen:
            out("all pools are healthy")
            return 0
    if not chosen:
        out("no pools available")
        return 0
    out("\n".join(_status_text(ctx, n, pools[n], "P" in flags, "g" in flags) for n in chosen))
    return 0


def _vdev_spec(ctx: Context, state: dict[str, Any], words: list[str], force: bool) -> dict[str, Any]:
    """Parse ``[mirror|raidz1] devs... [log devs...] [cache devs...]`` and check each device."""
    faults = ctx.faults()
    spec: dict[str, Any] = {"vdevs": [], "logs": [], "cache": []}
    section = "data"
    current: dict[str, Any] | None = None
    sizes: list[int] = []
    in_use = {d: n for n, p in state["pools"].items() for v in p["vdevs"] for d in v["devices"]}
    in_use.update({d: n for n, p in state["pools"].items() for d in p["logs"] + p["cache"]})
    labelled = []
    for word in words:
        if word in ("mirror", "raidz", "raidz1", "raidz2"):
            current = {"type": "raidz1" if word == "raidz" else word, "devices": []}
            spec["vdevs"].append(current)
            section = "data"
            continue
        if word in ("log", "cache"):
            section, current = ("logs" if word == "log" else "cache"), None
            continue
        device = word if word.startswith("/dev/") else f"/dev/{word}"
        size = resolve(state, faults, device)
        if device in in_use:
            raise ToolError(f"invalid vdev specification\n{device} is part of active pool '{in_use[device]}'")
        if "zfs-labels" in faults and device not in state.get("labelcleared", []) and not force:
            labelled.append(device)
        if section == "data":
            if current is None:
                spec["vdevs"].append({"type": "disk", "devices": [device]})
            else:
                current["devices"].append(device)
            sizes.append(size)
        else:
            spec[section].append(device)
    if labelled:
        lines = "\n".join(f"{d} is part of potentially active pool '{OLD_LABEL_POOL}'" for d in labelled)
        raise ToolError(f"invalid vdev specification\nuse '-f' to override the following errors:\n{lines}")
    if not spec["vdevs"]:
        raise ToolError("invalid vdev specification: at least one toplevel vdev must be specified", 2)
    spec["size"] = _pool_size(spec["vdevs"], sizes)
    return spec


def _pool_size(vdevs: list[dict[str, Any]], sizes: list[int]) -> int:
    total, index = 0, 0
    for vdev in vdevs:
        chunk = sizes[index : index + len(vdev["devices"])]
        index += len(vdev["devices"])
        if vdev["type"] == "mirror":
            total += min(chunk)
        elif vdev["type"].startswith("raidz"):
            parity = int(vdev["type"][-1]) if vdev["type"][-1].isdigit() else 1
            total += min(chunk) * (len(chunk) - parity)
        else:
            total += chunk[0]
    return total


def _zpool_create(ctx: Context, state: dict[str, Any], args: list[str]) -> int:
    flags, values, rest = _flags(args, "oOmR")
    if not rest:
        raise ToolError("missing pool name argument", 2)
    name = rest[0]
    if name in state["pools"]:
        raise ToolError(f"cannot create '{name}': pool already exists")
    spec = _vdev_spec(ctx, state, rest[1:], "f" in flags)
    props = dict(v.split("=", 1) for v in values.get("o", []))
    state["pools"][name] = {**spec, "guid": str(int(time.time() * 1000) % 10**19), "props": props}
    state["datasets"][name] = {"props": dict(v.split("=", 1) for v in values.get("O", [])), "snapshots": []}
    return 0


def _zpool_import(ctx: Context, state: dict[str, Any], args: list[str]) -> int:
    _, _, rest = _flags(args, "do")
    importable = _importable(ctx, state)
    if not rest:
        if not importable:
            raise ToolError("no pools available to import")
        out(_import_text(importable))
        return 0
    wanted, new_name = rest[0], (rest[1] if len(rest) > 1 else None)
    found = [p for p in importable if wanted in (p["name"], p["id"])]
    if not found:
        raise ToolError(f"cannot import '{wanted}': no such pool available")
    if len(found) > 1:
        raise ToolError(
            f"cannot import '{wanted}': more than one matching pool\nimport by numeric ID instead"
        )
    item = found[0]
    target = new_name or item["name"]
    if target in state["pools"]:
        raise ToolError(
            f"cannot import '{wanted}': a pool with that name already exists\n"
            "use the form 'zpool import <pool | id> <newpool>' to give it a new name"
        )
    if item is STALE_RPOOL:
        state["stale_imported"] = True
        item = {**STALE_RPOOL, "devices": ["/dev/nvme2n1p3"], "size": 984894455808}
    else:
        state["importable"] = [p for p in state["importable"] if p["id"] != item["id"]]
    state["pools"][target] = item.get("pool") or {
        "vdevs": [{"type": "disk", "devices": item["devices"]}],
        "logs": [],
        "cache": [],
        "size": item.get("size", 984894455808),
        "guid": item["id"],
        "props": {},
    }
    from migrator.lab.standins.zfs_stream import imported_datasets

    state["datasets"].update(imported_datasets(item, target))
    return 0


def zpool(ctx: Context) -> int:
    if not ctx.args:
        raise ToolError("usage: zpool command args ...", 2)
    command, args = ctx.args[0], ctx.args[1:]
    with ctx.locked() as state:
        pools = state["pools"]
        if command == "list":
            return _zpool_list(ctx, state, args)
        if command == "status":
            return _zpool_status(ctx, state, args)
        if command == "create":
            return _zpool_create(ctx, state, args)
        if command == "import":
            return _zpool_import(ctx, state, args)
        if command == "labelclear":
            _, _, rest = _flags(args)
            resolve(state, ctx.faults(), rest[0] if rest[0].startswith("/dev/") else f"/dev/{rest[0]}")
            state.setdefault("labelcleared", []).append(
                rest[0] if rest[0].startswith("/dev/") else f"/dev/{rest[0]}"
            )
            return 0
        _, _, rest = _flags(args)
        name = next((r for r in rest if r in pools), None)
        if name is None:
            raise ToolError(f"cannot open '{rest[-1] if rest else ''}': no such pool")
        if command == "destroy":
            del pools[name]
            state["datasets"] = {k: v for k, v in state["datasets"].items() if k.split("/")[0] != name}
        elif command == "export":
            from migrator.lab.standins.zfs_stream import exported

            state.setdefault("importable", []).append(exported(state, name))  # datasets go with the pool
            del pools[name]
            state["datasets"] = {k: v for k, v in state["datasets"].items() if k.split("/")[0] != name}
        elif command == "add":
            section = "logs" if "log" in rest else "cache"
            devices = [d for d in rest if d not in (name, "log", "cache")]
            for device in devices:
                resolve(state, ctx.faults(), device if device.startswith("/dev/") else f"/dev/{device}")
            pools[name][section] += [d if d.startswith("/dev/") else f"/dev/{d}" for d in devices]
        elif command == "set":
            key, _, value = rest[0].partition("=")
            pools[name]["props"][key] = value
        elif command == "get":
            out(
                "NAME   PROPERTY    VALUE   SOURCE\n"
                f"{name}  {rest[0]}  {pools[name]['props'].get(rest[0], '-')}  local"
            )
        elif command not in ("upgrade", "trim", "scrub", "clear", "online"):
            raise ToolError(f"unrecognized command '{command}'", 2)
        return 0


# --------------------------------------------------------------------------- zfs

DEFAULTS = {
    "compression": "off",
    "atime": "on",
    "xattr": "on",
    "recordsize": "131072",
    "quota": "0",
    "reservation": "0",
    "checksum": "on",
    "readonly": "off",
    "canmount": "on",
    "sharenfs": "off",
}


def _props(state: dict[str, Any], name: str) -> dict[str, tuple[str, str]]:
    """Every property of ``name``: (value, source), inherited along the parents."""
    result = {k: (v, "default") for k, v in DEFAULTS.items()}
    parts = name.split("@", 1)[0].split("/")
    for depth in range(1, len(parts) + 1):
        ancestor = "/".join(parts[:depth])
        for key, value in state["datasets"].get(ancestor, {}).get("props", {}).items():
            source = "local" if ancestor == name else f"inherited from {ancestor}"
            result[key] = (value, source)
    result.update(
        {
            "type": ("filesystem", "-"),
            "creation": ("1702900000", "-"),
            "used": ("98304", "-"),
            "available": ("37399969536", "-"),
            "mounted": ("yes", "-"),
            "mountpoint": (state["datasets"][name]["props"].get("mountpoint", "/" + name), "default"),
        }
        if "@" not in name
        else {"type": ("snapshot", "-"), "creation": ("1702900000", "-"), "used": ("0", "-")}
    )
    return result


def _need(state: dict[str, Any], name: str) -> None:
    base, _, snap = name.partition("@")
    if base not in state["datasets"] or (snap and snap not in state["datasets"][base]["snapshots"]):
        raise ToolError(f"cannot open '{name}': dataset does not exist")


def zfs(ctx: Context) -> int:
    if not ctx.args:
        raise ToolError("usage: zfs command args ...", 2)
    command, args = ctx.args[0], ctx.args[1:]
    if command in ("send", "recv", "receive", "rollback"):  # see zfs_stream (off2 plan); it locks itself
        from migrator.lab.standins import zfs_stream

        return zfs_stream.handle(ctx, command, args)
    with ctx.locked() as state:
        datasets = state["datasets"]
        flags, values, rest = _flags(args, "otsSd")
        if command == "get":
            columns = ",".join(values.get("o", ["name,property,value,source"])).split(",")
            wanted, names = rest[0], rest[1:]
            for name in names:
                _need(state, name)
            for name in names:
                props = _props(state, name)
                keys = sorted(props) if wanted == "all" else wanted.split(",")
                for key in keys:
                    value, source = props.get(key, ("-", "-"))
                    cells = {"name": name, "property": key, "value": value, "source": source}
                    out("\t".join(cells[c] for c in columns))
            return 0
        if command == "list":
            names = rest or sorted(datasets)
            for name in rest:
                _need(state, name)
            if "r" in flags or "d" in values:  # -d N: N levels below each named dataset
                depth = int(values["d"][0]) if "d" in values else 10**6
                snapshots_only = "snapshot" in values.get("t", [])
                names = [
                    d
                    for d in sorted(datasets)
                    for n in rest
                    if (d == n or d.startswith(n + "/"))
                    and d[len(n) :].count("/") <= depth - (1 if snapshots_only else 0)
                ]
            if "snapshot" in values.get("t", []):
                names = [f"{d}@{s}" for d in names for s in datasets[d]["snapshots"]]
            columns = ",".join(values.get("o", ["name,used,avail,refer,mountpoint"])).split(",")
            if "H" not in flags:
                out("  ".join(c.upper() for c in columns))
            for name in names:
                cells = {"name": name, "used": "96K", "avail": "34.0T", "refer": "96K"}
                cells["mountpoint"] = "-" if "@" in name else "/" + name
                out(("\t" if "H" in flags else "  ").join(cells.get(c, "-") for c in columns))
            return 0
        if command == "create":
            name = rest[-1]
            if name in datasets:
                if "p" in flags:  # -p: an existing dataset is no error (zfs(8))
                    return 0
                raise ToolError(f"cannot create '{name}': dataset already exists")
            parent = name.rsplit("/", 1)[0]
            if parent not in datasets:
                if "p" not in flags:
                    raise ToolError(f"cannot create '{name}': parent does not exist")
                parts = name.split("/")
                if parts[0] not in datasets:
                    raise ToolError(f"cannot create '{name}': no such pool '{parts[0]}'")
                for depth in range(2, len(parts)):
                    datasets.setdefault("/".join(parts[:depth]), {"props": {}, "snapshots": []})
            datasets[name] = {"props": dict(v.split("=", 1) for v in values.get("o", [])), "snapshots": []}
            _mkdir_mountpoint(name)
            return 0
        if command in ("destroy", "set", "snapshot", "snap", "rename", "allow", "inherit", "mount"):
            return _zfs_change(state, command, flags, rest)
        raise ToolError(f"unrecognized command '{command}'", 2)


def _mkdir_mountpoint(name: str) -> None:
    """Under a bound pool directory only: the lab never writes elsewhere on the machine."""
    path = Path("/" + name)
    pool_dir = Path("/" + name.split("/", maxsplit=1)[0])
    if pool_dir.is_dir() and len(path.parts) > 2:  # parents too (zfs create -p)
        path.mkdir(parents=True, exist_ok=True)


def _zfs_change(state: dict[str, Any], command: str, flags: set[str], rest: list[str]) -> int:
    datasets = state["datasets"]
    if command == "destroy":
        name = rest[-1]
        _need(state, name)
        if "@" in name:
            base, snap = name.split("@", 1)
            datasets[base]["snapshots"].remove(snap)
            return 0
        children = [d for d in datasets if d.startswith(name + "/")]
        if children and "r" not in flags:
            raise ToolError(
                f"cannot destroy '{name}': filesystem has children\n"
                "use '-r' to destroy the following datasets:\n" + "\n".join(children)
            )
        for item in [name, *children]:
            del datasets[item]
    elif command == "set":
        key, _, value = rest[0].partition("=")
        for name in rest[1:]:
            _need(state, name)
            datasets[name]["props"][key] = value
    elif command in ("snapshot", "snap"):
        for full in rest:
            base, snap = full.split("@", 1)
            _need(state, base)
            targets = [d for d in datasets if d == base or ("r" in flags and d.startswith(base + "/"))]
            for target in targets:
                if snap in datasets[target]["snapshots"]:
                    raise ToolError(f"cannot create snapshot '{target}@{snap}': dataset already exists")
                datasets[target]["snapshots"].append(snap)
    elif command == "rename":
        old, new = rest[-2], rest[-1]
        _need(state, old)
        if new in datasets:
            raise ToolError(f"cannot rename to '{new}': dataset already exists")
        for name in [d for d in list(datasets) if d == old or d.startswith(old + "/")]:
            datasets[new + name[len(old) :]] = datasets.pop(name)
    elif command == "allow":
        if len(rest) == 1:
            _need(state, rest[0])
            grants = state.get("allow", {}).get(rest[0], {})
            out(f"---- Permissions on {rest[0]} " + "-" * 40)
            if grants:
                out("Local+Descendent permissions:")
                for user, perms in sorted(grants.items()):
                    out(f"\tuser {user} {perms}")
        else:
            user, perms, name = rest[-3], rest[-2], rest[-1]
            _need(state, name)
            state.setdefault("allow", {}).setdefault(name, {})[user] = perms
    return 0
