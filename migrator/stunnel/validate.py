"""The stunnel invariants, checked on the tunnel inventory and on the live listeners.

Why (off-facts §5, the January 2024 incident): a ``client = yes`` section with
``accept = 27017`` - a bare port - was put on the ovh1 reverse proxy. It bound every interface,
the public one included; a later fix was never applied by a restart; MongoDB (no auth) was
reachable from the internet, was dropped and ransomed. The rules below would have refused it:

1. every client ``accept`` names an explicit loopback or private IP - never a bare port,
   0.0.0.0, ``::``, ``*``, a DNS name or a public address;
2. client ends only on hosts with no public interface (one documented exception, loopback only);
3. PSK identities unique per server and per service;
4. one section per service and host (the duplicated ``[Robotoff]`` drift);
5. no two services accepting on the same address:port of one host;
6. PSK secrets are references (env:/file:), never values;
7. client ``connect`` goes to the server's public name and its accept port.

:func:`listening_problems` proves the live state: ``ss -ltnH`` listeners against a config.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from dataclasses import dataclass

from migrator.secrets import is_reference
from migrator.stunnel.conffile import parse_config
from migrator.stunnel.model import (
    ClientSide,
    HostPort,
    ServerSide,
    Tunnel,
    TunnelInventory,
    split_host_port,
)
from migrator.stunnel.parse_ss import Listener, parse_ss_listeners

PathKey = tuple[str | int, ...]

INCIDENT = "MongoDB was exposed and wiped this way in January 2024"


@dataclass(frozen=True)
class Problem:
    """One broken rule: what, for which service on which host, what to do, where in the file."""

    message: str
    service: str | None = None
    host: str | None = None
    hint: str | None = None
    path: PathKey = ()

    def describe(self) -> str:
        """``service X on host H: message (hint)`` - the CLI prefixes FILE:LINE."""
        who = " ".join(part for part in (
            f"service {self.service}" if self.service else "",
            f"on host {self.host}" if self.host else "",
        ) if part)
        text = f"{who}: {self.message}" if who else self.message
        return f"{text} ({self.hint})" if self.hint else text


def _all_public_addresses(inventory: TunnelInventory) -> set[str]:
    found: set[str] = set()
    for facts in inventory.hosts.values():
        for address in facts.public_addresses:
            found.add(address)
            try:
                found.add(str(ipaddress.ip_address(address)))
            except ValueError:
                continue  # a DNS name: kept as written
    return found


def client_accept_problem(accept: HostPort, public: set[str]) -> str | None:
    """Why a client accept breaks invariant 1, or None when it is an explicit private/loopback IP."""
    if accept.host is None:
        return f"client accept is a bare port ({accept.port}): it binds every interface"
    if accept.is_wildcard:
        return f"client accept {accept.host}:{accept.port} binds every interface"
    ip = accept.ip()
    if ip is None:
        return f"client accept host '{accept.host}' is not an IP address: it may resolve to a public one"
    if str(ip) in public:
        return f"client accept {ip} is a public address of a host"
    if ip.is_loopback or (ip.is_private and not ip.is_link_local):
        return None
    return f"client accept {ip} is not a private or loopback address"


def _check_client(inventory: TunnelInventory, service: str, path: PathKey, client: ClientSide,
                  public: set[str]) -> list[Problem]:
    problems: list[Problem] = []
    accept = split_host_port(client.accept)
    reason = client_accept_problem(accept, public)
    if reason:
        problems.append(Problem(
            f"{reason} ({INCIDENT})", service, client.host,
            "write an explicit private address, e.g. 10.1.0.113:27017, or 127.0.0.1:PORT",
            (*path, "accept")))
    facts = inventory.hosts.get(client.host)
    if facts is not None and facts.is_public:
        loopback = (ip := accept.ip()) is not None and ip.is_loopback
        if client.public_host_exception is None:
            problems.append(Problem(
                f"client end on a public host ({INCIDENT})", service, client.host,
                "move the client to an internal stunnel-client CT with a private IP", (*path, "host")))
        elif not loopback:
            problems.append(Problem(
                "public_host_exception only holds for a loopback accept", service, client.host,
                "accept on 127.0.0.1:PORT or move the client to an internal CT", (*path, "accept")))
    return problems


def _check_connect(inventory: TunnelInventory, tunnel: Tunnel, path: PathKey,
                   client: ClientSide) -> list[Problem]:
    service, server = tunnel.service, tunnel.server
    connect = split_host_port(client.connect)
    server_accept = split_host_port(server.accept)
    problems: list[Problem] = []
    if connect.port != server_accept.port:
        problems.append(Problem(
            f"client connects to port {connect.port} but the server accepts on {server_accept.port}",
            service, client.host, "make the client connect port match the server accept port", path))
    facts = inventory.hosts.get(server.host)
    if facts is not None and facts.public_addresses:
        known = {a.lower() for a in facts.public_addresses}
        ip = connect.ip()
        if (connect.host or "").lower() not in known and (ip is None or str(ip) not in known):
            problems.append(Problem(
                f"client connects to '{connect.host}', not a public address of server {server.host}",
                service, client.host,
                f"use one of: {', '.join(facts.public_addresses)} (drift like ::102 vs ::103)", path))
    return problems


def _check_hosts_known(inventory: TunnelInventory) -> list[Problem]:
    problems = []
    for i, tunnel in enumerate(inventory.tunnels):
        ends: list[tuple[PathKey, str]] = [(("tunnels", i, "server", "host"), tunnel.server.host)]
        ends += [(("tunnels", i, "clients", j, "host"), c.host) for j, c in enumerate(tunnel.clients)]
        problems += [
            Problem(f"host '{host}' has no entry under hosts:", tunnel.service, host,
                    "add its facts (public: true/false, public_addresses) so the invariants can be checked",
                    path)
            for path, host in ends if host not in inventory.hosts
        ]
    return problems


def _check_identities(inventory: TunnelInventory) -> list[Problem]:
    problems = []
    seen: dict[str, tuple[str, str]] = {}
    for i, tunnel in enumerate(inventory.tunnels):
        identity, server = tunnel.psk.identity, tunnel.server.host
        if identity in seen:
            other_service, other_server = seen[identity]
            where = f"on the same server {server}" if other_server == server else f"on server {other_server}"
            problems.append(Problem(
                f"PSK identity '{identity}' is also used by service {other_service} {where}",
                tunnel.service, server, "identities must be unique per server and per service",
                ("tunnels", i, "psk", "identity")))
        else:
            seen[identity] = (tunnel.service, server)
    return problems


def _check_sections_and_ports(inventory: TunnelInventory) -> list[Problem]:
    problems = []
    sections: dict[tuple[str, str], PathKey] = {}
    accepts: dict[str, list[tuple[HostPort, str]]] = defaultdict(list)
    for i, tunnel in enumerate(inventory.tunnels):
        ends: list[tuple[PathKey, ServerSide | ClientSide]] = [(("tunnels", i, "server"), tunnel.server)]
        ends += [(("tunnels", i, "clients", j), c) for j, c in enumerate(tunnel.clients)]
        for path, end in ends:
            key = (end.host, tunnel.service)
            if key in sections:
                problems.append(Problem(
                    f"a second [{tunnel.service}] section on this host", tunnel.service, end.host,
                    "one section per service and host: stunnel keeps both and they conflict "
                    "(the duplicated [Robotoff] drift)", (*path, "host")))
                continue
            sections[key] = path
            accept = split_host_port(end.accept)
            for other, other_service in accepts[end.host]:
                if _same_socket(accept, other):
                    problems.append(Problem(
                        f"accept {end.accept} clashes with service {other_service} on the same host",
                        tunnel.service, end.host, "give each service its own address:port",
                        (*path, "accept")))
            accepts[end.host].append((accept, tunnel.service))
    return problems


def _normal_host(host: str | None) -> str:
    """Comparable host text: a bare port is 0.0.0.0 (what stunnel binds), ss's ``*`` is ``::``."""
    if host is None:
        return "0.0.0.0"
    if host == "*":
        return "::"
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return host.lower()


def _same_socket(a: HostPort, b: HostPort) -> bool:
    if a.port != b.port:
        return False
    ha, hb = _normal_host(a.host), _normal_host(b.host)
    # "::" is dual-stack (takes IPv4 too); 0.0.0.0 takes every IPv4 address.
    if "::" in (ha, hb) or ha == hb:
        return True
    if "0.0.0.0" in (ha, hb):
        other = hb if ha == "0.0.0.0" else ha
        return ":" not in other
    return False


def validate_tunnels(inventory: TunnelInventory) -> list[Problem]:
    """Every broken rule of the inventory, in file order within each rule."""
    public = _all_public_addresses(inventory)
    problems = _check_hosts_known(inventory)
    for i, tunnel in enumerate(inventory.tunnels):
        if not is_reference(tunnel.psk.secret):
            # never echo the value: it may be the key itself
            problems.append(Problem(
                "PSK secret is not a reference (env:NAME or file:PATH)", tunnel.service, tunnel.server.host,
                "store the key outside the inventory and write file:/etc/migrator/psk/<name>.txt",
                ("tunnels", i, "psk", "secret")))
        for j, client in enumerate(tunnel.clients):
            path: PathKey = ("tunnels", i, "clients", j)
            problems += _check_client(inventory, tunnel.service, path, client, public)
            problems += _check_connect(inventory, tunnel, (*path, "connect"), client)
    problems += _check_identities(inventory)
    problems += _check_sections_and_ports(inventory)
    return problems


def listening_problems(ss_output: str, rendered_config: str, *, host: str | None = None) -> list[Problem]:
    """Compare live ``ss -ltnH`` (or ``-ltnpH``) listeners with a config (invariant 3).

    Listeners considered: those on a port the config accepts on, and, when ``ss -p`` named
    the process, every stunnel listener. Reported: a listener the config does not declare
    (an old instance or an unapplied restart), a declared accept that is not listening, and a
    wildcard listener on a client service's port.
    """
    config = parse_config(rendered_config)
    declared: list[tuple[HostPort, str, bool]] = []
    for section in config.sections:
        if section.accept is None:
            continue
        try:
            declared.append((split_host_port(section.accept), section.name, section.is_client))
        except ValueError:
            continue  # a malformed accept is parse_check's business, not a listener's
    ports = {hp.port for hp, _, _ in declared}
    client_ports = {hp.port: name for hp, name, client in declared if client}
    listeners = [
        ln for ln in parse_ss_listeners(ss_output)
        if ln.address.port in ports or (ln.process is not None and "stunnel" in ln.process)
    ]
    problems: list[Problem] = []
    for listener in listeners:
        shown = listener.shown
        if listener.address.is_wildcard and listener.address.port in client_ports:
            problems.append(Problem(
                f"live listener {shown} binds every interface for a client service ({INCIDENT})",
                client_ports[listener.address.port], host,
                "fix the accept to a private address, restart stunnel@off, and probe the public IP"))
        elif not any(_listener_matches(listener, hp) for hp, _, _ in declared):
            problems.append(Problem(
                f"live listener {shown} is not declared in the config", None, host,
                "an old stunnel still runs or the last restart was not applied: restart stunnel@off"))
    for accept, service, _ in declared:
        if not any(_listener_matches(ln, accept) for ln in listeners):
            problems.append(Problem(
                f"declared accept {_show(accept)} is not listening", service, host,
                "stunnel@off was not restarted or could not bind: journalctl -u stunnel@off"))
    return problems


def _listener_matches(listener: Listener, accept: HostPort) -> bool:
    if listener.address.port != accept.port:
        return False
    return _normal_host(listener.address.host) == _normal_host(accept.host)


def _show(address: HostPort) -> str:
    if address.host is None:
        return str(address.port)
    return f"[{address.host}]:{address.port}" if ":" in address.host else f"{address.host}:{address.port}"
