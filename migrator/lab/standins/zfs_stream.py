"""Fake ``zfs send`` / ``zfs recv`` / ``zfs rollback`` and pools that keep their datasets.

A real send stream is binary; the lab's is one line of JSON after a magic line, carrying
the datasets (relative to the sent one), their properties and snapshots. It crosses pipes
and ``ssh`` like the real one (``zfs send ... | ssh host zfs recv ...``), and ``zfs recv``
applies it with the real rules the plans rely on: a full stream needs ``-F`` over an
existing target; an incremental one (``-I @a``/``-i @a``) needs ``@a`` on the target.
Messages are OpenZFS's. ``-nvP`` prints the parsable dry-run lines (``full``/``size``).

Also here: what ``zpool export`` keeps and ``zpool import`` brings back (a pool's
datasets travel with it, renamed when the pool is imported under a new name), and which
pools survive a reinstall (those on disks the installer did not touch).
"""

from __future__ import annotations

import json
import sys
from typing import Any

from migrator.lab.standins.context import Context, ToolError, out

MAGIC = "MIGRATOR-LAB-ZFS-STREAM 1"
SNAPSHOT_SIZE = 1288490188  # what -P reports per snapshot sent (1.2G)


def _descendants(datasets: dict[str, Any], name: str) -> list[str]:
    return sorted(d for d in datasets if d == name or d.startswith(name + "/"))


def _options(args: list[str]) -> tuple[set[str], dict[str, str], list[str]]:
    """``-vwR -I @seed rpool@move`` -> flags, {"I": "@seed"}, ["rpool@move"]."""
    flags: set[str] = set()
    values: dict[str, str] = {}
    rest: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg.startswith("-") and len(arg) > 1:
            for j, letter in enumerate(arg[1:]):
                if letter in "IitdoxX":
                    values[letter] = arg[j + 2 :] or args[i + 1]
                    i += 0 if arg[j + 2 :] else 1
                    break
                flags.add(letter)
        else:
            rest.append(arg)
        i += 1
    return flags, values, rest


# --------------------------------------------------------------------------- send


def send(ctx: Context, state: dict[str, Any], args: list[str]) -> dict[str, Any] | None:
    """The stream to write (None for a dry run ``-n``)."""
    flags, values, rest = _options(args)
    if len(rest) != 1 or "@" not in rest[0]:
        raise ToolError(
            "usage:\n\tsend [-DLPbcehnpsvw] [-i|-I snapshot] [-R [-X dataset[,dataset]...]] <snapshot>", 2
        )
    base, snap = rest[0].split("@", 1)
    datasets = state["datasets"]
    if base not in datasets or snap not in datasets[base]["snapshots"]:
        raise ToolError(f"cannot open '{rest[0]}': dataset does not exist")
    incremental = values.get("I") or values.get("i")
    since = incremental.rsplit("@", 1)[-1] if incremental else None
    if since is not None and since not in datasets[base]["snapshots"]:
        raise ToolError(f"cannot open '{base}@{since}': dataset does not exist")
    names = _descendants(datasets, base) if "R" in flags else [base]
    stream: dict[str, Any] = {"from": since, "to": snap, "all": "I" in values or "R" in flags, "datasets": {}}
    for name in names:
        snaps = datasets[name]["snapshots"]
        if snap not in snaps:
            continue  # -R sends the children that have the snapshot
        upto = snaps[: snaps.index(snap) + 1]
        if since is not None:
            if since not in upto:
                raise ToolError(
                    f"cannot send '{name}@{snap}': incremental source ({name}@{since}) does not exist"
                )
            upto = upto[upto.index(since) + 1 :] if stream["all"] else [snap]
        elif not stream["all"]:
            upto = [snap]
        relative = name[len(base) :]
        stream["datasets"][relative] = {"props": datasets[name]["props"], "snapshots": upto}
    _report(flags, base, snap, since, stream)
    if "n" in flags:
        return None
    if sys.stdout.isatty():
        raise ToolError("Error: Stream can not be written to a terminal.\nYou must redirect standard output.")
    return stream


def _report(flags: set[str], base: str, snap: str, since: str | None, stream: dict[str, Any]) -> None:
    """``-v``: what would be sent; on stdout for a dry run (``-n``), else on stderr (OpenZFS 2)."""
    if "v" not in flags and "P" not in flags:
        return
    count = sum(len(d["snapshots"]) for d in stream["datasets"].values())
    total = SNAPSHOT_SIZE * max(count, 1)
    lines = []
    for relative, item in stream["datasets"].items():
        for name in item["snapshots"]:
            target = f"{base}{relative}@{name}"
            if "P" in flags:
                lines.append(
                    f"incremental\t{since}\t{target}\t{SNAPSHOT_SIZE}"
                    if since
                    else f"full\t{target}\t{SNAPSHOT_SIZE}"
                )
            else:
                kind = f"incremental send of {target} from @{since}" if since else f"full send of {target}"
                lines.append(f"{kind} estimated size is 1.20G")
    lines.append(f"size\t{total}" if "P" in flags else f"total estimated size is {total / 1024**3:.2f}G")
    text = "\n".join(lines) + "\n"
    if "n" in flags:
        out(text)
    else:
        sys.stderr.write(text)


# --------------------------------------------------------------------------- recv


def recv(ctx: Context, state: dict[str, Any], args: list[str], stream: dict[str, Any]) -> int:
    flags, _, rest = _options(args)
    if len(rest) != 1:
        raise ToolError(
            "usage:\n\treceive [-vMnsFhu] [-o <property>=<value>] ... <filesystem|volume|snapshot>", 2
        )
    target = rest[0].split("@", 1)[0]
    datasets = state["datasets"]
    parent = target.rsplit("/", 1)[0] if "/" in target else None
    if target.split("/")[0] not in state["pools"]:
        raise ToolError(f"cannot receive: pool '{target.split('/')[0]}' does not exist")
    if parent is not None and parent not in datasets:
        raise ToolError(f"cannot receive new filesystem stream: parent of '{target}' does not exist")
    since = stream["from"]
    if since is None:
        if target in datasets and "F" not in flags:
            raise ToolError(
                f"cannot receive new filesystem stream: destination '{target}' exists\n"
                "must specify -F to overwrite it"
            )
        for name in _descendants(datasets, target):
            del datasets[name]
        for relative, item in sorted(stream["datasets"].items()):
            datasets[target + relative] = {"props": dict(item["props"]), "snapshots": list(item["snapshots"])}
    else:
        for relative, item in sorted(stream["datasets"].items()):
            name = target + relative
            if name not in datasets:
                raise ToolError(f"cannot receive incremental stream: destination '{name}' does not exist")
            snaps = datasets[name]["snapshots"]
            if since not in snaps:
                raise ToolError(
                    f"cannot receive incremental stream: most recent snapshot of {name} does not\n"
                    "match incremental source"
                )
            if snaps[-1] != since:
                if "F" not in flags:
                    raise ToolError(
                        f"cannot receive incremental stream: destination {name} has been modified\n"
                        "since most recent snapshot"
                    )
                del snaps[snaps.index(since) + 1 :]
            snaps.extend(s for s in item["snapshots"] if s not in snaps)
    return 0


def rollback(ctx: Context, state: dict[str, Any], args: list[str]) -> int:
    flags, _, rest = _options(args)
    if len(rest) != 1 or "@" not in rest[0]:
        raise ToolError("usage:\n\trollback [-rRf] <snapshot>", 2)
    base, snap = rest[0].split("@", 1)
    datasets = state["datasets"]
    if base not in datasets or snap not in datasets[base]["snapshots"]:
        raise ToolError(f"cannot open '{rest[0]}': dataset does not exist")
    snaps = datasets[base]["snapshots"]
    later = snaps[snaps.index(snap) + 1 :]
    if later and "r" not in flags and "R" not in flags:
        raise ToolError(
            f"cannot rollback to '{rest[0]}': more recent snapshots or bookmarks exist\n"
            "use '-r' to force deletion of the following snapshots and bookmarks:\n"
            + "\n".join(f"{base}@{s}" for s in later)
        )
    del snaps[snaps.index(snap) + 1 :]
    return 0


def handle(ctx: Context, command: str, args: list[str]) -> int:
    """The state is locked only around reading or applying, never while a pipe is waited on:
    in ``zfs send | zfs recv`` on one host, both ends would wait for each other."""
    if command == "send":
        with ctx.locked() as state:
            stream = send(ctx, state, args)
        if stream is not None:
            sys.stdout.write(MAGIC + "\n" + json.dumps(stream) + "\n")
        return 0
    if command in ("recv", "receive"):
        header = sys.stdin.readline().rstrip("\n")
        if header != MAGIC:
            raise ToolError("cannot receive: invalid stream (bad magic number)")
        stream = json.loads(sys.stdin.readline())
        with ctx.locked() as state:
            return recv(ctx, state, args, stream)
    with ctx.locked() as state:
        return rollback(ctx, state, args)


# --------------------------------------------------------------------------- pools moving


def exported(state: dict[str, Any], name: str) -> dict[str, Any]:
    """The ``importable`` entry for pool ``name`` leaving the host: its datasets go with it."""
    return {
        "name": name,
        "id": state["pools"][name]["guid"],
        "devices": state["pools"][name]["vdevs"][0]["devices"],
        "pool": state["pools"][name],
        "datasets": {d[len(name) :]: state["datasets"][d] for d in _descendants(state["datasets"], name)},
    }


def imported_datasets(item: dict[str, Any], target: str) -> dict[str, Any]:
    """The datasets of an imported pool under its (possibly new) name."""
    kept: dict[str, Any] = item.get("datasets") or {"": {"props": {}, "snapshots": []}}
    return {target + relative: value for relative, value in kept.items()}


INSTALLER_DISKS = ("sda", "sdb", "sdc", "sdd")


def surviving(old: dict[str, Any], fresh: dict[str, Any]) -> None:
    """After a reinstall onto the HDDs: pools on other disks wait in ``zpool import``.

    The installer wipes only its target disks; the NVMe/SSD disks keep their partitions
    and their pools' labels (off2, Feb 2023: the old system ``rpool`` and ``off-zfs``).
    """

    def on_installer_disk(device: str) -> bool:
        return device.removeprefix("/dev/").startswith(INSTALLER_DISKS)

    for disk, info in old.get("disks", {}).items():
        if not disk.startswith(INSTALLER_DISKS):
            fresh["disks"][disk] = info
    waiting = [p for p in old.get("importable", []) if not any(on_installer_disk(d) for d in p["devices"])]
    for name in sorted(old.get("pools", {})):
        devices = [d for v in old["pools"][name]["vdevs"] for d in v["devices"]]
        if not any(on_installer_disk(d) for d in devices):
            waiting.append(exported(old, name))
    fresh["importable"] = waiting
