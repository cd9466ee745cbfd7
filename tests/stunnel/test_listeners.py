"""Live state against the config: ``ss -ltnH`` parsing and listening_problems (invariant 3)."""

from __future__ import annotations

from migrator.stunnel.model import HostPort
from migrator.stunnel.parse_ss import parse_ss_listeners
from migrator.stunnel.validate import listening_problems

CLIENT_CONFIG = """\
foreground = yes
pid = /var/run/stunnel-off/stunnel.pid

[MongoDB]
client = yes
accept = 10.1.0.113:27017
connect = proxy2.openfoodfacts.org:27017

[OffRedis]
client = yes
accept = 10.1.0.113:6379
connect = proxy2.openfoodfacts.org:6379
"""

SERVER_CONFIG = """\
[MongoDB]
client = no
accept = 27017
connect = 10.1.0.102:27017

[Robotoff]
client = no
accept = :::16000
connect = 10.3.0.200:5500
"""

SS_HEADER = "State  Recv-Q Send-Q Local Address:Port  Peer Address:Port Process\n"


def ss(*lines: str) -> str:
    return "\n".join(f"LISTEN 0      4096   {line}" for line in lines) + "\n"


def test_parse_ss_forms() -> None:
    text = SS_HEADER + ss(
        '10.1.0.113:27017 0.0.0.0:* users:(("stunnel4",pid=712,fd=9))',
        "[::]:16000 [::]:*",
        "*:8087 *:*",
        "127.0.0.53%lo:53 0.0.0.0:*",
        "[fe80::1]%eth0:22 [::]:*",
    ) + "ESTAB 0 0 10.1.0.113:27017 10.1.0.200:51234\n"
    found = parse_ss_listeners(text)
    assert [(ln.address, ln.process) for ln in found] == [
        (HostPort("10.1.0.113", 27017), "stunnel4"),
        (HostPort("::", 16000), None),
        (HostPort("*", 8087), None),
        (HostPort("127.0.0.53", 53), None),
        (HostPort("fe80::1", 22), None),
    ]


def test_matching_listeners_give_no_problem() -> None:
    live = ss("10.1.0.113:27017 0.0.0.0:*", "10.1.0.113:6379 0.0.0.0:*", "0.0.0.0:22 0.0.0.0:*")
    assert listening_problems(live, CLIENT_CONFIG) == []


def test_server_bare_port_and_dual_stack_forms_match() -> None:
    live = ss("0.0.0.0:27017 0.0.0.0:*", "*:16000 *:*")
    assert listening_problems(live, SERVER_CONFIG) == []


def test_the_incident_live_state_is_reported() -> None:
    # the config was fixed to 10.1.0.113, the restart never happened: still 0.0.0.0:27017
    live = ss("0.0.0.0:27017 0.0.0.0:*", "10.1.0.113:6379 0.0.0.0:*")
    found = listening_problems(live, CLIENT_CONFIG, host="ovh1/ct:101")
    assert [p.message for p in found] == [
        "live listener 0.0.0.0:27017 binds every interface for a client service "
        "(MongoDB was exposed and wiped this way in January 2024)",
        "declared accept 10.1.0.113:27017 is not listening",
    ]
    assert found[0].service == "MongoDB" and found[0].host == "ovh1/ct:101"


def test_undeclared_stunnel_listener_is_reported() -> None:
    live = ss("10.1.0.113:27017 0.0.0.0:*", "10.1.0.113:6379 0.0.0.0:*",
              '10.1.0.113:8086 0.0.0.0:* users:(("stunnel4",pid=712,fd=11))',
              '0.0.0.0:22 0.0.0.0:* users:(("sshd",pid=90,fd=3))')
    found = listening_problems(live, CLIENT_CONFIG)
    assert [p.message for p in found] == ["live listener 10.1.0.113:8086 is not declared in the config"]


def test_declared_but_not_listening() -> None:
    found = listening_problems(ss("10.1.0.113:27017 0.0.0.0:*"), CLIENT_CONFIG)
    assert [(p.service, p.message) for p in found] == [
        ("OffRedis", "declared accept 10.1.0.113:6379 is not listening")]
