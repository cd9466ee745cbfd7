"""Inventories: the hosts and Proxmox endpoints of one environment (production, lab).

A plan names hosts (``off1``, ``off2/ct:101``); the inventory says how to reach them. The
same plan runs against production or the lab by swapping the inventory, nothing else.
Secrets (API tokens) are references, ``env:NAME`` or ``file:PATH``, never values.
"""

from __future__ import annotations

import re
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

CONTAINER_TARGET = re.compile(r"^(?P<host>[A-Za-z0-9_.-]+)/ct:(?P<ctid>\d+)$")
LOCAL = "local"


class Environment(StrEnum):
    PRODUCTION = "production"
    STAGING = "staging"
    LAB = "lab"


class Host(BaseModel):
    """One machine reachable over SSH."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    address: str = Field(description="Address or DNS name to connect to.")
    port: int = Field(22, ge=1, le=65535, description="SSH port.")
    user: str = Field("root", description="Login user; steps with sudo: true use sudo when not root.")
    key: str | None = Field(
        None, description="Private key file; when empty, the ssh-agent and ~/.ssh/config."
    )
    agent: bool = Field(True, description="Offer ssh-agent keys.")
    jump: str | None = Field(None, description="Inventory name of a jump host (ProxyJump).")
    known_hosts: str | None = Field(
        None, description="Extra known_hosts file for this host (added to ~/.ssh/known_hosts)."
    )
    role: str | None = Field(None, description="Free text: proxmox, proxy, storage, stunnel-client ...")
    private_ip: str | None = Field(None, description="Address on the private network (vmbr1).")
    public_ip: str | None = Field(None, description="Public address, if any.")
    vars: dict[str, str] = Field(
        default_factory=dict, description="Extra values for {{ hosts.NAME.vars.KEY }}."
    )


class ProxmoxEndpoint(BaseModel):
    """A Proxmox VE API endpoint, reached with an API token over HTTPS."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(description="https://host:8006")
    node: str = Field(description="The PVE node name behind this endpoint.")
    token_id: str = Field(description="user@realm!tokenname")
    token_secret: str = Field(description="Reference to the token secret: env:NAME or file:PATH.")
    ca_file: str | None = Field(None, description="CA certificate to verify the API's TLS certificate.")
    fingerprint: str | None = Field(None, description="Pinned SHA-256 fingerprint of the API certificate.")


class Inventory(BaseModel):
    """The hosts and Proxmox endpoints of one environment."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="Name of the environment's inventory, shown in every run.")
    environment: Environment = Field(description="production, staging or lab (rehearsal).")
    known_hosts: str | None = Field(
        None, description="known_hosts file for every host, relative to this file."
    )
    hosts: dict[str, Host] = Field(default_factory=dict, description="Hosts by the names plans use.")
    proxmox: dict[str, ProxmoxEndpoint] = Field(
        default_factory=dict, description="Proxmox endpoints by host name."
    )

    def resolve_target(self, target: str) -> tuple[str, int | None]:
        """``off2/ct:101`` -> ``("off2", 101)``; ``off1`` -> ``("off1", None)``."""
        match = CONTAINER_TARGET.match(target)
        if match:
            return match["host"], int(match["ctid"])
        return target, None

    def knows(self, target: str) -> bool:
        host, _ = self.resolve_target(target)
        return host == LOCAL or host in self.hosts
