"""Where and how to reach a host: the inventory entry merged with ``~/.ssh/config``.

paramiko never reads ``~/.ssh/config`` itself, so this does what ``ssh`` would: ``HostName``,
``User``, ``Port``, ``IdentityFile`` and ``ProxyJump`` apply unless the inventory sets the
field explicitly (the inventory is the reviewed source of truth). ``Include`` is not supported
by paramiko (#1044); such files are read without their includes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import paramiko

from migrator.errors import ConnectError
from migrator.executors.paramiko_lean import DEFAULT_SSH_CONFIG
from migrator.plan.inventory import Host

__all__ = ["DEFAULT_SSH_CONFIG", "Endpoint", "load_ssh_config", "parse_jump", "resolve_endpoint"]


@dataclass(frozen=True)
class Endpoint:
    """Resolved connection parameters of one host."""

    address: str
    port: int
    user: str
    key_files: tuple[Path, ...]
    agent: bool
    proxy_jump: tuple[Host, ...] = ()  # hops from ~/.ssh/config, first hop first


def load_ssh_config(path: Path | None) -> paramiko.SSHConfig | None:
    if path is None:
        return None
    expanded = path.expanduser()
    if not expanded.exists():
        return None
    try:
        return paramiko.SSHConfig.from_path(str(expanded))
    except (OSError, paramiko.SSHException, ValueError) as exc:
        raise ConnectError(
            f"cannot read SSH config {expanded}: {exc}",
            hint="fix the file or point migrator at another one",
        ) from exc


def parse_jump(spec: str) -> Host:
    """``[user@]host[:port]`` -> a Host with only the given fields set (the rest come from config)."""
    user, _, rest = spec.rpartition("@")
    address, port = rest, None
    if rest.startswith("["):  # [v6addr]:port
        address, _, tail = rest[1:].partition("]")
        port = tail.removeprefix(":") or None
    elif rest.count(":") == 1:
        address, port = rest.split(":")
    fields: dict[str, str | int] = {"address": address}
    if user:
        fields["user"] = user
    if port:
        fields["port"] = int(port)
    return Host.model_validate(fields)


def resolve_endpoint(
    host: Host,
    config: paramiko.SSHConfig | None,
    *,
    base_dir: Path | None = None,
    follow_proxy_jump: bool = True,
) -> Endpoint:
    """Merge ``host`` with the ``Host`` blocks of ``config`` matching its address.

    ``follow_proxy_jump=False`` for the hops of a ProxyJump chain: the chain is already laid out.
    """
    options = config.lookup(host.address) if config is not None else {}
    explicit = host.model_fields_set
    address = options.get("hostname", host.address)
    port = host.port if "port" in explicit or "port" not in options else int(options["port"])
    user = host.user if "user" in explicit or "user" not in options else str(options["user"])
    if host.key:
        key = Path(host.key).expanduser()
        if not key.is_absolute() and base_dir is not None:
            key = base_dir / key
        if not key.exists():
            raise ConnectError(
                f"SSH key {key} for {host.address} does not exist",
                hint="fix `key:` in the inventory (relative paths are relative to the inventory file)",
            )
        keys: tuple[Path, ...] = (key,)
    else:
        # ssh ignores configured identity files that do not exist; so do we.
        keys = tuple(p for p in (Path(f).expanduser() for f in options.get("identityfile", [])) if p.exists())
    hops: tuple[Host, ...] = ()
    jump = options.get("proxyjump")
    if follow_proxy_jump and host.jump is None and jump and jump.lower() != "none":
        hops = tuple(parse_jump(part.strip()) for part in jump.split(","))
    return Endpoint(address, port, user, keys, host.agent, hops)
