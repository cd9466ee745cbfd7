"""TLS: the API certificate is checked against the CA file or a pinned fingerprint, never skipped."""

from __future__ import annotations

import hashlib
import socket
import ssl
from pathlib import Path
from typing import Any

import pytest
from fakepve.certs import make_cert

from migrator.errors import ConnectError, PlanError
from migrator.executors.proxmox import ProxmoxClient
from migrator.plan.inventory import ProxmoxEndpoint
from migrator.secrets import Redactor
from tests.proxmox.conftest import SECRET


def sha256_fingerprint(pem_file: str) -> str:
    """As `pvenode cert info` prints it: AB:CD:..."""
    der = ssl.PEM_cert_to_DER_cert(Path(pem_file).read_text())
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, 64, 2))


def other_ca(tmp_path: Path) -> str:
    """A certificate that did not sign the fake's: the wrong CA."""
    return str(make_cert(str(tmp_path), name="other-ca", hosts=("127.0.0.1",))[0])


def test_the_wrong_ca_file_is_a_connect_error_with_a_hint(endpoint: ProxmoxEndpoint, tmp_path: Path) -> None:
    wrong = endpoint.model_copy(update={"ca_file": other_ca(tmp_path)})
    with ProxmoxClient("pve1", wrong, redactor=Redactor()) as px, pytest.raises(ConnectError) as caught:
        px.nodes()
    err = caught.value
    assert f"TLS verification of {endpoint.url} failed" in str(err)
    assert "CERTIFICATE_VERIFY_FAILED" in str(err)
    assert "is the CA that signed the API certificate" in (err.hint or "")
    assert SECRET not in str(err)


def test_without_ca_file_nor_pin_the_system_store_is_used_and_refuses(endpoint: ProxmoxEndpoint) -> None:
    bare = endpoint.model_copy(update={"ca_file": None})
    with ProxmoxClient("pve1", bare, redactor=Redactor()) as px, pytest.raises(ConnectError) as caught:
        px.nodes()
    assert "set ca_file" in (caught.value.hint or "")


def test_a_missing_ca_file_is_reported_before_any_request(endpoint: ProxmoxEndpoint, tmp_path: Path) -> None:
    missing = endpoint.model_copy(update={"ca_file": str(tmp_path / "nope.pem")})
    with pytest.raises(ConnectError, match=r"CA file .*nope\.pem does not exist"):
        ProxmoxClient("pve1", missing, redactor=Redactor())


def test_a_pinned_fingerprint_is_trusted_without_a_ca(endpoint: ProxmoxEndpoint, fakepve_cafile: str) -> None:
    pinned = endpoint.model_copy(update={"ca_file": None, "fingerprint": sha256_fingerprint(fakepve_cafile)})
    with ProxmoxClient("pve1", pinned, redactor=Redactor()) as px:
        assert [n["node"] for n in px.nodes()] == ["pve1"]


def test_a_pinned_fingerprint_that_does_not_match_is_refused(
    endpoint: ProxmoxEndpoint, tmp_path: Path, pve: Any
) -> None:
    pinned = endpoint.model_copy(
        update={"ca_file": None, "fingerprint": sha256_fingerprint(other_ca(tmp_path))}
    )
    with ProxmoxClient("pve1", pinned, redactor=Redactor()) as px, pytest.raises(ConnectError) as caught:
        px.nodes()
    assert "Fingerprints did not match" in str(caught.value)
    assert "pinned" in (caught.value.hint or "")
    assert pve.requests == []  # the request never left the client


def test_a_malformed_fingerprint_is_a_plan_error(endpoint: ProxmoxEndpoint) -> None:
    with pytest.raises(PlanError, match="is not a SHA-256 fingerprint"):
        ProxmoxClient("pve1", endpoint.model_copy(update={"fingerprint": "AB:CD"}), redactor=Redactor())


def test_a_closed_port_is_a_connect_error(endpoint: ProxmoxEndpoint) -> None:
    with socket.socket() as sock:  # a loopback port nobody listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    closed = endpoint.model_copy(update={"url": f"https://127.0.0.1:{port}"})
    with ProxmoxClient("pve1", closed, redactor=Redactor()) as px, pytest.raises(ConnectError) as caught:
        px.nodes()
    assert f"cannot connect to https://127.0.0.1:{port}" in str(caught.value)
    assert "Connection refused" in str(caught.value)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8006", "https://127.0.0.1:8006/api2/json", "127.0.0.1:8006"]
)
def test_a_url_that_is_not_https_host_port_is_a_plan_error(endpoint: ProxmoxEndpoint, url: str) -> None:
    with pytest.raises(PlanError, match="is not of the form https://host:8006"):
        ProxmoxClient("pve1", endpoint.model_copy(update={"url": url}), redactor=Redactor())


def test_a_token_id_without_a_token_name_is_a_plan_error(endpoint: ProxmoxEndpoint) -> None:
    with pytest.raises(PlanError, match="user@realm!tokenname"):
        ProxmoxClient("pve1", endpoint.model_copy(update={"token_id": "root@pam"}), redactor=Redactor())
