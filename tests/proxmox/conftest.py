"""Fixtures for the Proxmox client tests: a fakepve (real HTTPS on 127.0.0.1) with an API token.

The token secret reaches the client the way it does in production: an ``env:`` reference.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from migrator.executors.proxmox import ProxmoxClient
from migrator.plan.inventory import ProxmoxEndpoint
from migrator.secrets import Redactor

TOKEN_ID = "root@pam!migrator"
SECRET = "6f1c2a9e-secret-token-value-4b7d"
SECRET_ENV = "MIGRATOR_TEST_PVE_TOKEN"


@pytest.fixture
def pve(fakepve: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The fakepve with our token registered and its secret in the environment."""
    fakepve.apitokens[TOKEN_ID] = SECRET
    monkeypatch.setenv(SECRET_ENV, SECRET)
    return fakepve


@pytest.fixture
def endpoint(pve: Any, fakepve_cafile: str) -> ProxmoxEndpoint:
    return ProxmoxEndpoint(
        url=pve.url, node="pve1", token_id=TOKEN_ID, token_secret=f"env:{SECRET_ENV}", ca_file=fakepve_cafile
    )


@pytest.fixture
def redactor() -> Redactor:
    return Redactor()


@pytest.fixture
def client(endpoint: ProxmoxEndpoint, redactor: Redactor) -> Iterator[ProxmoxClient]:
    with ProxmoxClient("pve1", endpoint, redactor=redactor, timeout=10) as px:
        yield px
