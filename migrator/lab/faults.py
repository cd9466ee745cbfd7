"""Fault knobs: make one lab host misbehave the way production once did.

Faults are stored per host in ``DIR/hosts/NAME/faults.json`` (the stand-ins read them on
every call); some need processes or keys changed right away: ``host-key-changed`` (a new
sshd host key), ``stunnel-port-busy`` (a squatter bound on the stunnel accept ports) and
``redis-protected-mode`` (the real redis-server behind the OffRedis tunnel restarted).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from migrator.errors import LabError
from migrator.lab import sshd as sshd_mod
from migrator.lab.control import Lab
from migrator.lab.layout import HOSTS, host, read_json, write_json
from migrator.lab.marker import marked_env
from migrator.lab.standins import apache, backends, devnodes, postgresql

FAULTS: dict[str, str] = {
    "degraded-pool": "a disk of each redundant pool is FAULTED (zpool status DEGRADED)",
    "pool-full": "every pool is 93% full (zpool list capacity): off1's 90% alert must fire",
    "stale-rpool": "an old pool named rpool waits in `zpool import` (first boot after a reinstall)",
    "missing-nvme": "the NVMe disks are gone (bifurcation, dead card): UNAVAIL in pools, not in lsblk",
    "zfs-labels": "reused devices carry old ZFS labels: zpool create fails until `zpool labelclear -f`",
    "stunnel-port-busy": "something already listens on the stunnel accept ports",
    "route-missing": "the private route (vmbr1, 10.0.0.0/8) is missing from `ip route`",
    "host-key-changed": "the host presents a different SSH host key than the one pinned",
    "cluster-no-quorum": "the cluster lost quorum (pvecm status: Quorate: No; API writes refused)",
    "checksum-errors": "each pool's first redundant vdev returned bad data no replica could repair: CKSUM "
    "counts on that vdev's and the pool's rows (not the disks'), `errors: 3 data errors`",
    "pg-hba-reject": "PostgreSQL's pg_hba.conf (the image's, and any installed) refuses every non-loopback "
    "host before the lines a plan appends",
    "apache-config-broken": "apache2.conf in the host's CTs (off's CT 113) uses mod_rewrite without loading "
    "it: the real apache2 refuses it (configtest fails); the running one goes on, its next (re)start fails",
    backends.REDIS_FAULT: "off-redis (the real redis-server behind the OffRedis tunnel) runs with "
    "protected-mode yes and no password, Redis's default: it answers the stunnel server (another CT) -DENIED",
}

SQUATTER = (
    "import socket,sys,time\n"
    "socks=[]\n"
    "for spec in sys.argv[2:]:\n"
    "    a,p=spec.rsplit(':',1); s=socket.socket(); s.bind((a,int(p))); s.listen(); socks.append(s)\n"
    "print('bound',flush=True)\n"
    "while True: time.sleep(3600)\n"
)
_ACCEPT = re.compile(r"^\s*accept\s*=\s*(\S+)\s*$", re.M)


def _check(name: str, fault: str | None) -> None:
    if name not in {h.name for h in HOSTS}:
        raise LabError(f"no lab host '{name}'", hint=f"lab hosts: {', '.join(h.name for h in HOSTS)}")
    if fault is not None and fault not in FAULTS:
        raise LabError(
            f"unknown fault '{fault}'", hint=f"faults: {', '.join(FAULTS)} (see `migrator lab faults`)"
        )


def active_faults(lab: Lab, name: str) -> list[str]:
    data = read_json(lab.paths.faults(name), [])
    assert isinstance(data, list)
    return [str(item) for item in data]


def accept_addresses(lab: Lab, name: str) -> list[str]:
    """``address:port`` of every stunnel ``accept`` on the host and in its containers (loopback)."""
    root = lab.paths.root(name)
    confs = list((root / "etc/stunnel").glob("*.conf"))
    confs += list(root.glob("var/lib/migrator-lab/ct/*/root/etc/stunnel/*.conf"))
    found = []
    for conf in confs:
        for value in _ACCEPT.findall(conf.read_text(encoding="utf-8", errors="replace")):
            address, _, port = value.rpartition(":")
            # A bare port binds every address; the squatter holds 127.0.0.1 of it, which blocks that too.
            found.append(f"{address if address.startswith('127.') else '127.0.0.1'}:{port}")
    return sorted(set(found))


def set_fault(lab: Lab, name: str, fault: str) -> str:
    _check(name, fault)
    if fault == backends.REDIS_FAULT and name != backends.REDIS_HOST:
        raise LabError(f"{fault} is a fault of {backends.REDIS_HOST}, not {name}",
                       hint=f"off-redis runs in {backends.REDIS_HOST}'s CT 122: migrator lab fault "
                       f"{backends.REDIS_HOST} {fault}")  # fmt: skip
    faults = active_faults(lab, name)
    if fault in faults:
        return f"{fault} already set on {name}"
    if fault == "host-key-changed":
        key = lab.paths.host_dir(name) / "host_ed25519"
        for suffix in ("", ".pub"):
            shutil.copy2(f"{key}{suffix}", f"{key}.before-fault{suffix}")  # keeps the 0600 mode
        sshd_mod.keygen(key)
        lab.stop_sshd(name)
        lab.start_sshd(host(name))
    elif fault == "stunnel-port-busy":
        _squat(lab, name)
    elif fault == postgresql.FAULT:
        _rewrite_hba(lab, name, postgresql.with_fault)
    elif fault == apache.FAULT:
        _rewrite_apache(lab, name, apache.with_fault)
    write_json(lab.paths.faults(name), [*faults, fault])
    if fault == backends.REDIS_FAULT:  # restarted on the fault just written
        _restart_redis(lab, name)
    devnodes.sync_host(lab.paths.dir, name)  # missing-nvme: its /dev/nvme* go too
    return f"{fault} set on {name}: {FAULTS[fault]}"


def _squat(lab: Lab, name: str) -> None:
    addresses = accept_addresses(lab, name)
    if not addresses:  # nothing deployed yet: the accepts the lab's tunnel inventory plans there
        from migrator.lab.standins.backends import tunnel_accepts

        addresses = tunnel_accepts(Path(host(name).vars.get("tunnels", host("off2").vars["tunnels"])), name)
    if not addresses:
        raise LabError(
            f"no stunnel accept address on {name}",
            hint="write /etc/stunnel/off.conf on the host or one of its containers first",
        )
    argv = [sys.executable, "-c", SQUATTER, str(lab.paths.dir), *addresses]
    log = lab.paths.host_dir(name) / "squatter.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True,
            env=marked_env(lab.paths.dir),
        )
    deadline = time.monotonic() + 5
    while b"bound" not in log.read_bytes() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    if proc.poll() is not None:
        raise LabError(f"could not bind {', '.join(addresses)}: {log.read_text(errors='replace')[-300:]}")
    lab.record_extra(f"squatter:{name}", proc.pid, argv)


def _rewrite_hba(lab: Lab, name: str, change: Callable[[str], str]) -> None:
    """Every pg_hba.conf already installed on the host and in its CTs (new installs: postinst).
    A running server goes on with the rules it read; its next restart or reload reads these."""
    root = lab.paths.root(name)
    for hba in [*root.glob("etc/postgresql/*/main/pg_hba.conf"),
                *root.glob("var/lib/migrator-lab/ct/*/root/etc/postgresql/*/main/pg_hba.conf")]:  # fmt: skip
        hba.write_text(change(hba.read_text(encoding="utf-8")), encoding="utf-8")


def _rewrite_apache(lab: Lab, name: str, change: Callable[[str], str]) -> None:
    """The apache2.conf the lab wrote on the host and in its CTs (a later one: services.seed_apache).
    A running apache2 goes on with the config it read; its next start or reload reads this one."""
    root = lab.paths.root(name)
    for conf in [*root.glob("etc/apache2/apache2.conf"),
                 *root.glob("var/lib/migrator-lab/ct/*/root/etc/apache2/apache2.conf")]:  # fmt: skip
        text = conf.read_text(encoding="utf-8")
        if text.startswith(apache.HEADER):
            conf.write_text(change(text), encoding="utf-8")


def clear_fault(lab: Lab, name: str, fault: str | None = None) -> list[str]:
    _check(name, fault)
    faults = active_faults(lab, name)
    cleared = [f for f in faults if fault is None or f == fault]
    for item in cleared:
        if item == "host-key-changed":
            key = lab.paths.host_dir(name) / "host_ed25519"
            for suffix in ("", ".pub"):
                Path(f"{key}.before-fault{suffix}").replace(f"{key}{suffix}")
            lab.stop_sshd(name)
            lab.start_sshd(host(name))
        elif item == "stunnel-port-busy":
            lab.stop_extra(f"squatter:{name}")
        elif item == postgresql.FAULT:
            _rewrite_hba(lab, name, postgresql.without_fault)
        elif item == apache.FAULT:
            _rewrite_apache(lab, name, apache.without_fault)
    write_json(lab.paths.faults(name), [f for f in faults if f not in cleared])
    if backends.REDIS_FAULT in cleared:
        _restart_redis(lab, name)
    devnodes.sync_host(lab.paths.dir, name)
    return cleared


def _restart_redis(lab: Lab, name: str) -> None:
    """The real redis-server behind the OffRedis tunnel, restarted (if it ran) on off2's faults."""
    if name == backends.REDIS_HOST and lab.running(backends.REDIS_KEY) is not None:
        backends.restart_redis(lab, Path(host(name).vars["tunnels"]))
