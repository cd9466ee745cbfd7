"""Production state already there when the off1 plan starts, brought about by ``migrator lab up``.

off2 moved first (plans/off2.yaml): it grants ``off1operator`` and ``ovh3operator`` ``hold,send``
on its pools (off-facts 4, pull model), off1's root key of the time is in off1operator's
``authorized_keys``, its sanoid snapshots the flavors' datasets, and ovh3 keeps off2's backups
under ``rpool/off-backups``. The users are made with the real ``adduser`` through off2's sshd,
the datasets and snapshots in the stand-ins' state (done once: a later ``up`` keeps them).

off1's move happens after off2's: off2 already runs Proxmox and its CT 113 serves off with
apache2 (off-facts 3). ``verify-off`` asks that apache2 there, so the lab gives CT 113 an
apache2 configuration (its own /etc/apache2, listening on the CT's address) and starts the
unit the way an operator would, through the host's sshd: ``pct exec 113 -- systemctl start
apache2``, which runs Debian's real apache2 on that config (``standins/apache.py``).
"""

from __future__ import annotations

import shlex
import subprocess
from typing import TYPE_CHECKING

from migrator.errors import LabError
from migrator.lab import state as host_state
from migrator.lab.layout import SSH_PORT, host
from migrator.lab.standins import apache, nginx

if TYPE_CHECKING:
    from migrator.lab.control import Lab

OFF_CT = ("off2", 113)
FLAVORS = ("off", "off-pro", "obf", "opf", "opff")
OFF2_SNAPSHOT = "autosnap_2024-01-15_00:00:01_daily"  # what off2's sanoid took before off1's window
OPERATORS = ("off1operator", "ovh3operator")
OFF_SITE = "world.openfoodfacts.org"
OFF_PORT = 80  # plans/off1.yaml verify-off: http_status on http://CT113/
WEB_PORT = 80  # off1's nginx, until plans/off1.yaml stop-services stops it
SSH_TIMEOUT = 30


def _ssh(lab: Lab, name: str, command: str) -> subprocess.CompletedProcess[str]:
    known = lab.paths.known_hosts
    return subprocess.run(
        ["ssh", "-F", "/dev/null", "-i", str(lab.paths.client_key), "-p", str(SSH_PORT),
         "-o", f"UserKnownHostsFile={known}", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
         f"root@{host(name).address}", command],
        capture_output=True, text=True, timeout=SSH_TIMEOUT, check=False,
    )  # fmt: skip


def seed_apache(lab: Lab, name: str, ctid: int, address: str) -> None:
    """The CT's /etc/apache2 (``standins/apache.py``): ``Listen ADDRESS:80`` and off's virtual
    host (written once; with the host's fault apache-config-broken if it is set)."""
    root = lab.paths.state_dir(name) / "ct" / str(ctid) / "root"
    apache.write_config(root, address, OFF_PORT, OFF_SITE, host_state.faults_of(lab.paths.dir, name))


def ensure_off_running(lab: Lab) -> str | None:
    """apache2 active in off2's CT 113 (when off2 runs Proxmox with that CT); a line for ``up``."""
    name, ctid = OFF_CT
    state_dir = lab.paths.state_dir(name)
    if host_state.load(state_dir).get("profile") != "pve" or not (state_dir / "ct" / str(ctid)).is_dir():
        return None  # off2 staged before its own move: no CT 113 yet
    address = f"{host(name).vars['ct_prefix']}.{ctid}"
    seed_apache(lab, name, ctid, address)
    if _ssh(lab, name, f"pct exec {ctid} -- systemctl is-active apache2").returncode == 0:
        return f"off   {name}/ct:{ctid} apache2 already running"
    result = _ssh(lab, name, f"pct exec {ctid} -- systemctl start apache2")
    if result.returncode != 0:
        if apache.FAULT in host_state.faults_of(lab.paths.dir, name):  # what the fault is for
            return f"off   {name}/ct:{ctid} apache2 failed to start (fault {apache.FAULT})"
        raise LabError(
            f"apache2 did not start in {name} CT {ctid}: {(result.stderr or result.stdout).strip()}",
            where=f"{name}/ct:{ctid}",
            hint=f"see its log: ssh to {name}, then pct exec {ctid} -- journalctl -u apache2",
        )
    return f"off   {name}/ct:{ctid} apache2 on {address}:{OFF_PORT}"


def ensure_off1_web(lab: Lab) -> str | None:
    """nginx active on off1 while it is the old Debian (before its move); a line for ``up``.
    Started through off1's sshd, as an operator would; once stopped (the plan's stop-services,
    ``systemctl stop nginx``) it is left stopped: ``up`` is no reboot. After ``down`` (its
    process gone: "failed") it is started again."""
    name = "off1"
    state = host_state.load(lab.paths.state_dir(name))
    if state.get("profile") == "pve":
        return None  # off1 moved: Proxmox, no web server on the host
    nginx.write_config(lab.paths.root(name), host(name).address, WEB_PORT, OFF_SITE)
    if _ssh(lab, name, "systemctl is-active nginx").returncode == 0:
        return f"web   {name} nginx already running"
    if state.get("units", {}).get("nginx", {}).get("state") == "inactive":
        return f"web   {name} nginx stopped (systemctl stop nginx), left so"
    result = _ssh(lab, name, "systemctl start nginx")
    if result.returncode != 0:
        raise LabError(
            f"nginx did not start on {name}: {(result.stderr or result.stdout).strip()}",
            where=name,
            hint=f"see its log: ssh to {name}, then journalctl -u nginx",
        )
    return f"web   {name} nginx on {host(name).address}:{WEB_PORT}"


def ensure_off2_moved(lab: Lab) -> str | None:
    """off2 as its own move left it (once; only while off2 runs Proxmox)."""
    off2_state = lab.paths.state_dir("off2")
    if host_state.load(off2_state).get("profile") != "pve":
        return None
    if "off1operator" in host_state.load(off2_state).get("allow", {}).get("zfs-hdd", {}):
        return None
    off1_key = (lab.paths.root("off1") / "root/.ssh/id_rsa.pub").read_text(encoding="utf-8").strip()
    script = "set -e\n" + "".join(
        f"id {user} >/dev/null 2>&1 || adduser --disabled-password --gecos '' {user} >/dev/null\n"
        f'echo "{user}:$(openssl rand -base64 24)" | chpasswd\n'
        f"mkdir -p /home/{user}/.ssh && chmod go-rwx /home/{user}/.ssh\n"
        f"for p in zfs-hdd zfs-nvme rpool; do zfs allow {user} hold,send $p; done\n"
        for user in OPERATORS
    )
    script += f"echo {shlex.quote(off1_key)} >> /home/off1operator/.ssh/authorized_keys\n"
    # plans/off2.yaml infra-repo cloned it (off1's plan links off2's syncoid units from there)
    repo = "/opt/openfoodfacts-infrastructure"
    script += f"test -d {repo}/.git || git clone -q {shlex.quote(str(lab.paths.infra_repo))} {repo}\n"
    script += "".join(f"chown -R {user}: /home/{user}/.ssh\n" for user in OPERATORS)
    result = _ssh(lab, "off2", script)
    if result.returncode != 0:
        raise LabError(f"off2's operators could not be made: {(result.stderr or result.stdout).strip()}")
    with host_state.locked(off2_state) as state:
        # What off1 pulls (confs/off1/sanoid/syncoid-args.conf): the flavors, off's and off-pro's
        # products on the NVMe pool, off2's system and its PVE volumes.
        pulled = [*(f"zfs-hdd/{f}" for f in FLAVORS), "zfs-nvme/off", "zfs-nvme/off-pro", "rpool",
                  "zfs-hdd/pve", "zfs-nvme/pve"]  # fmt: skip
        for name in pulled:
            state["datasets"].setdefault(name, {"props": {}, "snapshots": []})
        # sanoid snapshots them recursively (recursive=yes): children too, as `--recursive` pulls them
        for name, dataset in state["datasets"].items():
            pulled_here = any(name == p or name.startswith(p + "/") for p in pulled) and "@" not in name
            if pulled_here and OFF2_SNAPSHOT not in dataset.setdefault("snapshots", []):
                dataset["snapshots"].append(OFF2_SNAPSHOT)
    with host_state.locked(lab.paths.state_dir("ovh3")) as state:
        state["datasets"].setdefault("rpool/off-backups", {"props": {}, "snapshots": []})
    return "off2  moved: off1operator, ovh3operator (hold,send), flavors snapshotted; ovh3 rpool/off-backups"
