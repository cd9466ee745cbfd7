"""Fake ``pct set`` and ``pct destroy``: root's changes to a container, through the host's API.

On a Proxmox node ``pct`` runs as root@pam, which may do what an API token may not (bind
mount points: "Only root can pass arbitrary filesystem paths."). So these log in to the
host's fakepve as root@pam (a ticket, the password from the lab's file) instead of using
the token, and change the guest there; the host's /etc/pve/lxc/VMID.conf follows.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from migrator.lab.standins.context import Context, ToolError


def _config(ctx: Context) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (ctx.lab_dir / "hosts" / ctx.host_name / "pve" / "config.json").read_text()
    )
    return data


def _call(
    config: dict[str, Any], method: str, path: str, params: dict[str, str], auth: dict[str, str]
) -> Any:
    body = urllib.parse.urlencode(params).encode() if params else None
    request = urllib.request.Request(
        f"https://{config['address']}:{config['port']}/api2/json{path}",
        data=body,
        method=method,
        headers=auth,
    )
    context = ssl.create_default_context(cafile=config["cert"])
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as answer:
            return json.loads(answer.read())["data"]
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")
        try:
            errors = json.loads(detail).get("errors") or {}
            message = "; ".join(f"{k}: {v}" for k, v in errors.items()) or exc.reason
        except ValueError:
            message = exc.reason or detail
        raise ToolError(str(message), 255) from exc
    except urllib.error.URLError as exc:
        raise ToolError(f"ipcc_send_rec[1] failed: {exc.reason}", 255) from exc


def _as_root(config: dict[str, Any]) -> dict[str, str]:
    password = Path(config["password_file"]).read_text(encoding="utf-8").strip()
    ticket = _call(config, "POST", "/access/ticket", {"username": "root@pam", "password": password}, {})
    return {
        "Cookie": f"PVEAuthCookie={ticket['ticket']}",
        "CSRFPreventionToken": ticket["CSRFPreventionToken"],
    }


def _options(words: list[str]) -> dict[str, str]:
    """``-mp0 X --protection 0`` -> {"mp0": "X", "protection": "0"}."""
    result: dict[str, str] = {}
    while words:
        key = words.pop(0)
        if not key.startswith("-") or not words:
            raise ToolError(f"400 unable to parse option '{key}'", 255)
        result[key.lstrip("-")] = words.pop(0)
    return result


def pct_set(ctx: Context, vmid: str, words: list[str]) -> int:
    config = _config(ctx)
    auth = _as_root(config)
    params = _options(list(words))
    _call(config, "PUT", f"/nodes/{ctx.name}/lxc/{vmid}/config", params, auth)
    return 0


def pct_destroy(ctx: Context, vmid: str) -> int:
    config = _config(ctx)
    auth = _as_root(config)
    _call(config, "DELETE", f"/nodes/{ctx.name}/lxc/{vmid}", {}, auth)  # pct destroy prints nothing
    return 0


def pct_admin(ctx: Context) -> int:
    command, rest = ctx.args[0], ctx.args[1:]
    if not rest:
        raise ToolError(f"400 not enough arguments\npct {command} <vmid> [OPTIONS]", 255)
    if command == "set":
        return pct_set(ctx, rest[0], rest[1:])
    return pct_destroy(ctx, rest[0])
