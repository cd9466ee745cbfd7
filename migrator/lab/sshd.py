"""Start and stop a real OpenSSH ``sshd``: keys, config, launch, kill (no pytest in here).

Shared by the test fixture (``tests/fixtures/sshd.py``) and the lab. The lab launches sshd
through a wrapper (``unshare --fork --kill-child ... boot.sh``) whose child execs sshd:
:func:`launch` returns the wrapper's PID, :func:`children` finds sshd's.

Why ``SetEnv HOME=...``: sshd runs every command through the login shell, and Debian's bash
sources ``~/.bashrc`` for commands started by sshd. root's ``.bashrc`` on a dev box may run
``pyenv init`` (~80 ms per command). Pointing HOME at an empty directory keeps shell start-up
near zero without touching the real home.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from migrator.errors import LabError

SSHD = Path("/usr/sbin/sshd")
START_TIMEOUT = 10.0


def require_tools() -> None:
    """Fail with the Debian package names when sshd or ssh-keygen is missing."""
    missing = [str(p) for p in (SSHD,) if not p.exists()]
    if shutil.which("ssh-keygen") is None:
        missing.append("ssh-keygen")
    if missing:
        raise LabError(
            f"{', '.join(missing)} not found",
            hint="install the Debian packages openssh-server and openssh-client "
            "(apt-get install -y openssh-server openssh-client)",
        )


def free_port(address: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((address, 0))
        return int(sock.getsockname()[1])


def keygen(path: Path) -> None:
    """A new ed25519 key pair at ``path`` and ``path.pub`` (replacing any old one)."""
    for old in (path, path.with_name(path.name + ".pub")):
        old.unlink(missing_ok=True)
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", path.name, "-f", str(path)],
        check=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
    )


def known_hosts_line(address: str, port: int, host_public_key: Path) -> str:
    """``[address]:port type base64`` (``address`` alone on port 22), as OpenSSH writes it."""
    public = host_public_key.read_text(encoding="utf-8").split()
    name = address if port == 22 else f"[{address}]:{port}"
    return f"{name} {public[0]} {public[1]}"


def write_config(
    config: Path,
    *,
    address: str,
    ports: Sequence[int],
    host_key: Path,
    authorized_keys: Path,
    pid_file: Path,
    home: Path,
    root_authorized_keys: bool = False,
) -> None:
    """An sshd_config for key-only root login on ``address``; validated with ``sshd -t``.

    ``root_authorized_keys`` also accepts the keys in each user's ~/.ssh/authorized_keys (the lab:
    inside a host's namespace that is the host's own file, so hosts can trust each other, and
    operators' keys work, like in production).
    """
    # %h: the user's home from the host's own /etc/passwd (root: /root), so operators' keys count too.
    root_keys = " %h/.ssh/authorized_keys" if root_authorized_keys else ""
    port_lines = "".join(f"Port {port}\n" for port in ports)
    config.write_text(
        f"""{port_lines}ListenAddress {address}
HostKey {host_key}
PidFile {pid_file}
AuthorizedKeysFile {authorized_keys}{root_keys}
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
AllowTcpForwarding yes
AllowAgentForwarding yes
MaxSessions 50
MaxStartups 50:30:100
Subsystem sftp internal-sftp
SetEnv HOME={home}
LogLevel VERBOSE
""",
        encoding="utf-8",
    )
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    check = subprocess.run([str(SSHD), "-t", "-f", str(config)], check=False, capture_output=True, text=True)
    if check.returncode != 0:
        raise LabError(f"sshd rejected {config}: {check.stderr.strip()}", where=str(config))


def launch(
    config: Path, log: Path, *, wrapper: Sequence[str] = (), env: dict[str, str] | None = None
) -> int:
    """Start ``sshd -D`` (through ``wrapper`` if given); its (the wrapper's) PID once it listens."""
    offset = log.stat().st_size if log.exists() else 0
    with log.open("ab") as log_file:
        proc = subprocess.Popen(
            [*wrapper, str(SSHD), "-D", "-e", "-f", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=log_file,
            start_new_session=True,
            env=env,
        )
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        with log.open("rb") as reader:
            reader.seek(offset)
            if b"Server listening" in reader.read():
                return proc.pid
        if proc.poll() is not None:
            break
        time.sleep(0.02)
    proc.kill()
    proc.wait()
    tail = log.read_text(errors="replace")[offset:][-2000:]
    raise LabError(f"sshd ({config}) did not start:\n{tail}", where=str(config))


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (the per-connection sshd processes), read from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # the process ended while we looked: nothing to kill
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def kill_family(pid: int, timeout: float = 5.0) -> None:
    """SIGKILL ``pid``'s children, SIGTERM ``pid``, wait for it (SIGKILL after ``timeout``)."""
    for child in children(pid):
        try:
            os.kill(child, signal.SIGKILL)
        except ProcessLookupError:
            continue
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:  # not our child (another process started it): poll /proc
            done = 0 if alive(pid) else pid
        if done:
            return
        time.sleep(0.02)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
