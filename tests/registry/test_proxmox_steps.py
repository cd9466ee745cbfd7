"""proxmox steps against fakepve (real HTTPS on 127.0.0.1): tasks, outputs, failures, one client."""

from __future__ import annotations

from typing import Any

from migrator.plan.checks import PveApiCheck
from migrator.plan.inventory import Inventory
from tests.registry.conftest import PVE_SECRET, ExecutorsFactory, Lines, context, step

TEMPLATE = "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"


def create_ct(vmid: int = 101) -> dict[str, Any]:
    params = {"vmid": vmid, "ostemplate": TEMPLATE, "hostname": f"ct{vmid}", "storage": "local-lvm"}
    return {"method": "POST", "path": "/nodes/pve1/lxc", "params": params}


def test_a_task_is_waited_for_and_its_upid_kept_as_an_output(
    make_executors: ExecutorsFactory, pve_inventory: Inventory, pve: Any
) -> None:
    lines = Lines()
    s = step(kind="proxmox", host="pve", call=create_ct(), outputs={"upid": {"regex": r"(UPID:[^\"\s]+)"}})
    executors = make_executors(pve_inventory)
    outcome = executors.execute(s, context(lines))
    assert outcome.ok, outcome.summary
    assert ":vzcreate:101:" in outcome.values["upid"]
    assert "ended OK" in outcome.summary
    assert ("stdout", "TASK OK") in lines.seen
    created = PveApiCheck(kind="pve_api", path="/nodes/pve1/lxc/101/config", expect={"hostname": "ct101"})
    assert executors.check(created, s, context()).passed


def test_a_read_returns_its_data_for_outputs(
    make_executors: ExecutorsFactory, pve_inventory: Inventory, pve: Any
) -> None:
    pve.add_ct(101, "ct101")
    s = step(
        kind="proxmox",
        host="pve",
        call={"method": "GET", "path": "/nodes/pve1/lxc/{{ outputs.find.ct }}/config"},
        outputs={"hostname": {"regex": r'"hostname": "([^"]+)"'}},
    )
    outcome = make_executors(pve_inventory).execute(s, context(outputs={"find": {"ct": "101"}}))
    assert outcome.ok, outcome.summary
    assert outcome.values == {"hostname": "ct101"}


def test_a_failed_task_fails_the_step_with_its_reason(
    make_executors: ExecutorsFactory, pve_inventory: Inventory, pve: Any
) -> None:
    pve.add_ct(101, "ct101")
    pve.fail("POST", "/nodes/pve1/lxc/101/status/start", error="quotas_not_supported_unprivileged_containers")
    s = step(kind="proxmox", host="pve", call={"method": "POST", "path": "/nodes/pve1/lxc/101/status/start"})
    outcome = make_executors(pve_inventory).execute(s, context())
    assert not outcome.ok
    assert "Quotas" in outcome.summary
    assert PVE_SECRET not in outcome.summary + outcome.stdout


def test_one_client_per_endpoint_for_the_whole_run(
    make_executors: ExecutorsFactory, pve_inventory: Inventory, pve: Any
) -> None:
    executors = make_executors(pve_inventory)
    read = step(kind="proxmox", host="pve", call={"method": "GET", "path": "/nodes"})
    in_ct = step(kind="proxmox", host="pve/ct:101", call={"method": "GET", "path": "/version"})
    assert executors.execute(read, context()).ok
    assert executors.execute(in_ct, context()).ok
    assert len(executors._clients) == 1
