"""The tunnel inventory: which stunnel TLS-PSK tunnels exist, on which hosts, with which addresses.

A tunnel carries one clear-text TCP service (MongoDB, Redis, ...) between data centres:

* the **server** side (``client = no``) runs on a public reverse proxy, accepts TLS-PSK
  connections and forwards them to the service on the private network;
* each **client** side (``client = yes``) runs in a dedicated internal container, accepts
  clear-text connections from consumers on a private (or loopback) address and forwards them,
  wrapped in TLS-PSK, to the server's public name.

Host names are the plan inventory's targets (``off2/ct:101``). The facts the safety invariants
need (is a host public, which are its public addresses) are part of this file, so that
:mod:`migrator.stunnel.validate` can decide without contacting anything.

PSK secrets are references (``env:NAME`` or ``file:PATH``), never values. The model accepts any
string there so that the validator can report a bad reference with its line; the same holds for
bare-port accepts, which are well-formed but unsafe on a client.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, field_validator

SERVICE_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
PSK_NAME = r"^[a-z0-9][a-z0-9_.-]*$"
# stunnel splits "identity:key" at the first colon; whitespace would be kept in the identity.
PSK_IDENTITY = r"^[A-Za-z0-9][A-Za-z0-9_.@-]*$"
HOST_TARGET = re.compile(r"^[A-Za-z0-9_.-]+(/ct:\d+)?$")
WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", "*"})


@dataclass(frozen=True)
class HostPort:
    """An ``accept``/``connect`` value split into host (None for a bare port) and port."""

    host: str | None
    port: int

    @property
    def is_wildcard(self) -> bool:
        """True when it binds every interface: a bare port, 0.0.0.0, :: or *."""
        return self.host is None or self.host in WILDCARD_HOSTS

    def ip(self) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
        """The host as an IP address, or None for a bare port or a DNS name."""
        if self.host is None or self.host == "*":
            return None
        try:
            return ipaddress.ip_address(self.host)
        except ValueError:
            return None


def split_host_port(text: str) -> HostPort:
    """``10.1.0.113:27017``, ``:::16000``, ``[::1]:16000``, ``27017`` -> HostPort.

    stunnel's own syntax is ``[host:]port`` and splits at the last colon, so ``:::16000`` is
    host ``::`` port 16000; brackets are accepted too. Raises ValueError when malformed.
    """
    value = text.strip()
    if value.isdigit():
        host: str | None = None
        port_text = value
    else:
        host, sep, port_text = value.rpartition(":")
        if not sep or not host:
            raise ValueError(f"'{text}' is not [host:]port")
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ValueError(f"'{text}' has no valid port (1-65535)")
    return HostPort(host, int(port_text))


def _address(value: object) -> object:
    # YAML reads a bare port as an int; keep it as text so it renders exactly as written.
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str):
        split_host_port(value)
    return value


Address = Annotated[
    str,
    BeforeValidator(_address),
    # A bare port is read by YAML as a number: the schema says so too.
    WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "integer", "minimum": 1, "maximum": 65535}]}),
    Field(description="stunnel [host:]port, e.g. 10.1.0.113:27017, :::16000 or a bare port 27017."),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_target(value: str) -> str:
    if not HOST_TARGET.match(value):
        raise ValueError(f"'{value}' is not a host target like off2 or off2/ct:101")
    return value


class HostFacts(_Strict):
    """What the safety invariants need to know about one host."""

    public: bool = Field(description="True when the host has a public interface (a reverse proxy).")
    public_addresses: list[str] = Field(
        default_factory=list,
        description="Public IPs and DNS names of the host; clients connect to one of these.",
    )
    private_addresses: list[str] = Field(
        default_factory=list, description="Private (or lab loopback) addresses of the host."
    )
    note: str | None = Field(None, description="Free text: role, where the facts come from.")

    @property
    def is_public(self) -> bool:
        """Public if declared so or if it has any public address (either is enough to refuse a client)."""
        return self.public or bool(self.public_addresses)


class ServerSide(_Strict):
    """The client = no end: on a public proxy, TLS-PSK in, clear text out to the service."""

    host: str = Field(description="Host target from the plan inventory, e.g. off2/ct:101.")
    accept: Address
    connect: Address

    _target = field_validator("host")(_check_target)


class ClientSide(_Strict):
    """A client = yes end: in an internal container, clear text in, TLS-PSK out to the server."""

    host: str = Field(description="Host target from the plan inventory, e.g. ovh1/ct:113.")
    accept: Address
    connect: Address
    public_host_exception: str | None = Field(
        None,
        description=(
            "Why this client may run on a public host. Only honoured with a loopback accept "
            "(the ovh1 proxy's Robotoff client: only that CT had IPv6)."
        ),
    )

    _target = field_validator("host")(_check_target)


class Psk(_Strict):
    """The pre-shared key of a tunnel: identity and a reference to the key, never the key."""

    name: str = Field(
        pattern=PSK_NAME,
        description="File stem on the hosts: /etc/stunnel/psk/<name>-psk.txt (e.g. mongodb, redis).",
    )
    identity: str = Field(
        pattern=PSK_IDENTITY, description="PSK identity; unique per server and per service."
    )
    secret: str = Field(description="Reference to the key: env:NAME or file:PATH. Never the value.")


class Tunnel(_Strict):
    """One service carried over stunnel: one server side, one or more client sides."""

    service: str = Field(pattern=SERVICE_NAME, description="Service and section name, e.g. MongoDB.")
    description: str | None = Field(None, description="Free text: what it carries, for whom.")
    server: ServerSide
    clients: list[ClientSide] = Field(min_length=1, description="The client = yes ends.")
    psk: Psk


class TunnelInventory(_Strict):
    """A tunnel inventory file (plans/tunnels.yaml, plans/tunnels.lab.yaml)."""

    name: str = Field(description="What this inventory describes, e.g. production.")
    hosts: dict[str, HostFacts] = Field(description="Facts about every host a tunnel end runs on.")
    tunnels: list[Tunnel] = Field(description="The tunnels.")

    @field_validator("hosts")
    @classmethod
    def _host_names(cls, value: dict[str, HostFacts]) -> dict[str, HostFacts]:
        for name in value:
            _check_target(name)
        return value

    def host_names(self) -> list[str]:
        """Every host with at least one tunnel end, sorted."""
        names = {t.server.host for t in self.tunnels}
        names.update(c.host for t in self.tunnels for c in t.clients)
        return sorted(names)
