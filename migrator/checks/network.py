"""Network checks: tcp_open, tcp_closed, listening_only_on, http_status.

``listening_only_on`` is the January 2024 invariant: a tunnel client must never listen on
a public or wildcard address. A wildcard socket (``0.0.0.0``, ``[::]``, ``*``) is only
allowed when the plan lists the wildcard itself; a network such as ``0.0.0.0/0`` does not
count, because it is far too easy to write by accident.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from migrator.checks.base import (
    CheckResult,
    CommandProbe,
    ProbeOutput,
    UnreadableOutput,
    check_ran,
    first_line,
    listed,
    sh,
    shorten,
)
from migrator.plan.checks import HttpCheck, ListeningCheck, TcpCheck

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# --- tcp_open / tcp_closed ---------------------------------------------------------------

_TIMEOUT_EXIT = 124  # coreutils timeout: the command timed out
# The connect() errors bash prints for /dev/tcp; anything else is not a TCP answer.
_CLOSED_ERRORS = ("Connection refused", "No route to host", "Network is unreachable", "Connection timed out")
_NAME_ERRORS = ("Name or service not known", "Temporary failure in name resolution", "No address associated")


def _bare_address(address: str) -> str:
    # bash's /dev/tcp takes a bare IPv6 address; [::1] is how people write it in URLs.
    return address[1:-1] if address.startswith("[") and address.endswith("]") else address


def probe_tcp(check: TcpCheck) -> CommandProbe:
    # The address and port go in as positional arguments ($1, $2), never into the script
    # text, so no address can inject shell code into the inner bash.
    script = 'exec 3<>"/dev/tcp/$1/$2"'
    return CommandProbe(
        sh(
            "timeout",
            str(check.timeout),
            "bash",
            "-c",
            script,
            "tcp-probe",
            _bare_address(check.address),
            str(check.port),
        )
    )


def _endpoint(check: TcpCheck) -> str:
    address = _bare_address(check.address)
    return f"[{address}]:{check.port}" if ":" in address else f"{address}:{check.port}"


def describe_tcp(check: TcpCheck) -> str:
    state = "open" if check.kind == "tcp_open" else "closed"
    return f"TCP {_endpoint(check)} is {state}"


def evaluate_tcp(check: TcpCheck, output: ProbeOutput) -> CheckResult:
    want_open = check.kind == "tcp_open"
    expected = "open" if want_open else "closed (refused or no answer)"
    check_ran(output, "bash /dev/tcp", expected=expected)
    endpoint = _endpoint(check)
    if output.exit_code == 0:
        observed, is_open = "open", True
    elif output.exit_code == _TIMEOUT_EXIT:
        observed, is_open = f"no answer within {check.timeout}s", False
    else:
        error = next((e for e in _CLOSED_ERRORS if e in output.stderr), None)
        if error is not None:
            observed, is_open = error[0].lower() + error[1:], False
        elif any(e in output.stderr for e in _NAME_ERRORS):
            # No address to knock on: nothing is known about the port.
            raise UnreadableOutput(f"cannot resolve {_bare_address(check.address)}", expected=expected)
        else:
            detail = first_line(output.stderr) or f"exit {output.exit_code}"
            raise UnreadableOutput(f"the connection attempt gave no TCP answer ({detail})", expected=expected)
    passed = is_open == want_open
    return CheckResult(
        passed, observed, expected, f"{endpoint} {observed}" + ("" if passed else f", expected {expected}")
    )


# --- listening_only_on -------------------------------------------------------------------


@dataclass(frozen=True)
class Listener:
    """One listening socket from ``ss -ltnH``; ``address`` is ``*`` or an IP address."""

    address: str
    port: int
    text: str
    """As ss printed it, e.g. ``[::]:6379``, for the operator."""


_PORT = re.compile(r"^\d{1,5}$")


def parse_ss(stdout: str, *, expected: str) -> list[Listener]:
    """Listening sockets from ``ss -ltnH`` (iproute2 6.x): State Recv-Q Send-Q Local Peer."""
    listeners = []
    for line in stdout.splitlines():
        fields = line.split()
        if not fields:
            continue
        if len(fields) < 5 or fields[0] != "LISTEN":
            raise UnreadableOutput(f"not an `ss -ltnH` line: {shorten(line, 60)!r}", expected=expected)
        local = fields[3]
        host, _, port = local.rpartition(":")
        host = host.split("%", 1)[0]  # 127.0.0.53%lo:53, [fe80::1]%vmbr0:22
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        if not _PORT.match(port) or not host:
            raise UnreadableOutput(f"cannot read the local address {shorten(local, 60)!r}", expected=expected)
        if host != "*":
            try:
                ipaddress.ip_address(host)
            except ValueError as e:
                raise UnreadableOutput(f"{shorten(local, 60)!r} is not an address", expected=expected) from e
        listeners.append(Listener(host, int(port), local))
    return listeners


@dataclass(frozen=True)
class _Allowed:
    addresses: frozenset[IPAddress]
    networks: tuple[IPNetwork, ...]
    v4_wildcard: bool
    v6_wildcard: bool


def _as_address(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None  # not a plain address; the caller tries it as a network


def _parse_allowed(entries: list[str]) -> _Allowed | str:
    """The allowed list, or the text of the first entry that is neither address nor network."""
    addresses: set[IPAddress] = set()
    networks: list[IPNetwork] = []
    star = False
    for entry in entries:
        text = entry.strip().removeprefix("[").removesuffix("]")
        if text == "*":
            star = True
            continue
        address = _as_address(text)
        if address is not None:
            addresses.add(address)
            continue
        try:
            networks.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            return entry
    return _Allowed(
        frozenset(addresses),
        tuple(networks),
        star or ipaddress.IPv4Address("0.0.0.0") in addresses,
        star or ipaddress.IPv6Address("::") in addresses,
    )


def _is_allowed(listener: Listener, allowed: _Allowed) -> bool:
    if listener.address == "*":  # dual-stack wildcard: every IPv4 and IPv6 address
        return allowed.v4_wildcard and allowed.v6_wildcard
    address: IPAddress = ipaddress.ip_address(listener.address)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_unspecified:
        return allowed.v4_wildcard if address.version == 4 else allowed.v6_wildcard
    return address in allowed.addresses or any(
        address.version == network.version and address in network for network in allowed.networks
    )


def probe_listening(check: ListeningCheck) -> CommandProbe:
    return CommandProbe("ss -ltnH")


def _ports_text(ports: list[int]) -> str:
    return ", ".join(str(p) for p in ports)


def describe_listening(check: ListeningCheck) -> str:
    scope = f"ports {_ports_text(check.ports)}" if check.ports else "every TCP listener"
    return shorten(f"{scope} listen only on {', '.join(check.allowed)}", 100)


def evaluate_listening(check: ListeningCheck, output: ProbeOutput) -> CheckResult:
    expected = f"only on {', '.join(check.allowed)}"
    if check.ports:
        expected = f"port {_ports_text(check.ports)} {expected}"
    if check.must_listen:
        expected += ", and listening"
    expected = shorten(expected)
    check_ran(output, "ss", expected=expected)
    if output.exit_code != 0:
        detail = first_line(output.stderr) or f"exit {output.exit_code}"
        raise UnreadableOutput(f"`ss -ltnH` failed ({detail})", expected=expected)
    allowed = _parse_allowed(check.allowed)
    if isinstance(allowed, str):
        raise UnreadableOutput(
            f"allowed entry {allowed!r} is neither an address nor a network", expected=expected
        )

    listeners = [
        listener
        for listener in parse_ss(output.stdout, expected=expected)
        if not check.ports or listener.port in check.ports
    ]
    wrong = [listener for listener in listeners if not _is_allowed(listener, allowed)]
    if wrong:
        texts = [_with_wildcard_note(listener) for listener in wrong]
        observed = shorten(listed(texts))
        return CheckResult(False, observed, expected, f"listening where it must not: {observed}")
    if check.must_listen and not listeners:
        where = f"on port {_ports_text(check.ports)}" if check.ports else "at all"
        return CheckResult(False, f"nothing listening {where}", expected, f"nothing is listening {where}")
    observed = shorten(listed([listener.text for listener in listeners])) or "nothing listening"
    return CheckResult(True, observed, expected, f"listening only on allowed addresses: {observed}")


def _with_wildcard_note(listener: Listener) -> str:
    if listener.address == "*" or ipaddress.ip_address(listener.address).is_unspecified:
        return f"{listener.text} (wildcard)"
    return listener.text


# --- http_status -------------------------------------------------------------------------

_HTTP_CODE = re.compile(r"^\d{3}$")
_CURL_MAX_TIME = 30  # seconds: a check must not hang a maintenance window
# curl exits that mean the request never left: 2 init failed, 3 malformed URL, 5 proxy name
# and 6 host name not resolved.
_CURL_NO_REQUEST = frozenset({2, 3, 5, 6})


def probe_http(check: HttpCheck) -> CommandProbe:
    # --globoff: a URL is taken literally ([::1] and {} are not curl globs).
    argv = [
        "curl",
        "-sS",
        "--globoff",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "--max-time",
        str(_CURL_MAX_TIME),
    ]
    if check.host_header:
        argv += ["-H", f"Host: {check.host_header}"]
    # `--` ends curl's options: a URL can never be read as one.
    return CommandProbe(sh(*argv, "--", check.url))


def describe_http(check: HttpCheck) -> str:
    via = f" (Host: {check.host_header})" if check.host_header else ""
    return shorten(f"GET {check.url}{via} answers {check.status}", 120)


def evaluate_http(check: HttpCheck, output: ProbeOutput) -> CheckResult:
    expected = f"HTTP {check.status}"
    check_ran(output, "curl", expected=expected)
    code = output.stdout.strip()
    if not _HTTP_CODE.match(code):
        raise UnreadableOutput(f"curl printed no status code ({shorten(code, 40)!r})", expected=expected)
    if code == "000" or output.exit_code != 0:
        error = shorten(first_line(output.stderr) or f"curl exit {output.exit_code}", 120)
        if output.exit_code in _CURL_NO_REQUEST:
            # curl never sent the request (bad URL, name not resolved): no answer about the URL.
            raise UnreadableOutput(f"curl sent no request ({error})", expected=expected)
        # Refused, timed out, TLS failure: the URL does not answer as expected.
        return CheckResult(False, f"no answer: {error}", expected, f"{check.url}: {error}")
    passed = int(code) == check.status
    observed = f"HTTP {code}"
    message = f"{check.url} answered {code}" + ("" if passed else f", expected {check.status}")
    return CheckResult(passed, observed, expected, message)
