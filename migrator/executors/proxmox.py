"""The Proxmox VE API client: proxmoxer's https backend with an API token, errors translated.

Why this shape:

* **https + API token only.** proxmoxer's ``ssh_paramiko`` backend trusts any host key
  (it adds unknown keys silently); a token needs no ticket renewal and no CSRF token.
* **TLS is always verified**: against ``endpoint.ca_file`` (PVE's ``pve-root-ca.pem``), or by
  pinning the certificate's SHA-256 fingerprint (:class:`PinnedCertAdapter`), or else the
  system CA store. There is no way to turn verification off.
* **Errors are translated here**, at the boundary: proxmoxer's ``ResourceException`` becomes
  :class:`ProxmoxApiError` (path, status, one line per field error), a missing guest
  :class:`NoSuchGuest`, 401 a "token rejected" error, requests' connection/TLS/timeout
  errors :class:`~migrator.errors.ConnectError`. Every message goes through the Redactor; the
  token secret only ever lives in the ``Authorization`` header.
* **Tasks are waited for by our own poller** (:mod:`migrator.executors.pvetasks`).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from proxmoxer import AuthenticationError, ProxmoxAPI, ResourceException
from requests.adapters import HTTPAdapter

from migrator.errors import ConnectError, PlanError, ProxmoxError
from migrator.executors.pvetasks import is_upid, never, nothing
from migrator.executors.pvetasks import wait_task as poll_task
from migrator.plan.inventory import Inventory, ProxmoxEndpoint
from migrator.plan.model import ProxmoxCall
from migrator.secrets import Redactor, resolve

METHODS = ("GET", "POST", "PUT", "DELETE")
CONNECT_TIMEOUT = 10.0  # seconds to open the TCP+TLS connection; ``timeout`` bounds each answer
# PVE's answer for a guest that is not on that node (a 500, not a 404).
MISSING_GUEST = re.compile(
    r"Configuration file 'nodes/(?P<node>[^/]+)/(?P<kind>lxc|qemu-server)/(?P<vmid>\d+)\.conf' does not exist"
)


class ProxmoxApiError(ProxmoxError):
    """The API answered with an HTTP error. ``field_errors`` maps parameter -> PVE's complaint."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        path: str,
        field_errors: dict[str, str] | None = None,
        hint: str | None = None,
        where: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint, where=where)
        self.status = status
        self.path = path
        self.field_errors = field_errors or {}


class NoSuchGuest(ProxmoxApiError):
    """The container or VM does not exist on that node (PVE answers 500, not 404)."""


@dataclass
class CallOutcome:
    """What one plan call did: the API's data, and for a task its UPID, exit status and log."""

    data: Any
    upid: str | None = None
    exitstatus: str | None = None
    log_lines: list[str] = field(default_factory=list)


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


class ProxmoxClient:
    """One Proxmox VE API endpoint. Thread-safe: requests on one client are serialised."""

    def __init__(
        self, name: str, endpoint: ProxmoxEndpoint, *, redactor: Redactor, timeout: float = 30
    ) -> None:
        self.name = name
        self.endpoint = endpoint
        self.node = endpoint.node
        self.timeout = timeout
        self._redact = redactor
        self._where = f"proxmox {name} ({endpoint.url})"
        self._lock = threading.Lock()
        host, port = self._host_port(endpoint.url)
        user, token_name = self._split_token_id(endpoint.token_id)
        secret = resolve(endpoint.token_secret, redactor=redactor, where=self._where)
        self._api = ProxmoxAPI(
            host,
            port=port,
            backend="https",
            user=user,
            token_name=token_name,
            token_value=secret,
            verify_ssl=self._verify_setting(endpoint),
            timeout=(min(CONNECT_TIMEOUT, timeout), timeout),
        )
        # proxmoxer builds the session in its constructor and offers no hook for an adapter.
        self._session: requests.Session = self._api._store["session"]
        if endpoint.fingerprint:
            self._session.mount("https://", PinnedCertAdapter(endpoint.fingerprint))

    # ------------------------------------------------------------------ setup

    def _host_port(self, url: str) -> tuple[str, int]:
        parts = urlsplit(url)
        if parts.scheme != "https" or not parts.hostname or parts.path not in ("", "/"):
            raise PlanError(
                f"Proxmox URL {url!r} is not of the form https://host:8006",
                where=self._where,
                hint="give the scheme, host and port only; the API path is added by migrator",
            )
        return parts.hostname, parts.port or 8006

    def _split_token_id(self, token_id: str) -> tuple[str, str]:
        user, bang, token_name = token_id.partition("!")
        if not bang or "@" not in user or not token_name:
            raise PlanError(
                f"Proxmox token id {token_id!r} is not of the form user@realm!tokenname",
                where=self._where,
                hint="Datacenter > Permissions > API Tokens shows the full token id",
            )
        return user, token_name

    def _verify_setting(self, endpoint: ProxmoxEndpoint) -> bool | str:
        """What requests checks the certificate against: a CA file, or the system CA store."""
        if endpoint.ca_file is None or endpoint.fingerprint:
            return True  # with a pin, PinnedCertAdapter decides
        path = Path(endpoint.ca_file).expanduser()
        if not path.is_file():
            raise ConnectError(
                f"CA file {endpoint.ca_file} does not exist",
                where=self._where,
                hint="copy /etc/pve/pve-root-ca.pem from the node, or pin `fingerprint:` instead",
            )
        return str(path)

    # ------------------------------------------------------------------ calls

    def call(self, method: str, path: str, params: dict[str, Any] | None = None) -> Any:
        """One API call; returns the answer's ``data``. ``path`` is below /api2/json."""
        verb = method.upper()
        if verb not in METHODS:
            raise ProxmoxError(
                f"unknown HTTP method {method!r}", where=self._where, hint="use GET, POST, PUT or DELETE"
            )
        rel = path.strip("/").removeprefix("api2/json/")
        args = _encode(params or {})
        resource = self._api(rel)
        try:
            with self._lock:
                if verb in ("GET", "DELETE"):
                    answer = resource.get(**args) if verb == "GET" else resource.delete(**args)
                else:
                    answer = resource.post(**args) if verb == "POST" else resource.put(**args)
        except ResourceException as exc:
            raise self._api_error(exc, verb, rel) from exc
        except AuthenticationError as exc:
            raise self._token_rejected(verb, rel) from exc
        except requests.RequestException as exc:
            raise self._connect_error(exc) from exc
        if isinstance(answer, dict) and set(answer) == {"errors"} and isinstance(answer["errors"], bytes):
            # proxmoxer's way of saying "the 2xx answer was not JSON": a proxy page, not PVE.
            raise ProxmoxError(
                self._redact(f"{verb} /{rel}: the answer is not Proxmox JSON"),
                where=self._where,
                hint="is the URL a Proxmox node (port 8006) and not a web proxy?",
            )
        return answer

    def wait_task(
        self,
        upid: str,
        *,
        timeout: float,
        poll: float = 1.0,
        on_log: Callable[[str], None] = nothing,
        cancel: Callable[[], bool] = never,
    ) -> dict[str, Any]:
        """Wait for a task to end OK; see :func:`migrator.executors.pvetasks.wait_task`."""
        return poll_task(
            self.call,
            upid,
            timeout=timeout,
            poll=poll,
            on_log=on_log,
            cancel=cancel,
            redact=self._redact,
            where=f"proxmox {self.name}",
        )

    def run_call(
        self,
        call: ProxmoxCall,
        *,
        timeout: float,
        on_log: Callable[[str], None] = nothing,
        cancel: Callable[[], bool] = never,
        poll: float = 1.0,
    ) -> CallOutcome:
        """Carry out a plan's ProxmoxCall: the call, then its task when it starts one."""
        data = self.call(call.method, call.path, call.params)
        if not is_upid(data):
            return CallOutcome(data)
        if not call.wait_task:
            return CallOutcome(data, upid=data)
        lines: list[str] = []

        def keep(line: str) -> None:
            lines.append(line)
            on_log(line)

        status = self.wait_task(data, timeout=timeout, poll=poll, on_log=keep, cancel=cancel)
        return CallOutcome(data, upid=data, exitstatus=status.get("exitstatus"), log_lines=lines)

    # ---------------------------------------------------------------- helpers

    def cluster_status(self) -> list[dict[str, Any]]:
        return list(self.call("GET", "cluster/status"))

    def nodes(self) -> list[dict[str, Any]]:
        return list(self.call("GET", "nodes"))

    def storage_status(self, node: str) -> list[dict[str, Any]]:
        return list(self.call("GET", f"nodes/{_seg(node)}/storage"))

    def lxc_list(self, node: str) -> list[dict[str, Any]]:
        return list(self.call("GET", f"nodes/{_seg(node)}/lxc"))

    def lxc_status(self, node: str, vmid: int) -> dict[str, Any]:
        return dict(self.call("GET", f"nodes/{_seg(node)}/lxc/{int(vmid)}/status/current"))

    def lxc_config(self, node: str, vmid: int) -> dict[str, Any]:
        return dict(self.call("GET", f"nodes/{_seg(node)}/lxc/{int(vmid)}/config"))

    def create_lxc(self, node: str, vmid: int, **params: Any) -> str:
        """Start a ``vzcreate`` task; returns its UPID."""
        return str(self.call("POST", f"nodes/{_seg(node)}/lxc", {"vmid": int(vmid), **params}))

    def start_lxc(self, node: str, vmid: int) -> str:
        return str(self.call("POST", f"nodes/{_seg(node)}/lxc/{int(vmid)}/status/start"))

    def stop_lxc(self, node: str, vmid: int) -> str:
        return str(self.call("POST", f"nodes/{_seg(node)}/lxc/{int(vmid)}/status/stop"))

    def set_lxc_config(self, node: str, vmid: int, **params: Any) -> Any:
        return self.call("PUT", f"nodes/{_seg(node)}/lxc/{int(vmid)}/config", params)

    def download_template(self, node: str, storage: str, template: str) -> str:
        """Start the ``aplinfo`` task that downloads an appliance template; returns its UPID."""
        params = {"storage": storage, "template": template}
        return str(self.call("POST", f"nodes/{_seg(node)}/aplinfo", params))

    # -------------------------------------------------------------- lifecycle

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> ProxmoxClient:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # ------------------------------------------------------- error translation

    def _token_rejected(self, verb: str, rel: str) -> ProxmoxApiError:
        return ProxmoxApiError(
            f"token rejected: {self.endpoint.token_id} was not accepted ({verb} /{rel})",
            status=401,
            path="/" + rel,
            where=self._where,
            hint=f"check token_id and that {self.endpoint.token_secret} holds that token's secret; "
            "a privilege-separated token needs its own ACLs (pveum acl modify / -token ...)",
        )

    def _api_error(self, exc: ResourceException, verb: str, rel: str) -> ProxmoxApiError:
        status = int(exc.status_code)
        reason = self._redact(str(exc.content or exc.status_message or "").strip())
        if status == 401:
            return self._token_rejected(verb, rel)
        fields = {str(k): self._redact(str(v)) for k, v in _field_errors(exc.errors).items()}
        missing = MISSING_GUEST.search(reason)
        if missing:
            kind, tool = ("container", "pct") if missing["kind"] == "lxc" else ("VM", "qm")
            return NoSuchGuest(
                f"no such {kind} {missing['vmid']} on node {missing['node']} ({verb} /{rel})",
                status=status,
                path="/" + rel,
                where=self._where,
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
            message, status=status, path="/" + rel, field_errors=fields, where=self._where, hint=hint
        )

    def _connect_error(self, exc: requests.RequestException) -> ConnectError:
        reason = self._redact(_innermost(exc))
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
            return ConnectError(f"TLS verification of {url} failed: {reason}", where=self._where, hint=hint)
        if isinstance(exc, requests.exceptions.Timeout):
            return ConnectError(
                f"no answer from {url} within {self.timeout:g}s: {reason}",
                where=self._where,
                hint="is the node up and pveproxy running? (systemctl status pveproxy)",
            )
        if isinstance(exc, requests.exceptions.ConnectionError):
            return ConnectError(
                f"cannot connect to {url}: {reason}",
                where=self._where,
                hint="check the address and port (8006), the firewall and pveproxy on the node",
            )
        return ConnectError(f"request to {url} failed: {reason}", where=self._where)


def open_client(
    inventory: Inventory, host_name: str, redactor: Redactor, *, timeout: float = 30
) -> ProxmoxClient:
    """The client for ``host_name``'s Proxmox endpoint (``off2`` or a target like ``off2/ct:101``)."""
    host, _ = inventory.resolve_target(host_name)
    endpoint = inventory.proxmox.get(host)
    if endpoint is None:
        known = ", ".join(sorted(inventory.proxmox)) or "none"
        raise PlanError(
            f"inventory {inventory.name} has no Proxmox endpoint for host {host}",
            where=f"inventory {inventory.name}",
            hint=f"add proxmox: {{{host}: {{url, node, token_id, token_secret}}}} (endpoints known: {known})",
        )
    return ProxmoxClient(host, endpoint, redactor=redactor, timeout=timeout)


def _seg(text: str) -> str:
    """One path segment, quoted so a value cannot add path levels."""
    return quote(str(text), safe="")


def _encode(params: dict[str, Any]) -> dict[str, Any]:
    """Parameters as PVE reads them: booleans are 0/1, None means "not given"."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, dict):
            raise ProxmoxError(
                f"parameter {key!r} is a mapping; Proxmox takes strings like 'name=eth0,bridge=vmbr0'",
                hint="write the value as PVE's property string",
            )
        out[str(key)] = int(value) if isinstance(value, bool) else value
    return out


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
