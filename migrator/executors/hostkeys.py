"""SSH host keys: load known_hosts, refuse unknown or changed keys, pin a new key on purpose.

Never trust on first use. An unknown key raises :class:`HostKeyError` with its OpenSSH
``SHA256:`` fingerprint and how to check it out of band; a changed key raises loudly. After a
reinstall (the off1/off2 move reinstalls both hosts) the plan's ``expect_new_host_key`` flow
fetches the new key with :func:`fetch_host_key`, shows the fingerprint, and only after the
operator confirms it pins it with :func:`pin_host_key`.

paramiko raises on ``@cert-authority`` / ``@revoked`` lines (paramiko #771), so they are
filtered out here; ``@revoked`` keys are remembered and refused.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path

import paramiko

from migrator.errors import ConnectError, HostKeyError

log = logging.getLogger(__name__)

USER_KNOWN_HOSTS = Path("~/.ssh/known_hosts")


def key_fingerprint(key: paramiko.PKey) -> str:
    """OpenSSH format: ``SHA256:`` + unpadded base64 of the SHA-256 of the key blob."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def known_hosts_name(address: str, port: int) -> str:
    """The name OpenSSH writes: ``host`` on port 22, ``[host]:port`` otherwise."""
    return address if port == 22 else f"[{address}]:{port}"


def verify_hint(address: str, port: int) -> str:
    return (
        f"check it out of band: run `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on the "
        f"host's console (IPMI/KVM) and compare with `ssh-keyscan -p {port} {address} | ssh-keygen -lf -`; "
        "if they match, add the key to the inventory's known_hosts file"
    )


@dataclass
class KnownHosts:
    """Host keys from several known_hosts files, plus the keys marked ``@revoked``."""

    keys: paramiko.HostKeys = field(default_factory=paramiko.HostKeys)
    revoked: set[str] = field(default_factory=set)  # fingerprints
    files: list[Path] = field(default_factory=list)

    def is_revoked(self, key: paramiko.PKey) -> bool:
        return key_fingerprint(key) in self.revoked


def load_known_hosts(paths: list[Path]) -> KnownHosts:
    """Read every existing file of ``paths`` (``~`` expanded); missing files are skipped."""
    known = KnownHosts()
    for raw in paths:
        path = raw.expanduser()
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise ConnectError(
                f"cannot read known_hosts file {path}: {exc.strerror}",
                hint="check the path in the inventory and its permissions",
            ) from exc
        known.files.append(path)
        for lineno, line in enumerate(text.splitlines(), start=1):
            _load_line(known, path, lineno, line.strip())
    return known


def _load_line(known: KnownHosts, path: Path, lineno: int, line: str) -> None:
    if not line or line.startswith("#"):
        return
    if line.startswith("@"):
        marker, _, rest = line.partition(" ")
        if marker == "@revoked":
            entry = _parse_entry(path, lineno, rest.strip())
            if entry is not None and entry.key is not None:
                known.revoked.add(key_fingerprint(entry.key))
        else:
            # Host CAs are not supported by paramiko; such hosts need a plain key line.
            log.debug("%s:%d: %s line ignored (paramiko has no host CA support)", path, lineno, marker)
        return
    entry = _parse_entry(path, lineno, line)
    if entry is None or entry.key is None:
        return
    for name in entry.hostnames:
        known.keys.add(name, entry.key.get_name(), entry.key)


def _parse_entry(path: Path, lineno: int, line: str) -> paramiko.hostkeys.HostKeyEntry | None:
    try:
        return paramiko.hostkeys.HostKeyEntry.from_line(line, lineno)
    except (paramiko.SSHException, ValueError) as exc:
        # One unreadable line (e.g. an old ssh-dss key) must not hide the others; say so.
        log.warning("%s:%d: known_hosts line not understood (%s), ignored", path, lineno, exc)
        return None


class StrictHostKeyPolicy(paramiko.MissingHostKeyPolicy):
    """Refuse every host whose key is not already known: raise our HostKeyError."""

    def __init__(self, target: str, address: str, port: int) -> None:
        self.target = target
        self.address = address
        self.port = port

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        raise HostKeyError(
            f"unknown host key for {self.target} ({self.address}:{self.port}): "
            f"{key.get_name()} {key_fingerprint(key)} is not in known_hosts",
            where=self.target,
            hint=verify_hint(self.address, self.port),
        )


def changed_key_error(
    target: str, address: str, port: int, got: paramiko.PKey, expected: paramiko.PKey | None
) -> HostKeyError:
    expected_text = f", known_hosts has {key_fingerprint(expected)}" if expected is not None else ""
    return HostKeyError(
        f"HOST KEY CHANGED for {target} ({address}:{port}): the host presented {got.get_name()} "
        f"{key_fingerprint(got)}{expected_text}. Possible man-in-the-middle or a reinstall",
        where=target,
        hint="if the host was reinstalled, use expect_new_host_key and confirm the new fingerprint "
        "on the console; otherwise stop and investigate",
    )


def fetch_host_key(address: str, port: int = 22, *, timeout: float = 10.0) -> paramiko.PKey:
    """The host key ``address:port`` presents, fetched without authenticating (like ssh-keyscan)."""
    try:
        sock = socket.create_connection((address, port), timeout=timeout)
    except OSError as exc:
        raise ConnectError(
            f"cannot reach {address}:{port} to read its host key: {exc}",
            hint="is the host up and sshd listening?",
        ) from exc
    transport = paramiko.Transport(sock)
    try:
        transport.banner_timeout = timeout
        transport.start_client(timeout=timeout)
        return transport.get_remote_server_key()
    except (paramiko.SSHException, EOFError, OSError) as exc:
        raise ConnectError(
            f"cannot read the host key of {address}:{port}: {exc}",
            hint="is it an SSH server? check the port",
        ) from exc
    finally:
        transport.close()


def pin_host_key(known_hosts: Path, name: str, key: paramiko.PKey) -> None:
    """Replace every entry for ``name`` in ``known_hosts`` by ``key`` (after operator confirmation).

    ``name`` is as :func:`known_hosts_name` gives it. Hashed entries for the name are removed
    too. Written atomically (temp file + rename) so a crash never leaves half a file.
    """
    path = known_hosts.expanduser()
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    kept = [line for line in lines if not _line_names(line, name)]
    kept.append(f"{name} {key.get_name()} {key.get_base64()}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("\n".join(kept) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _line_names(line: str, name: str) -> bool:
    stripped = line.strip()
    if not stripped or stripped.startswith(("#", "@")):
        return False
    for host in stripped.split()[0].split(","):
        if host == name:
            return True
        if host.startswith("|1|"):
            salt = host.split("|")[2]
            if paramiko.HostKeys.hash_host(name, salt) == host:
                return True
    return False
