"""The three stunnel actions against the real sshd, real files and a real stunnel."""

from __future__ import annotations

import hashlib
import socket
import stat
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from migrator.errors import ExecutorError, SecretError
from migrator.executors.base import StepContext
from migrator.executors.stunnel_step import StunnelSteps
from migrator.secrets import Redactor
from migrator.stunnel.render import CONFIG_PATH, DROPIN_PATH
from tests.stunnel_plan.conftest import CLIENT_IP, TEST_KEY, StunnelLab

PSK = "/etc/stunnel/psk/mongodb-psk.txt"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _key(lab: StunnelLab, host: str) -> str:
    return lab.file(host, PSK).read_text().strip().partition(":")[2]


def _shown(lab: StunnelLab, outcome: Any) -> str:
    """Everything the step let out: what the engine stores and what the operator saw."""
    return "\n".join([outcome.summary, outcome.evidence or "", outcome.stdout,
                      *outcome.values.values(), *lab.lines.seen])


def test_psk_from_the_reference_is_written_identical_on_both_ends_and_never_shown(lab: StunnelLab) -> None:
    outcome = lab.run("srv", action="psk", service="MongoDB")

    assert outcome.ok, outcome.summary
    server, client = lab.file("srv", PSK), lab.file("cli", PSK)
    assert _sha(server) == _sha(client)
    assert server.read_text().startswith("test-mongodb:")
    for path in (server, client):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    key = _key(lab, "srv")
    assert key == TEST_KEY  # the reference's value is what gets deployed, not a generated key
    assert outcome.values["psk_fingerprint"] == "sha256:" + _sha(server)[:16]
    assert outcome.values["psk_server"] == "written"
    assert outcome.values["psk_written_to"] == "cli"
    assert key not in _shown(lab, outcome)
    assert lab.redactor(f"key={key}") == "key=***"

    again = lab.run("srv", action="psk", service="MongoDB")
    assert again.ok
    assert (again.values["psk_server"], again.values["psk_written_to"]) == ("kept", "")
    assert again.values["psk_fingerprint"] == outcome.values["psk_fingerprint"]
    assert _key(lab, "srv") == key


def test_psk_of_a_drifted_client_is_replaced_by_the_servers(lab: StunnelLab) -> None:
    lab.run("srv", action="psk", service="MongoDB")
    client = lab.file("cli", PSK)
    client.write_text("test-mongodb:AnOldKeyThatNoLongerMatches00\n")
    client.chmod(0o644)
    # a fresh executor and redactor (a resumed run): the server's key is not known to it yet
    redactor = Redactor()
    fresh = StunnelSteps(lab.connections.for_target, redactor, plan_dir=lab.dir, options=lab.steps.options)
    outcome = fresh.run(lab.step("t-psk", "srv", action="psk", service="MongoDB"), _ctx(lab))

    assert outcome.ok, outcome.summary
    assert outcome.values["psk_written_to"] == "cli"
    assert _sha(client) == _sha(lab.file("srv", PSK))
    assert stat.S_IMODE(client.stat().st_mode) == 0o600
    key = _key(lab, "srv")
    assert key not in _shown(lab, outcome)
    assert redactor(key) == "***"  # read into memory only, and masked from then on


def test_a_server_psk_that_disagrees_with_the_reference_stops_the_step_with_fingerprints_only(
    lab: StunnelLab,
) -> None:
    server = lab.file("srv", PSK)
    server.parent.mkdir(parents=True)
    theirs = "TheServersOwnOlderKey0123456789ab"
    server.write_text(f"test-mongodb:{theirs}\n")
    before = server.read_bytes()

    with pytest.raises(ExecutorError) as caught:
        lab.run("srv", action="psk", service="MongoDB")

    text = str(caught.value)
    assert "disagrees with env:TEST_PSK_MONGODB" in text
    assert "sha256:" + _sha(server)[:16] in text  # the server file's fingerprint
    assert "sha256:" + hashlib.sha256(f"test-mongodb:{TEST_KEY}\n".encode()).hexdigest()[:16] in text
    assert theirs not in text and TEST_KEY not in text
    assert server.read_bytes() == before  # nothing changed on the server
    assert not lab.file("cli", PSK).exists()  # nor on the client


def test_the_same_key_written_differently_on_the_server_is_kept(lab: StunnelLab) -> None:
    server = lab.file("srv", PSK)
    server.parent.mkdir(parents=True)
    server.write_text(f"test-mongodb:{TEST_KEY}")  # no final newline: same identity and key

    outcome = lab.run("srv", action="psk", service="MongoDB")

    assert outcome.ok, outcome.summary
    assert outcome.values["psk_server"] == "kept"
    assert _sha(lab.file("cli", PSK)) == _sha(server)


def test_an_unset_reference_stops_before_anything_is_touched(
    lab: StunnelLab, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TEST_PSK_MONGODB")

    with pytest.raises(SecretError, match="env:TEST_PSK_MONGODB is not set"):
        lab.run("srv", action="psk", service="MongoDB")
    assert not lab.file("srv", PSK).exists()


def _ctx(lab: StunnelLab) -> StepContext:
    return StepContext(run_id=1, attempt=1, on_line=lab.lines)


def test_config_is_parse_tested_then_moved_into_place_and_restarted(lab: StunnelLab) -> None:
    lab.run("srv", action="psk", service="MongoDB")
    outcome = lab.run("cli", action="config", restart=True)

    assert outcome.ok, f"{outcome.summary}\n{outcome.evidence}"
    deployed = lab.file("cli", CONFIG_PATH).read_text()
    assert f"accept = {CLIENT_IP}:{lab.client_port}" in deployed
    assert f"PSKsecrets = {lab.file('cli', PSK)}" in deployed
    assert not lab.file("cli", CONFIG_PATH + ".new").exists()
    assert "RuntimeDirectoryMode=0775" in lab.file("cli", DROPIN_PATH).read_text()
    assert lab.systemctl_calls() == ["daemon-reload", "enable stunnel@off", "restart stunnel@off"]
    assert outcome.values["config_changed"] == "yes"

    again = lab.run("cli", action="config")
    assert again.ok and again.values["config_changed"] == "no"
    assert lab.file("cli", CONFIG_PATH + ".previous").read_text() == deployed
    assert lab.systemctl_calls()[-1] == "daemon-reload"  # no restart without restart: true


def test_a_config_stunnel_refuses_is_caught_before_anything_moves(lab: StunnelLab) -> None:
    lab.run("srv", action="psk", service="MongoDB")
    assert lab.run("cli", action="config", restart=True).ok
    before = lab.file("cli", CONFIG_PATH).read_text()
    calls = lab.systemctl_calls()
    # the same tunnels rendered with an option stunnel rejects: `debug = nonsense`
    broken = StunnelSteps(lab.connections.for_target, lab.redactor, plan_dir=lab.dir,
                          options=replace(lab.steps.options, debug="nonsense"))

    outcome = broken.run(lab.step("t-config", "cli", action="config", restart=True), _ctx(lab))

    assert not outcome.ok
    assert "nothing was moved into place" in outcome.summary
    new = lab.file("cli", CONFIG_PATH + ".new")
    line = new.read_text().splitlines().index("debug = nonsense") + 1
    assert f"{new}:{line}:" in (outcome.evidence or "")
    assert "Illegal debug level" in (outcome.evidence or "")
    assert lab.file("cli", CONFIG_PATH).read_text() == before
    assert lab.systemctl_calls() == calls  # no daemon-reload, no restart


def test_a_missing_psk_file_fails_the_parse_test(lab: StunnelLab) -> None:
    outcome = lab.run("cli", action="config", restart=True)

    assert not outcome.ok
    assert "mongodb-psk.txt" in (outcome.evidence or "")
    assert not lab.file("cli", CONFIG_PATH).exists()
    assert lab.systemctl_calls() == []


def _deploy_and_start(lab: StunnelLab, start_stunnel: Any) -> None:
    lab.run("srv", action="psk", service="MongoDB")
    for host in ("srv", "cli"):
        assert lab.run(host, action="config", restart=True).ok
        start_stunnel(lab.file(host, CONFIG_PATH), lab.file(host, "/var/run/stunnel-off/stunnel.pid"))


def test_verify_passes_on_the_live_tunnel_and_bytes_cross_it(lab: StunnelLab, start_stunnel: Any) -> None:
    backend = socket.create_server(("127.0.0.1", lab.backend_port))
    _deploy_and_start(lab, start_stunnel)

    outcome = lab.run("cli", action="verify")

    assert outcome.ok, f"{outcome.summary}\n{outcome.evidence}"
    assert outcome.values["MongoDB_accept"] == f"{CLIENT_IP}:{lab.client_port}"
    assert outcome.values["MongoDB_host"] == CLIENT_IP
    assert outcome.values["MongoDB_port"] == str(lab.client_port)
    assert lab.run("srv", action="verify").ok
    with socket.create_connection((CLIENT_IP, lab.client_port), timeout=5) as conn:
        conn.sendall(b"ping")
        peer, _ = backend.accept()  # the client end -> TLS-PSK -> server end -> backend
        with peer:
            assert peer.recv(4) == b"ping"
    backend.close()


def test_verify_fails_when_a_client_listener_binds_every_interface(lab: StunnelLab) -> None:
    lab.run("srv", action="psk", service="MongoDB")
    assert lab.run("cli", action="config").ok
    # what the January 2024 config did: the client port on 0.0.0.0 (bound, never connected to)
    wildcard = socket.socket()
    wildcard.bind(("0.0.0.0", lab.client_port))
    wildcard.listen()
    try:
        outcome = lab.run("cli", action="verify")
    finally:
        wildcard.close()

    assert not outcome.ok
    assert f"0.0.0.0:{lab.client_port} binds every interface" in (outcome.evidence or "")
    assert "is not listening" in (outcome.evidence or "")


def test_verify_fails_when_the_unit_is_not_active(lab: StunnelLab, start_stunnel: Any) -> None:
    _deploy_and_start(lab, start_stunnel)
    lab.systemctl_state.write_text("failed\n")

    outcome = lab.run("cli", action="verify")

    assert not outcome.ok
    assert "stunnel@off is failed" in outcome.summary
