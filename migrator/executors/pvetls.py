"""TLS for the Proxmox API: what requests verifies the node's certificate against.

Always verified, never off: against the endpoint's ``ca_file`` (PVE's ``pve-root-ca.pem``),
or by pinning the certificate's SHA-256 fingerprint (:class:`PinnedCertAdapter`), or else the
system CA store. Split from :mod:`migrator.executors.proxmox` so the certificate rules live
apart from the API calls.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from migrator.errors import ConnectError, PlanError
from migrator.plan.inventory import ProxmoxEndpoint


class PinnedCertAdapter(HTTPAdapter):
    """HTTPS that trusts exactly one certificate, named by its SHA-256 fingerprint.

    A PVE node's certificate is usually signed by the cluster's own CA, which an operator's
    laptop does not have; the node's fingerprint is shown by ``pvenode cert info``. Instead of
    checking the chain, urllib3 compares the peer certificate's digest with the pin right
    after the handshake and refuses the connection on a mismatch (``assert_fingerprint``).
    """

    def __init__(self, fingerprint: str) -> None:
        self.fingerprint = normalise_fingerprint(fingerprint)
        super().__init__()

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: bool | str, cert: str | tuple[str, str] | None = None
    ) -> Any:
        host_params, defaults = super().build_connection_pool_key_attributes(request, verify, cert)
        pool_kwargs: dict[str, Any] = dict(defaults)
        for key in ("ssl_context", "ca_certs", "ca_cert_dir"):
            pool_kwargs.pop(key, None)
        # The chain is not checked; the pin (checked by urllib3 after the handshake) replaces it.
        pool_kwargs["cert_reqs"] = "CERT_NONE"
        pool_kwargs["assert_fingerprint"] = self.fingerprint
        return host_params, pool_kwargs

    def cert_verify(self, conn: Any, url: str, verify: bool | str | None, cert: Any) -> None:
        # requests would put CA checking back on the pool here; keep the pin in charge.
        conn.cert_reqs = "CERT_NONE"
        conn.ca_certs = None
        conn.ca_cert_dir = None
        conn.assert_fingerprint = self.fingerprint


def normalise_fingerprint(text: str) -> str:
    """``AB:CD:...`` (as PVE prints it) or plain hex -> 64 lower-case hex digits."""
    digits = re.sub(r"[\s:]", "", text.removeprefix("sha256:")).lower()
    if not re.fullmatch(r"[0-9a-f]{64}", digits):
        raise PlanError(
            f"Proxmox certificate fingerprint {text!r} is not a SHA-256 fingerprint",
            hint="copy it from `pvenode cert info` (32 hex pairs separated by ':')",
        )
    return digits


def verify_setting(endpoint: ProxmoxEndpoint, *, where: str) -> bool | str:
    """What requests checks the certificate against: a CA file, or the system CA store."""
    if endpoint.ca_file is None or endpoint.fingerprint:
        return True  # with a pin, PinnedCertAdapter decides
    path = Path(endpoint.ca_file).expanduser()
    if not path.is_file():
        raise ConnectError(
            f"CA file {endpoint.ca_file} does not exist",
            where=where,
            hint="copy /etc/pve/pve-root-ca.pem from the node, or pin `fingerprint:` instead",
        )
    return str(path)


def pin_session(session: requests.Session, endpoint: ProxmoxEndpoint) -> None:
    """With a ``fingerprint:``, the session trusts exactly that certificate."""
    if endpoint.fingerprint:
        session.mount("https://", PinnedCertAdapter(endpoint.fingerprint))
