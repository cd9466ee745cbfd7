"""open_client: the inventory's endpoint for a host, or a clear error."""

from __future__ import annotations

import pytest

from migrator.errors import PlanError
from migrator.executors.proxmox import open_client
from migrator.plan.inventory import Environment, Inventory, ProxmoxEndpoint
from migrator.secrets import Redactor


def inventory(endpoint: ProxmoxEndpoint) -> Inventory:
    return Inventory(name="lab", environment=Environment.LAB, proxmox={"off2": endpoint})


def test_open_client_picks_the_hosts_endpoint(endpoint: ProxmoxEndpoint) -> None:
    with open_client(inventory(endpoint), "off2", Redactor()) as px:
        assert (px.name, px.node) == ("off2", "pve1")
        assert [n["node"] for n in px.nodes()] == ["pve1"]


def test_open_client_accepts_a_container_target(endpoint: ProxmoxEndpoint) -> None:
    with open_client(inventory(endpoint), "off2/ct:101", Redactor()) as px:
        assert px.name == "off2"


def test_a_host_without_endpoint_is_a_plan_error(endpoint: ProxmoxEndpoint) -> None:
    with pytest.raises(PlanError) as caught:
        open_client(inventory(endpoint), "off1", Redactor())
    assert "inventory lab has no Proxmox endpoint for host off1" in str(caught.value)
    assert "endpoints known: off2" in (caught.value.hint or "")
