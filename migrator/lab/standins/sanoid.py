"""Fake ``sanoid`` and ``syncoid`` (fakes: the lab has no ZFS), on the lab's JSON pool state.

``sanoid --take-snapshots`` (``--cron``) adds an ``autosnap_..._hourly`` snapshot to each
dataset of ``/etc/sanoid/sanoid.conf`` (and its descendants with ``recursive=yes``);
``--monitor-snapshots`` prints Nagios-style OK.

``syncoid [options] [USER@HOST:]SOURCE TARGET`` pulls as the real one does, with what can go
wrong there: a remote source is reached with the real ``ssh`` as ``USER`` (BatchMode, this
host's root keys and known_hosts), so a missing ``authorized_keys`` line or an unpinned or
changed host key fails the pull as in production. The source's datasets then come from that
host's lab state (the lab hosts share a machine): ``USER`` needs ``zfs allow`` ``send`` there
(``--no-privilege-elevation``), and with ``--no-sync-snap`` each dataset needs a snapshot
already (sanoid's). The target receives the source's snapshots, ``--recursive`` the children.
Only lab (loopback) hosts are ever contacted.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from migrator.lab import state as host_state
from migrator.lab.layout import HOSTS, STATE_DIR
from migrator.lab.standins.context import Context, ToolError, out

CONF = Path("/etc/sanoid/sanoid.conf")
SSH_TIMEOUT = 30


def _sections() -> list[tuple[str, bool]]:
    """(dataset, recursive) of each non-template section of sanoid.conf."""
    if not CONF.exists():
        return []
    sections: list[tuple[str, bool]] = []
    current = ""
    for raw in CONF.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1]
            if not current.startswith("template_"):
                sections.append((current, False))
        elif sections and not current.startswith("template_") and line.replace(" ", "") == "recursive=yes":
            sections[-1] = (sections[-1][0], True)
    return sections


def _subtree(datasets: dict[str, Any], name: str, recursive: bool) -> list[str]:
    if name not in datasets:
        return []
    if not recursive:
        return [name]
    return sorted(d for d in datasets if d == name or d.startswith(name + "/"))


def sanoid(ctx: Context) -> int:
    if "--monitor-snapshots" in ctx.args or "--monitor-health" in ctx.args:
        out("OK: all monitored datasets are up to date")
        return 0
    if "--cron" in ctx.args or "--take-snapshots" in ctx.args:
        snap = f"autosnap_{time.strftime('%Y-%m-%d_%H:%M:%S')}_hourly"
        with ctx.locked() as state:
            datasets = state["datasets"]
            targets = {d for name, rec in _sections() for d in _subtree(datasets, name, rec)}
            for name in sorted(targets):
                if snap not in datasets[name]["snapshots"]:
                    datasets[name]["snapshots"].append(snap)
                    if "--verbose" in ctx.args:
                        out(f"taking snapshot {name}@{snap}")
    return 0


# --------------------------------------------------------------------------- syncoid


def _lab_host_at(address: str) -> str:
    """The lab host with this address; anything else is not contacted (the lab is loopback only)."""
    for lab_host in HOSTS:
        if address in (lab_host.address, lab_host.vars.get("fqdn")):
            return lab_host.name
    raise ToolError(f"ssh: connect to host {address} port 22: Network is unreachable", 2)


def _remote_state(ctx: Context, user: str, address: str, ssh_options: list[str]) -> dict[str, Any]:
    """Log in as syncoid would (real ssh, BatchMode); then the source host's lab state."""
    name = _lab_host_at(address)
    login = subprocess.run(
        ["ssh", "-o", "BatchMode=yes", *ssh_options, f"{user}@{address}", "exit"],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=SSH_TIMEOUT, check=False,
    )  # fmt: skip
    if login.returncode != 0:
        raise ToolError(
            f"{login.stderr.strip()}\nCRITICAL ERROR: ssh connection to {user}@{address} failed", 2
        )
    return host_state.load(ctx.lab_dir / "hosts" / name / "root" / STATE_DIR.lstrip("/"))


def _may_send(state: dict[str, Any], user: str, dataset: str) -> bool:
    if user == "root":
        return True
    parts = dataset.split("/")
    for depth in range(1, len(parts) + 1):
        perms = state.get("allow", {}).get("/".join(parts[:depth]), {}).get(user, "")
        if "send" in perms.split(","):
            return True
    return False


def syncoid(ctx: Context) -> int:
    options = [a for a in ctx.args if a.startswith("-")]
    words = [a for a in ctx.args if not a.startswith("-")]
    if len(words) < 2:
        raise ToolError("usage: syncoid [options] SOURCE TARGET", 2)
    source, target = words[-2], words[-1]
    ssh_options = [a.split("=", 1)[1] for a in options if a.startswith("--sshoption=")]
    ssh_options = [w for o in ssh_options for w in ("-o", o)]
    if ":" in source:
        login, source = source.split(":", 1)
        user, _, address = login.rpartition("@")
        user = user or "root"
        source_state = _remote_state(ctx, user, address, ssh_options)
        if not _may_send(source_state, user, source):
            raise ToolError(f"cannot send '{source}': permission denied\nCRITICAL ERROR: zfs send failed", 2)
    else:
        source_state = ctx.load()
    recursive = "--recursive" in options or "-r" in options
    sources = _subtree(source_state["datasets"], source, recursive)
    if not sources:
        raise ToolError(f"CRITICAL ERROR: source dataset {source} does not exist", 2)
    sync_snap = f"syncoid_{ctx.name}_{time.strftime('%Y-%m-%d:%H:%M:%S')}"
    refused = 0
    with ctx.locked() as state:
        datasets = state["datasets"]
        parent = target.rsplit("/", 1)[0]
        if "/" in target and parent not in datasets:
            raise ToolError(f"CRITICAL ERROR: Target {target} parent does not exist", 2)
        for name in sources:
            snaps = list(source_state["datasets"][name]["snapshots"])
            if "--no-sync-snap" not in options:
                snaps.append(sync_snap)
            elif not snaps:
                why = f"no snapshots exist on source {name}, and you asked for --no-sync-snap."
                raise ToolError(f"CRITICAL ERROR: {why}", 2)
            copy = target + name[len(source) :]
            if copy in datasets and not set(datasets[copy]["snapshots"]) & set(snaps):
                # syncoid 2.1.0 never destroys a target it cannot continue; it goes on with the
                # other datasets and exits 2 at the end.
                sys.stderr.write(
                    f"CRITICAL ERROR: Target {copy} exists but has no snapshots matching with {name}!\n"
                    "                Replication to target would require destroying existing\n"
                    "                target. Cowardly refusing to destroy your existing target.\n"
                )
                refused = 2
                continue
            entry = datasets.setdefault(copy, {"props": {}, "snapshots": []})
            first = not entry["snapshots"]
            entry["snapshots"] += [s for s in snaps if s not in entry["snapshots"]]
            kind = "Sending oldest full snapshot" if first else "Sending incremental"
            out(f"INFO: {kind} {name}@{snaps[-1]} to new target filesystem {copy}:")
    return refused
