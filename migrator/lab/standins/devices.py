"""Block devices of a lab host (fake): names, sizes, and which ones the faults hide."""

from __future__ import annotations

import re
from typing import Any

from migrator.lab.standins.context import ToolError

_PART = re.compile(r"^(?P<disk>sd[a-z]+|nvme\d+n\d+)(?:p?(?P<num>\d+))?$")
SECTOR = 512


def short(device: str) -> str:
    """``/dev/sda4`` -> ``sda4``."""
    return device.removeprefix("/dev/")


def visible_disks(state: dict[str, Any], faults: set[str]) -> dict[str, Any]:
    disks: dict[str, Any] = state.get("disks", {})
    if "missing-nvme" in faults:
        return {name: disk for name, disk in disks.items() if not name.startswith("nvme")}
    return disks


def resolve(state: dict[str, Any], faults: set[str], device: str) -> int:
    """The size in bytes of ``device`` (a disk or a partition); ToolError if there is none."""
    match = _PART.match(short(device))
    disk = visible_disks(state, faults).get(match["disk"]) if match else None
    if match is None or disk is None:
        raise ToolError(f"cannot resolve path '{device}'")
    if match["num"] is None:
        return int(disk["size"])
    for part in disk["parts"]:
        if str(part["num"]) == match["num"]:
            return (int(part["end"]) - int(part["start"]) + 1) * SECTOR
    raise ToolError(f"cannot resolve path '{device}'")


def missing(device: str, faults: set[str]) -> bool:
    return "missing-nvme" in faults and short(device).startswith("nvme")
