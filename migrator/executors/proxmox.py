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
* Certificate rules live in :mod:`migrator.executors.pvetls`, error translation in
  :mod:`migrator.executors.proxmox_errors`; their public names are importable from here too.
* **Tasks are waited for by our own poller** (:mod:`migrator.executors.pvetasks`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from proxmoxer import AuthenticationError, ProxmoxAPI, ResourceException

from migrator.errors import (
    ConnectError,
    NoSuchGuest,
    OutcomeUnknown,
    PlanError,
    ProxmoxApiError,
    ProxmoxError,
    TaskFailed,
)
from migrator.executors.proxmox_errors import MISSING_GUEST, ErrorTranslator, may_have_arrived
from migrator.executors.pvetasks import is_upid, never, nothing
from migrator.executors.pvetasks import wait_task as poll_task
from migrator.executors.pvetls import PinnedCertAdapter, normalise_fingerprint, pin_session, verify_setting
from migrator.plan.inventory import Inventory, ProxmoxEndpoint
from migrator.plan.model import ProxmoxCall
from migrator.secrets import Redactor, resolve

__all__ = [
    "CONNECT_TIMEOUT",
    "METHODS",
    "MISSING_GUEST",
    "CallOutcome",
    "NoSuchGuest",
    "PinnedCertAdapter",
    "ProxmoxApiError",
    "ProxmoxClient",
    "normalise_fingerprint",
    "open_client",
]
METHODS = ("GET", "POST", "PUT", "DELETE")
CONNECT_TIMEOUT = 10.0  # seconds to open the TCP+TLS connection; ``timeout`` bounds each answer


@dataclass
class CallOutcome:
    """What one plan call did: the API's data, and for a task its UPID, exit status and log."""

    data: Any
    upid: str | None = None
    exitstatus: str | None = None
    log_lines: list[str] = field(default_factory=list)


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
        self._errors = ErrorTranslator(endpoint, self._where, timeout, redactor)
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
            verify_ssl=verify_setting(endpoint, where=self._where),
            timeout=(min(CONNECT_TIMEOUT, timeout), timeout),
        )
        # proxmoxer builds the session in its constructor and offers no hook for an adapter.
        self._session: requests.Session = self._api._store["session"]
        pin_session(self._session, endpoint)

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
            raise self._errors.api_error(exc, verb, rel) from exc
        except AuthenticationError as exc:
            raise self._errors.token_rejected(verb, rel) from exc
        except requests.RequestException as exc:
            raise self._errors.connect_error(exc) from exc
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
        try:
            data = self.call(call.method, call.path, call.params)
        except ConnectError as exc:
            if call.method.upper() == "GET" or not may_have_arrived(exc):
                raise
            raise OutcomeUnknown(
                f"{call.method} {call.path}: the request was sent but no answer came ({exc.message})",
                where=self._where,
                hint="the call may or may not have been carried out: its post-checks (or you) must tell",
            ) from exc
        if not is_upid(data):
            return CallOutcome(data)
        if not call.wait_task:
            return CallOutcome(data, upid=data)
        lines: list[str] = []

        def keep(line: str) -> None:
            lines.append(line)
            on_log(line)

        try:
            status = self.wait_task(data, timeout=timeout, poll=poll, on_log=keep, cancel=cancel)
        except TaskFailed:  # the task ended not OK (or was stopped): a definite failure
            raise
        except (ConnectError, ProxmoxError) as exc:  # the task runs on whatever our watching does
            raise OutcomeUnknown(
                f"lost sight of task {data} ({exc.message}); it may still be running, or have ended",
                where=self._where,
                hint="see the task under Datacenter > Tasks; its post-checks settle the step on resume",
            ) from exc
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
