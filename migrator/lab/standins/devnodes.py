"""A lab host's /dev: the machine's character devices, plus its own disks as placeholder files.

Plans glob and test block devices (``for d in /dev/sd? /dev/nvme?n1``, ``test -e /dev/sda4``),
so a lab host needs /dev entries named like its disks and partitions, appearing and vanishing
as parted/the installer change them. The host's /dev is a directory on the machine
(``DIR/hosts/NAME/dev``, rbind-mounted over /dev in the host's mount namespace) holding:

- bind mounts of the machine's harmless character devices (null, zero, urandom, tty, pts...),
  made by the boot script inside the namespace, so nothing outside sees them;
- one empty regular file per visible disk and partition of the host's stand-in state. Regular
  files, never real device nodes: a stray real tool opening ``/dev/sda`` in the lab must not
  reach the machine's own disk. The stand-ins (smartctl, lsblk, parted, zpool) read the state,
  not these files; the files only make the names exist.

The files are kept in step with the state: by the lab at boot and after staging, and by the
stand-in dispatcher around each tool call on the host (parted mkpart makes ``sda4`` appear).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from migrator.lab.standins.devices import visible_disks

MARKER = ".migrator-lab-dev"  # present in a lab host's /dev only (never in the machine's)
CHAR_DEVICES = ("null", "zero", "full", "random", "urandom", "tty", "ptmx")
DIRECTORIES = ("pts", "shm")
LINKS = {"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1",
         "stderr": "/proc/self/fd/2"}  # fmt: skip
_DISK_NAME = re.compile(r"^(sd[a-z]+\d*|nvme\d+n\d+(p\d+)?)$")


def partition_name(disk: str, number: int | str) -> str:
    """``sda`` 4 -> ``sda4``; ``nvme2n1`` 1 -> ``nvme2n1p1`` (the kernel's naming)."""
    return f"{disk}p{number}" if disk[-1].isdigit() else f"{disk}{number}"


def node_names(state: dict[str, Any], faults: set[str]) -> set[str]:
    """The disk and partition names the host shows in /dev."""
    names: set[str] = set()
    for disk, info in visible_disks(state, faults).items():
        names.add(disk)
        names.update(partition_name(disk, part["num"]) for part in info.get("parts", []))
    return names


def sync(dev: Path, state: dict[str, Any], faults: set[str]) -> None:
    """Make ``dev``'s disk placeholders exactly the host's visible disks and partitions."""
    dev.mkdir(parents=True, exist_ok=True)
    wanted = node_names(state, faults)
    for entry in dev.iterdir():
        if _DISK_NAME.match(entry.name) and entry.name not in wanted and entry.is_file():
            entry.unlink()
    for name in wanted:
        (dev / name).touch(exist_ok=True)


def prepare(dev: Path) -> None:
    """The mount points and links the boot script fills (idempotent, outside the namespace)."""
    dev.mkdir(parents=True, exist_ok=True)
    (dev / MARKER).touch(exist_ok=True)
    for name in CHAR_DEVICES:
        (dev / name).touch(exist_ok=True)
    for name in DIRECTORIES:
        (dev / name).mkdir(exist_ok=True)
    for name, target in LINKS.items():
        link = dev / name
        if not link.is_symlink():
            link.symlink_to(target)


def boot_lines(dev: Path) -> list[str]:
    """Shell lines for the host's boot script (inside its private mount namespace)."""
    # A machine without one of them (no /dev/shm in a minimal container) just lacks it here too.
    lines = [f"if [ -e /dev/{name} ]; then mount --bind /dev/{name} {dev}/{name}; fi"
             for name in (*CHAR_DEVICES, *DIRECTORIES)]  # fmt: skip
    lines.append(f"mount --rbind {dev} /dev")
    return lines


def sync_here(state: dict[str, Any], faults: set[str], in_container: bool) -> None:
    """From a stand-in on a lab host: refresh its /dev (a container shares its host's)."""
    dev = Path("/dev")
    if in_container or not (dev / MARKER).exists():
        return
    sync(dev, state, faults)


def sync_host(lab_dir: Path, name: str) -> None:
    """From outside the lab host (a fault set or cleared, a stage): its /dev as its state says."""
    from migrator.lab import state as host_state

    state_dir = lab_dir / "hosts" / name / "root" / "var/lib/migrator-lab"
    if not host_state.state_file(state_dir).exists():
        return  # not up yet: the boot script syncs it
    sync(lab_dir / "hosts" / name / "dev", host_state.load(state_dir), host_state.faults_of(lab_dir, name))
