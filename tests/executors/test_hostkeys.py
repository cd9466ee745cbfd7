"""Host keys: unknown and changed keys are refused with a fingerprint; pinning is explicit."""

from __future__ import annotations

import subprocess
from pathlib import Path

import paramiko
import pytest

from migrator.errors import HostKeyError
from migrator.executors.hostkeys import (
    fetch_host_key,
    key_fingerprint,
    known_hosts_name,
    load_known_hosts,
    pin_host_key,
)
from tests.executors.conftest import transport_for
from tests.fixtures.sshd import SshdServer


def keygen(path: Path) -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return path


def openssh_fingerprint(public_key: Path) -> str:
    out = subprocess.run(["ssh-keygen", "-lf", str(public_key)], check=True, capture_output=True, text=True)
    return out.stdout.split()[1]


def test_fingerprint_matches_ssh_keygen(sshd: SshdServer) -> None:
    key = fetch_host_key(sshd.host, sshd.port)
    assert key_fingerprint(key) == openssh_fingerprint(sshd.host_key_path.with_suffix(".pub"))


def test_unknown_host_key_is_refused_with_its_fingerprint(sshd: SshdServer, tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    transport = transport_for(sshd, known_hosts=[empty])
    with pytest.raises(HostKeyError) as caught:
        transport.run("true")
    expected = openssh_fingerprint(sshd.host_key_path.with_suffix(".pub"))
    assert expected in str(caught.value)
    assert f"{sshd.host}:{sshd.port}" in str(caught.value)
    assert caught.value.hint and "ssh-keyscan" in caught.value.hint


def test_changed_host_key_is_refused_loudly(sshd: SshdServer, tmp_path: Path) -> None:
    other = keygen(tmp_path / "other")
    old = paramiko.Ed25519Key.from_private_key_file(str(other))
    known = tmp_path / "known_hosts"
    known.write_text(f"{known_hosts_name(sshd.host, sshd.port)} {old.get_name()} {old.get_base64()}\n")
    transport = transport_for(sshd, known_hosts=[known])
    with pytest.raises(HostKeyError) as caught:
        transport.run("true")
    text = str(caught.value)
    assert "HOST KEY CHANGED" in text and "man-in-the-middle" in text
    assert key_fingerprint(old) in text
    assert "expect_new_host_key" in text


def test_cert_authority_and_revoked_lines_do_not_break_loading(sshd: SshdServer, tmp_path: Path) -> None:
    ca = paramiko.Ed25519Key.from_private_key_file(str(keygen(tmp_path / "ca")))
    known = tmp_path / "known_hosts"
    known.write_text(
        f"@cert-authority *.example.org {ca.get_name()} {ca.get_base64()}\n"
        f"@revoked * {ca.get_name()} {ca.get_base64()}\n"
        "# a comment\n\n" + sshd.client_line() + "\n"
    )
    with pytest.raises(paramiko.hostkeys.InvalidHostKey):
        paramiko.HostKeys(str(known))  # what paramiko alone does with this file
    loaded = load_known_hosts([known, tmp_path / "missing"])
    assert loaded.revoked == {key_fingerprint(ca)}
    assert loaded.files == [known]
    transport = transport_for(sshd, known_hosts=[known])
    try:
        assert transport.run("echo ok").stdout == "ok\n"
    finally:
        transport.close()


def test_revoked_host_key_is_refused(sshd: SshdServer, tmp_path: Path) -> None:
    public = sshd.host_key_path.with_suffix(".pub").read_text().split()
    known = tmp_path / "known_hosts"
    known.write_text(sshd.client_line() + f"\n@revoked * {public[0]} {public[1]}\n")
    with pytest.raises(HostKeyError, match="REVOKED"):
        transport_for(sshd, known_hosts=[known]).run("true")


def test_hashed_known_hosts_entries_work(sshd: SshdServer, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text(sshd.client_line() + "\n")
    subprocess.run(["ssh-keygen", "-q", "-H", "-f", str(known)], check=True, capture_output=True)
    assert known.read_text().startswith("|1|")
    transport = transport_for(sshd, known_hosts=[known])
    try:
        assert transport.run("echo hashed").stdout == "hashed\n"
    finally:
        transport.close()


def test_fetch_then_pin_replaces_the_old_entry(sshd: SshdServer, tmp_path: Path) -> None:
    other = paramiko.Ed25519Key.from_private_key_file(str(keygen(tmp_path / "other")))
    name = known_hosts_name(sshd.host, sshd.port)
    known = tmp_path / "known_hosts"
    known.write_text(
        f"unrelated.example ssh-ed25519 {other.get_base64()}\n{name} ssh-ed25519 {other.get_base64()}\n"
    )
    transport = transport_for(sshd, known_hosts=[known])
    with pytest.raises(HostKeyError, match="CHANGED"):
        transport.run("true")
    # The expect_new_host_key flow: fetch without authenticating, operator confirms, pin.
    pin_host_key(known, name, fetch_host_key(sshd.host, sshd.port))
    lines = known.read_text().splitlines()
    assert lines[0].startswith("unrelated.example ")
    assert len(lines) == 2 and lines[1].startswith(f"{name} ssh-ed25519 ")
    try:
        assert transport.run("echo pinned").stdout == "pinned\n"
    finally:
        transport.close()


def test_known_hosts_name_follows_openssh() -> None:
    assert known_hosts_name("off1.example", 22) == "off1.example"
    assert known_hosts_name("127.0.0.1", 2222) == "[127.0.0.1]:2222"
