"""The shared words: one-line check descriptions for every kind, and one-line actions."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import TypeAdapter

from migrator.plan.checks import CHECK_KINDS, Check
from migrator.plan.model import Step
from migrator.render.words import action_line, describe_check, fallback_description

CHECKS: dict[str, dict[str, Any]] = {
    "command": {"command": ["systemctl", "is-active", "mongod"], "stdout_contains": "active"},
    "tcp_open": {"address": "127.0.0.1", "port": 27017},
    "tcp_closed": {"address": "127.0.0.1", "port": 6379},
    "listening_only_on": {"allowed": ["127.0.0.1", "10.0.0.0/8"], "ports": [27017]},
    "systemd_active": {"unit": "stunnel4@mongo.service"},
    "zpool_healthy": {"pool": "rpool", "min_size": "60G"},
    "zpool_unique": {"pool": "rpool"},
    "zfs_dataset": {"dataset": "zfs-hdd/off", "properties": {"compression": "on"}},
    "pve_quorate": {"nodes": 2},
    "pve_storage_active": {"storages": ["local", "zfs-hdd"]},
    "file": {"path": "/etc/stunnel/psk.txt", "mode": "0600", "owner": "stunnel4"},
    "http_status": {"url": "https://127.0.0.1/", "status": 200, "host_header": "world.openfoodfacts.org"},
    "pve_api": {"path": "/cluster/status", "expect": {"quorate": "1"}},
}
EXPECTED = {
    "command": "`systemctl is-active mongod` exits 0, output contains 'active'",
    "tcp_open": "TCP 127.0.0.1:27017 is open",
    "tcp_closed": "TCP 127.0.0.1:6379 is closed",
    "listening_only_on": "listening sockets on ports 27017 only on 127.0.0.1, 10.0.0.0/8",
    "systemd_active": "systemd unit stunnel4@mongo.service is active",
    "zpool_healthy": "pool rpool is ONLINE without errors, at least 60G",
    "zpool_unique": "only one pool named rpool (no stale one in zpool import)",
    "zfs_dataset": "dataset zfs-hdd/off exists with compression=on",
    "pve_quorate": "cluster is quorate with 2 nodes",
    "pve_storage_active": "storages active: local, zfs-hdd",
    "file": "/etc/stunnel/psk.txt exists (mode 0600, owner stunnel4)",
    "http_status": "https://127.0.0.1/ (Host: world.openfoodfacts.org) answers HTTP 200",
    "pve_api": "Proxmox API GET /cluster/status answers with quorate=1",
}
ADAPTER: TypeAdapter[Check] = TypeAdapter(Check)


def make(kind: str, **extra: Any) -> Check:
    return ADAPTER.validate_python({"kind": kind, **CHECKS[kind], **extra})


def test_every_check_kind_is_covered() -> None:
    assert set(CHECKS) == set(CHECK_KINDS) == set(EXPECTED)


@pytest.mark.parametrize("kind", CHECK_KINDS)
def test_fallback_description_of_each_kind(kind: str) -> None:
    assert fallback_description(make(kind)) == EXPECTED[kind]


@pytest.mark.parametrize("kind", CHECK_KINDS)
def test_the_plan_description_comes_first(kind: str) -> None:
    assert describe_check(make(kind, description="the tunnel is up")) == "the tunnel is up"


def test_actions_on_one_line() -> None:
    folded = Step.model_validate({"id": "a", "title": "A", "kind": "ssh", "host": "off1", "sudo": True,
                                  "command": "zpool create\n  zfs-hdd raidz1\n"})
    assert action_line(folded) == "sudo zpool create zfs-hdd raidz1"
    argv = Step.model_validate({"id": "b", "title": "B", "kind": "local", "command": ["echo", "a b"]})
    assert action_line(argv) == "echo 'a b'"
    api = {"method": "POST", "path": "/nodes/off2/lxc", "params": {"vmid": 101}}
    call = Step.model_validate({"id": "c", "title": "C", "kind": "proxmox", "host": "off2", "call": api})
    assert action_line(call) == "POST /nodes/off2/lxc"
    manual = Step.model_validate({"id": "d", "title": "D", "kind": "manual", "checklist": ["one"]})
    assert action_line(manual) == "1 item"
    wait = Step.model_validate({"id": "e", "title": "E", "kind": "wait",
                                "until": {"kind": "tcp_open", "address": "127.0.0.1", "port": 22}})
    assert action_line(wait) == "until TCP 127.0.0.1:22 is open"
