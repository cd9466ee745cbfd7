"""Proxmox API errors and their translation at the boundary.

proxmoxer's ``ResourceException`` becomes :class:`ProxmoxApiError` (path, status, one line
per field error), a missing guest :class:`NoSuchGuest`, 401 a "token rejected" error,
requests' connection/TLS/timeout errors :class:`~migrator.errors.ConnectError`. Every message
goes through the Redactor. Split from :mod:`migrator.executors.proxmox` (which re-exports the
error classes) so the client reads as calls and this module as what went wrong.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests
from proxmoxer import ResourceException

from migrator.errors import ConnectError, NoSuchGuest, ProxmoxApiError
from migrator.plan.inventory import ProxmoxEndpoint

# PVE's answer for a guest that is not on that node (a 500, not a 404).
MISSING_GUEST = re.compile(
    r"Configuration file 'nodes/(?P<node>[^/]+)/(?P<kind>lxc|qemu-server)/(?P<vmid>\d+)\.conf' does not exist"
)


@dataclass(frozen=True)
class ErrorTranslator:
    """Turns one endpoint's library errors into ours, with where, hint and redaction."""

    endpoint: ProxmoxEndpoint
    where: str
    timeout: float
    redact: Callable[[str], str]

    def token_rejected(self, verb: str, rel: str) -> ProxmoxApiError:
        return ProxmoxApiError(
            f"token rejected: {self.endpoint.token_id} was not accepted ({verb} /{rel})",
            status=401,
            path="/" + rel,
            where=self.where,
            hint=f"check token_id and that {self.endpoint.token_secret} holds that token's secret; "
            "a privilege-separated token needs its own ACLs (pveum acl modify / -token ...)",
        )

    def api_error(self, exc: ResourceException, verb: str, rel: str) -> ProxmoxApiError:
        status = int(exc.status_code)
        reason = self.redact(str(exc.content or exc.status_message or "").strip())
        if status == 401:
            return self.token_rejected(verb, rel)
        fields = {str(k): self.redact(str(v)) for k, v in _field_errors(exc.errors).items()}
        missing = MISSING_GUEST.search(reason)
        if missing:
            kind, tool = ("container", "pct") if missing["kind"] == "lxc" else ("VM", "qm")
            return NoSuchGuest(
                f"no such {kind} {missing['vmid']} on node {missing['node']} ({verb} /{rel})",
                status=status,
                path="/" + rel,
                where=self.where,
                hint=f"check the vmid with `{tool} list` on {missing['node']}",
            )
        message = f"{verb} /{rel} failed: HTTP {status} {reason}"
        if fields:
            message += "".join(f"\n  {name}: {text}" for name, text in sorted(fields.items()))
        hint = None
        if status == 403:
            hint = "the token lacks a privilege: pveum acl modify (a privilege-separated token needs its own)"
        elif status == 501:
            hint = "this Proxmox version does not offer that API path or method"
        elif status == 595:
            hint = "the node behind this endpoint cannot reach the target node"
        return ProxmoxApiError(
            message, status=status, path="/" + rel, field_errors=fields, where=self.where, hint=hint
        )

    def connect_error(self, exc: requests.RequestException) -> ConnectError:
        reason = self.redact(_innermost(exc))
        url = self.endpoint.url
        if isinstance(exc, requests.exceptions.SSLError):
            if self.endpoint.fingerprint:
                hint = "the certificate is not the pinned one: compare its fingerprint (pvenode cert info)"
            elif self.endpoint.ca_file:
                hint = (
                    f"check that {self.endpoint.ca_file} is the CA that signed the API certificate "
                    "(/etc/pve/pve-root-ca.pem), or pin the fingerprint"
                )
            else:
                hint = "set ca_file (the node's /etc/pve/pve-root-ca.pem) or fingerprint for this endpoint"
            return ConnectError(f"TLS verification of {url} failed: {reason}", where=self.where, hint=hint)
        if isinstance(exc, requests.exceptions.Timeout):
            return ConnectError(
                f"no answer from {url} within {self.timeout:g}s: {reason}",
                where=self.where,
                hint="is the node up and pveproxy running? (systemctl status pveproxy)",
            )
        if isinstance(exc, requests.exceptions.ConnectionError):
            return ConnectError(
                f"cannot connect to {url}: {reason}",
                where=self.where,
                hint="check the address and port (8006), the firewall and pveproxy on the node",
            )
        return ConnectError(f"request to {url} failed: {reason}", where=self.where)


def may_have_arrived(error: ConnectError) -> bool:
    """Whether the request behind ``error`` may have reached the node (and been carried out).

    Not when the TCP connection or the TLS handshake never completed: nothing was sent. A read
    timeout, a reset or a closed connection after sending: it may have been."""
    cause = error.__cause__
    if isinstance(cause, requests.exceptions.ConnectTimeout | requests.exceptions.SSLError):
        return False
    if isinstance(cause, requests.exceptions.ConnectionError):
        text = repr(cause)
        unsent = ("NewConnectionError", "Failed to establish", "NameResolution")
        return not any(word in text for word in unsent)
    return True


def _field_errors(errors: Any) -> dict[str, Any]:
    return errors if isinstance(errors, dict) and not isinstance(errors.get("errors"), bytes) else {}


def _innermost(exc: BaseException) -> str:
    """The root cause's text: requests nests it as MaxRetryError(reason=SSLError(...)) ..."""
    seen: set[int] = set()
    current: BaseException = exc
    while id(current) not in seen:
        seen.add(id(current))
        nested = getattr(current, "reason", None)
        first = current.args[0] if current.args else None
        if not isinstance(nested, BaseException) and isinstance(first, BaseException):
            nested = first
        if not isinstance(nested, BaseException):
            break
        current = nested
    text = str(current)
    return text.split("(_ssl.c", 1)[0].strip() or type(current).__name__
