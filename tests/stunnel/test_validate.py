"""Every invariant with a failing and a passing case; the real inventories validate clean."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from migrator.stunnel.load import load_tunnels
from migrator.stunnel.validate import Problem, validate_tunnels
from tests.stunnel.conftest import base_data, inventory

REPO = Path(__file__).resolve().parents[2]


def problems_of(data: dict[str, Any]) -> list[Problem]:
    return validate_tunnels(inventory(data))


def messages(data: dict[str, Any]) -> list[str]:
    return [p.message for p in problems_of(data)]


def test_the_base_inventory_is_clean() -> None:
    assert problems_of(base_data()) == []


@pytest.mark.parametrize("path", ["plans/tunnels.yaml", "plans/tunnels.lab.yaml"])
def test_the_real_inventories_validate_clean(path: str) -> None:
    loaded = load_tunnels(REPO / path)
    assert validate_tunnels(loaded.inventory) == []
    assert {t.service for t in loaded.inventory.tunnels} == {
        "MongoDB", "OffRedis", "InfluxDB", "Robotoff", "off-query"}


def test_the_lab_inventory_is_loopback_only() -> None:
    import ipaddress

    inv = load_tunnels(REPO / "plans/tunnels.lab.yaml").inventory
    addresses = [e.accept for t in inv.tunnels for e in (t.server, *t.clients)]
    addresses += [e.connect for t in inv.tunnels for e in (t.server, *t.clients)]
    for address in addresses:
        assert ipaddress.ip_address(address.rsplit(":", 1)[0]).is_loopback, address


# 1. client accept: explicit private or loopback IP only -------------------------------------

@pytest.mark.parametrize(("accept", "expected"), [
    (27017, "bare port"),
    ("0.0.0.0:27017", "binds every interface"),
    (":::27017", "binds every interface"),
    ("*:27017", "binds every interface"),
    ("213.36.253.214:27017", "public address of a host"),
    ("146.59.148.140:27017", "not a private or loopback address"),
    ("mongo.internal:27017", "not an IP address"),
])
def test_client_accept_must_be_explicit_private(accept: object, expected: str) -> None:
    data = base_data()
    data["tunnels"][0]["clients"][0]["accept"] = accept
    found = problems_of(data)
    assert len(found) == 1
    assert expected in found[0].message
    assert "January 2024" in found[0].message
    assert found[0].path == ("tunnels", 0, "clients", 0, "accept")
    assert (found[0].service, found[0].host) == ("MongoDB", "ovh1/ct:113")


@pytest.mark.parametrize("accept", ["10.1.0.113:27017", "127.0.0.1:27017", "[fd28:7f08:b8fe::103]:27017"])
def test_client_accept_private_or_loopback_passes(accept: str) -> None:
    data = base_data()
    data["tunnels"][0]["clients"][0]["accept"] = accept
    assert problems_of(data) == []


def test_server_accept_may_bind_every_interface() -> None:
    data = base_data()
    data["tunnels"][0]["server"]["accept"] = "0.0.0.0:27017"
    assert problems_of(data) == []


# 2. clients only on hosts without a public interface -----------------------------------------

def _client_on_proxy(accept: str, exception: str | None) -> dict[str, Any]:
    data = base_data()
    client = data["tunnels"][0]["clients"][0]
    client.update(host="ovh1/ct:101", accept=accept)
    if exception:
        client["public_host_exception"] = exception
    return data


def test_client_on_a_public_host_is_refused() -> None:
    assert messages(_client_on_proxy("10.1.0.101:27017", None)) == [
        "client end on a public host (MongoDB was exposed and wiped this way in January 2024)"]


def test_documented_exception_passes_with_loopback_accept() -> None:
    assert problems_of(_client_on_proxy("127.0.0.1:27017", "only this CT has IPv6")) == []


def test_exception_does_not_cover_a_private_accept() -> None:
    assert messages(_client_on_proxy("10.1.0.101:27017", "only this CT has IPv6")) == [
        "public_host_exception only holds for a loopback accept"]


def test_a_host_with_public_addresses_counts_as_public() -> None:
    data = base_data()
    data["hosts"]["ovh1/ct:113"] = {"public": False, "public_addresses": ["146.59.148.141"]}
    assert any("public host" in m for m in messages(data))


def test_the_incident_config_is_refused_twice() -> None:
    # 2024-01-05: [MongoDB] client = yes, accept = 27017, on the ovh1 reverse proxy
    data = _client_on_proxy("27017", None)
    found = messages(data)
    assert len(found) == 2
    assert any("bare port" in m for m in found)
    assert any("public host" in m for m in found)


# 3. PSK identities unique per server and per service ----------------------------------------

def _second_tunnel(data: dict[str, Any], **changes: Any) -> dict[str, Any]:
    tunnel = {
        "service": "OffRedis",
        "server": {"host": "off2/ct:101", "accept": 6379, "connect": "10.1.0.122:6379"},
        "clients": [{"host": "ovh1/ct:113", "accept": "10.1.0.113:6379",
                     "connect": "proxy2.openfoodfacts.org:6379"}],
        "psk": {"name": "redis", "identity": "ovh-proxy-redis", "secret": "env:PSK_REDIS"},
    }
    for key, value in changes.items():
        section, _, field = key.partition("__")
        if field:
            tunnel[section][field] = value  # type: ignore[index]
        else:
            tunnel[section] = value
    data["tunnels"].append(tunnel)
    return data


def test_second_tunnel_is_clean() -> None:
    assert problems_of(_second_tunnel(base_data())) == []


def test_duplicate_identity_on_one_server() -> None:
    found = problems_of(_second_tunnel(base_data(), psk__identity="ovh-proxy-mongodb"))
    assert [p.message for p in found] == [
        "PSK identity 'ovh-proxy-mongodb' is also used by service MongoDB on the same server off2/ct:101"]
    assert found[0].path == ("tunnels", 1, "psk", "identity")


def test_duplicate_identity_across_services_on_other_servers() -> None:
    data = _second_tunnel(base_data(), psk__identity="ovh-proxy-mongodb",
                          server__host="ovh1/ct:101")
    data["tunnels"][1]["clients"][0]["connect"] = "proxy1.openfoodfacts.org:6379"
    assert messages(data) == [
        "PSK identity 'ovh-proxy-mongodb' is also used by service MongoDB on server off2/ct:101"]


# 4. one section per service and host ---------------------------------------------------------

def test_duplicated_section_on_a_host() -> None:
    # the [Robotoff] drift: a second section with the same name on moji CT 102
    data = _second_tunnel(base_data(), service="MongoDB")
    found = problems_of(data)
    assert {p.host for p in found} == {"off2/ct:101", "ovh1/ct:113"}
    assert all(p.message == "a second [MongoDB] section on this host" for p in found)


# 5. no two services on one address:port of a host --------------------------------------------

@pytest.mark.parametrize(("first", "second", "clash"), [
    ("27017", "27017", True),
    ("0.0.0.0:27017", "10.1.0.101:27017", True),
    (":::27017", "10.1.0.101:27017", True),
    ("10.1.0.101:27017", "213.36.253.214:27017", False),
    ("27017", "6379", False),
])
def test_accept_clash_on_one_host(first: str, second: str, clash: bool) -> None:
    data = _second_tunnel(base_data(), server__accept=second)
    data["tunnels"][0]["server"]["accept"] = first
    port = second.rsplit(":", 1)[-1]
    data["tunnels"][1]["clients"][0]["connect"] = f"proxy2.openfoodfacts.org:{port}"
    data["tunnels"][1]["clients"][0]["accept"] = f"10.1.0.113:{port}"
    if port == "27017":  # the client CT needs its own address for the second service
        data["tunnels"][1]["clients"][0]["accept"] = "127.0.0.1:27017"
    found = messages(data)
    assert bool([m for m in found if "clashes with service MongoDB" in m]) is clash
    assert len(found) == int(clash)


# 6. PSK secrets are references ---------------------------------------------------------------

def test_psk_value_instead_of_reference_is_refused_without_echo() -> None:
    data = base_data()
    data["tunnels"][0]["psk"]["secret"] = "Yf3kq0vZ8wLr2NtQe7Hs9PjBc4XdMa1G"
    found = problems_of(data)
    assert [p.message for p in found] == ["PSK secret is not a reference (env:NAME or file:PATH)"]
    assert "Yf3kq0vZ8wLr2NtQe7Hs9PjBc4XdMa1G" not in found[0].describe()


@pytest.mark.parametrize("ref", ["env:PSK_MONGODB", "file:/etc/migrator/psk/mongodb.txt"])
def test_psk_references_pass(ref: str) -> None:
    data = base_data()
    data["tunnels"][0]["psk"]["secret"] = ref
    assert problems_of(data) == []


# 7. clients connect to the server's public name and accept port ------------------------------

def test_client_connect_port_must_match_server_accept() -> None:
    data = base_data()
    data["tunnels"][0]["clients"][0]["connect"] = "proxy2.openfoodfacts.org:27018"
    assert messages(data) == ["client connects to port 27018 but the server accepts on 27017"]


def test_client_connect_host_must_be_a_public_address_of_the_server() -> None:
    data = base_data()
    data["tunnels"][0]["clients"][0]["connect"] = "proxy1.openfoodfacts.org:27017"
    found = messages(data)
    assert found == [
        "client connects to 'proxy1.openfoodfacts.org', not a public address of server off2/ct:101"]
    data["tunnels"][0]["clients"][0]["connect"] = "213.36.253.214:27017"
    assert problems_of(data) == []


# hosts must have facts -----------------------------------------------------------------------

def test_a_tunnel_end_on_an_unknown_host() -> None:
    data = base_data()
    del data["hosts"]["ovh1/ct:113"]
    found = problems_of(data)
    assert [p.message for p in found] == ["host 'ovh1/ct:113' has no entry under hosts:"]
    assert found[0].path == ("tunnels", 0, "clients", 0, "host")


def test_problem_describe_format() -> None:
    problem = Problem("bad", "MongoDB", "ovh1/ct:101", "fix it")
    assert problem.describe() == "service MongoDB on host ovh1/ct:101: bad (fix it)"
    assert Problem("bad").describe() == "bad"
