"""ProxmoxClient against fakepve: token auth, reads, container lifecycle, error translation."""

from __future__ import annotations

from typing import Any

import pytest

from migrator.errors import ConnectError, ProxmoxError, SecretError
from migrator.executors.proxmox import NoSuchGuest, ProxmoxApiError, ProxmoxClient
from migrator.plan.inventory import ProxmoxEndpoint
from migrator.secrets import Redactor
from tests.proxmox.conftest import SECRET, SECRET_ENV

TEMPLATE = "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"
FAST = pytest.mark.fakepve(time_scale=0.01)


def test_token_auth_reads_cluster_status_nodes_and_storage(client: ProxmoxClient) -> None:
    status = client.cluster_status()
    assert {"type": "cluster", "name": "fakecluster"}.items() <= status[0].items()
    assert [n["node"] for n in client.nodes()] == ["pve1"]
    storages = {s["storage"]: s for s in client.storage_status("pve1")}
    assert set(storages) == {"local", "local-lvm"}
    assert "vztmpl" in storages["local"]["content"]


def test_the_token_goes_in_the_authorization_header_only(client: ProxmoxClient, pve: Any) -> None:
    client.nodes()
    method, path, body = pve.requests[-1]
    assert (method, path) == ("GET", "/api2/json/nodes")
    assert SECRET.encode() not in body


def test_a_wrong_token_is_rejected_with_a_clear_message(pve: Any, endpoint: ProxmoxEndpoint) -> None:
    pve.apitokens[endpoint.token_id] = "another-secret-value"
    redactor = Redactor()
    with ProxmoxClient("pve1", endpoint, redactor=redactor) as px, pytest.raises(ProxmoxApiError) as caught:
        px.nodes()
    err = caught.value
    assert err.status == 401
    assert "token rejected: root@pam!migrator" in str(err)
    assert f"env:{SECRET_ENV}" in (err.hint or "")
    assert "ACL" in (err.hint or "")
    assert SECRET not in str(err)
    assert redactor(f"x {SECRET} y") == "x *** y"  # the secret was registered for redaction


def test_an_unset_secret_reference_is_a_secret_error(endpoint: ProxmoxEndpoint, monkeypatch: Any) -> None:
    monkeypatch.delenv(SECRET_ENV)
    with pytest.raises(SecretError, match=f"env:{SECRET_ENV} is not set"):
        ProxmoxClient("pve1", endpoint, redactor=Redactor())


@FAST
def test_create_start_configure_stop_a_container(client: ProxmoxClient) -> None:
    upid = client.create_lxc(
        "pve1", 101, ostemplate=TEMPLATE, hostname="off-test", storage="local-lvm", cores=2, onboot=True
    )
    assert client.wait_task(upid, timeout=10, poll=0.05)["exitstatus"] == "OK"
    assert [(c["vmid"], c["name"], c["status"]) for c in client.lxc_list("pve1")] == [
        (101, "off-test", "stopped")
    ]
    assert client.lxc_config("pve1", 101)["onboot"] == 1  # True went out as PVE's 1

    client.wait_task(client.start_lxc("pve1", 101), timeout=10, poll=0.05)
    assert client.lxc_status("pve1", 101)["status"] == "running"

    client.set_lxc_config("pve1", 101, memory=2048, cores=4)
    config = client.lxc_config("pve1", 101)
    assert (config["memory"], config["cores"]) == (2048, 4)

    client.wait_task(client.stop_lxc("pve1", 101), timeout=10, poll=0.05)
    assert client.lxc_status("pve1", 101)["status"] == "stopped"


def test_download_template_starts_an_aplinfo_task(client: ProxmoxClient, pve: Any) -> None:
    upid = client.download_template("pve1", "local", "debian-12-standard_12.7-1_amd64.tar.zst")
    assert ":aplinfo::" in upid
    status = client.wait_task(upid, timeout=10, poll=0.05)
    assert status["exitstatus"] == "OK"
    posts = [(m, p, b) for m, p, b in pve.requests if m == "POST"]
    assert posts[-1][1] == "/api2/json/nodes/pve1/aplinfo"
    assert b"template=debian-12-standard_12.7-1_amd64.tar.zst" in posts[-1][2]


def test_a_field_validation_error_names_each_field(client: ProxmoxClient, pve: Any) -> None:
    pve.add_ct(101, "ct101")
    with pytest.raises(ProxmoxApiError) as caught:
        client.set_lxc_config("pve1", 101, cores="abc")
    err = caught.value
    assert err.status == 400
    assert err.path == "/nodes/pve1/lxc/101/config"
    assert err.field_errors == {"cores": "type check ('integer') failed - got 'abc'"}
    assert "PUT /nodes/pve1/lxc/101/config failed: HTTP 400" in str(err)
    assert "\n  cores: type check ('integer') failed - got 'abc'" in str(err)


def test_a_missing_container_is_named_as_such(client: ProxmoxClient) -> None:
    with pytest.raises(NoSuchGuest, match="no such container 999 on node pve1"):
        client.lxc_status("pve1", 999)


def test_a_token_without_privileges_gets_a_permission_error(
    pve: Any, fakepve_cafile: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    pve.add_ct(101, "ct101")
    pve.acl = {}  # ACLs are enforced; this token has none
    pve.apitokens["ops@pve!migrator"] = "ops-token-secret-value"
    monkeypatch.setenv("OPS_TOKEN", "ops-token-secret-value")
    endpoint = ProxmoxEndpoint(
        url=pve.url,
        node="pve1",
        token_id="ops@pve!migrator",
        token_secret="env:OPS_TOKEN",
        ca_file=fakepve_cafile,
    )
    with ProxmoxClient("pve1", endpoint, redactor=Redactor()) as px, pytest.raises(ProxmoxApiError) as caught:
        px.lxc_status("pve1", 101)
    assert caught.value.status == 403
    assert "Permission check failed (/vms/101" in str(caught.value)
    assert "pveum acl modify" in (caught.value.hint or "")


def test_call_takes_paths_with_or_without_the_api_prefix(client: ProxmoxClient) -> None:
    assert client.call("get", "/api2/json/version")["release"] == client.call("GET", "version")["release"]


def test_unknown_methods_and_mapping_parameters_are_refused(client: ProxmoxClient) -> None:
    with pytest.raises(ProxmoxError, match="unknown HTTP method 'PATCH'"):
        client.call("PATCH", "nodes")
    with pytest.raises(ProxmoxError, match="property string"):
        client.call("PUT", "nodes/pve1/lxc/101/config", {"net0": {"name": "eth0"}})


def test_a_proxy_error_page_is_an_api_error_without_the_html(client: ProxmoxClient, pve: Any) -> None:
    pve.fail("GET", "/nodes", 502, "<html><body>nginx: bad gateway</body></html>", html=True)
    with pytest.raises(ProxmoxApiError) as caught:
        client.nodes()
    assert caught.value.status == 502
    assert caught.value.field_errors == {}
    assert "<html>" not in str(caught.value)


def test_a_page_that_is_not_json_is_refused(client: ProxmoxClient, pve: Any) -> None:
    pve.fail("GET", "/nodes", 200, "<html>login</html>", html=True)
    with pytest.raises(ProxmoxError, match="the answer is not Proxmox JSON"):
        client.nodes()


@pytest.mark.fakepve(time_scale=0.01)
def test_a_server_that_does_not_answer_times_out(endpoint: ProxmoxEndpoint, pve: Any) -> None:
    pve.flaky_network(hang_rate=1.0, hang_secs=100)  # one real second at this time scale
    with (
        ProxmoxClient("pve1", endpoint, redactor=Redactor(), timeout=0.2) as px,
        pytest.raises(ConnectError) as caught,
    ):
        px.nodes()
    assert f"no answer from {endpoint.url} within 0.2s" in str(caught.value)
