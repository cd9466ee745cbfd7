"""The redis-server, postgresql, memcached and apache2 units of off's CTs (and off1's nginx): real daemons.

``apt-get install redis-server|postgresql|memcached`` writes Debian's default config (each
listens on localhost only) and starts the unit; ``systemctl restart`` re-reads the config. A
plan that forgets to open the service to the other CTs fails here as it would in production.

Each is Debian's own program (packages on the machine, ``scripts/setup.sh``) on the CT's own
config in the CT's mount namespace:

* redis-server reads /etc/redis/redis.conf and answers real Redis, protected mode included (a
  client from another CT is told ``-DENIED`` while the config leaves ``protected-mode yes``
  without a password, as in production). It keeps its files in the CT's lab state directory
  and never saves to disk.
* postgresql is the machine's ``postgres`` on /etc/postgresql/VERSION/main as the CT's postgres
  user: ``listen_addresses`` and pg_hba.conf decide who gets in (``postgresql.py``).
* memcached reads /etc/memcached.conf as Debian's unit does (one option a line).
* apache2 (CT 113's, off's web server) reads the /etc/apache2 ``migrator lab up`` writes the CT
  (``apache.py``; no package install in the plans).
* nginx (off1's, before its move) reads the /etc/nginx/nginx.conf ``migrator lab up`` writes
  the host (``nginx.py``).

Only IPv4 addresses are bound (``-::1`` in redis.conf is optional in Redis too).
"""

from __future__ import annotations

import re
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from migrator.lab.procs import cmdline, pid_namespace
from migrator.lab.standins import apache, nginx, postgresql
from migrator.lab.standins.context import Context

REDIS_CONF = Path("/etc/redis/redis.conf")
MEMCACHED_CONF = Path("/etc/memcached.conf")
START_GRACE = 0.3

# Debian's shipped defaults (the lines that matter here).
REDIS_DEFAULT = """\
# Redis configuration file example (Debian redis-server 6.0)
bind 127.0.0.1 -::1
protected-mode yes
port 6379
daemonize yes
supervised systemd
pidfile /run/redis/redis-server.pid
logfile /var/log/redis/redis-server.log
dir /var/lib/redis
"""
MEMCACHED_DEFAULT = """\
# memcached default config file (Debian memcached 1.6)
# Run memcached as a daemon. This command is implied, and is not needed for the
# daemon to run.
-d
logfile /var/log/memcached.log
-m 64
-p 11211
-u memcache
-l 127.0.0.1
-P /var/run/memcached/memcached.pid
"""
PACKAGE_FILES = {
    "redis-server": {REDIS_CONF: REDIS_DEFAULT},
    "redis": {REDIS_CONF: REDIS_DEFAULT},  # packages.redis.io's name; its unit is redis-server too
    "memcached": {MEMCACHED_CONF: MEMCACHED_DEFAULT},
}
PACKAGE_USERS = {"memcached": "memcache"}
PACKAGE_UNITS = {"redis-server": "redis-server", "redis": "redis-server", "postgresql": "postgresql",
                 "memcached": "memcached"}  # fmt: skip
# apache2: CT 113's, nginx: off1's; their config from `lab up` (apache.py, nginx.py)
UNITS = set(PACKAGE_UNITS.values()) | {"apache2", "nginx"}


def _ipv4(address: str) -> str | None:
    address = address.lstrip("-")
    if address in ("localhost",):
        return "127.0.0.1"
    if address == "*":
        return "0.0.0.0"
    return address if re.fullmatch(r"\d+\.\d+\.\d+\.\d+", address) else None


def _memcached_options() -> list[str]:
    """/etc/memcached.conf as Debian's systemd-memcached-wrapper reads it: options, one a line."""
    text = MEMCACHED_CONF.read_text(encoding="utf-8") if MEMCACHED_CONF.exists() else ""
    words: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("-") and not line.startswith(("-d", "-P")):  # the unit runs it in the foreground
            words += shlex.split(line)
    return words


def listen_addresses(unit: str) -> list[str]:
    """``ADDRESS:PORT`` the unit's config names (Debian's defaults where it names none)."""
    if unit == "apache2":
        return apache.listen_addresses()
    if unit == "nginx":
        return nginx.listen_addresses()
    if unit == "redis-server":
        text = REDIS_CONF.read_text(encoding="utf-8") if REDIS_CONF.exists() else ""
        binds = re.findall(r"^\s*bind\s+(.+)$", text, re.M)
        port = re.findall(r"^\s*port\s+(\d+)", text, re.M)
        words = binds[-1].split() if binds else ["127.0.0.1"]
        port_number = port[-1] if port else "6379"
    elif unit == "memcached":
        options = _memcached_options()
        listen = [options[i + 1] for i, w in enumerate(options[:-1]) if w in ("-l", "--listen")]
        port = [options[i + 1] for i, w in enumerate(options[:-1]) if w in ("-p", "--port")]
        words = [a for spec in listen for a in spec.split(",")] or ["0.0.0.0"]
        port_number = port[-1] if port else "11211"
    else:
        ver = postgresql.version() or ""
        conf = postgresql.conf_dir(ver) / "postgresql.conf"
        text = conf.read_text(encoding="utf-8") if conf.exists() else ""
        listen = re.findall(r"^\s*listen_addresses\s*=\s*'([^']*)'", text, re.M)
        port = re.findall(r"^\s*port\s*=\s*(\d+)", text, re.M)
        words = [w.strip() for w in listen[-1].split(",")] if listen else ["localhost"]
        port_number = port[-1] if port else "5432"
    addresses = [a for a in (_ipv4(w) for w in words) if a]
    return [f"{a}:{port_number}" for a in dict.fromkeys(addresses)]


def postinst(ctx: Context, package: str) -> None:
    """The package's system user and default config files (kept if the admin already has them)."""
    if package == "postgresql":
        postgresql.postinst(ctx)
        return
    user = PACKAGE_USERS.get(package)
    if user is not None and subprocess.run(["id", user], capture_output=True, check=False).returncode != 0:
        subprocess.run(["adduser", "--system", "--group", "--no-create-home", "--home", "/nonexistent", user],
                       check=True, capture_output=True)  # fmt: skip
    for path, text in PACKAGE_FILES.get(package, {}).items():
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")


REDIS_SERVER = "/usr/bin/redis-server"
MEMCACHED = "/usr/bin/memcached"
LISTEN_TIMEOUT = 30.0  # PostgreSQL's first start on a busy shared machine takes seconds
# How each unit is stopped: PostgreSQL's "fast" shutdown (SIGINT), as pg_ctlcluster stops it;
# SIGTERM is its "smart" one that waits for every client to leave.
STOP_SIGNALS = {"postgresql": "SIGINT"}


def _redis_argv(ctx: Context) -> list[str]:
    """The real redis-server on the CT's config, in the foreground, its files in the lab's state."""
    return [REDIS_SERVER, str(REDIS_CONF), "--daemonize", "no", "--supervised", "no",
            "--pidfile", str(ctx.state_dir / "redis-server.pid"), "--logfile", "",
            "--dir", str(ctx.state_dir), "--save", "", "--appendonly", "no"]  # fmt: skip


def _listening(address: str) -> bool:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=0.2):
            return True
    except OSError:
        return False


class _CannotStart(Exception):
    """The unit's program is not there (or its files cannot be made): a failed start, said why."""


def _command(ctx: Context, unit: str) -> tuple[list[str], dict[str, Any]]:
    """(argv, extra Popen arguments) of the unit's daemon in the foreground."""
    if unit == "redis-server":
        if not Path(REDIS_SERVER).exists():
            raise _CannotStart(f"{REDIS_SERVER} not on the lab machine: apt-get install redis-server")
        return _redis_argv(ctx), {}
    if unit == "apache2":
        if not Path(apache.APACHE2).exists():
            raise _CannotStart(f"{apache.APACHE2} not on the lab machine: apt-get install apache2")
        return apache.argv(ctx), {}  # as root; its children drop to the config's User www-data
    if unit == "nginx":
        if not Path(nginx.NGINX).exists():
            raise _CannotStart(f"{nginx.NGINX} not on the lab machine: apt-get install nginx-light")
        return nginx.argv(ctx), {}  # as root; its workers drop to the config's user www-data
    if unit == "memcached":
        if not Path(MEMCACHED).exists():
            raise _CannotStart(f"{MEMCACHED} not on the lab machine: apt-get install memcached")
        return [MEMCACHED, *_memcached_options()], {}  # as root it drops to its -u user itself
    try:
        ver = postgresql.ensure_cluster(ctx)
    except (FileNotFoundError, KeyError, subprocess.CalledProcessError, OSError) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        raise _CannotStart(f"postgresql: {detail.strip()}") from exc
    uid, gid = postgresql.run_as()
    return postgresql.argv(ver), {"user": uid, "group": gid, "extra_groups": [], "cwd": "/"}


def start(ctx: Context, state: dict[str, Any], unit: str, enabled: bool) -> int:
    """``systemctl start UNIT``: the real daemon in the foreground, its PID recorded."""
    log_dir = ctx.state_dir / "journal"
    log_dir.mkdir(exist_ok=True)
    addresses = listen_addresses(unit)
    with (log_dir / f"{unit}.log").open("a", encoding="utf-8") as log:
        log.write(f"{unit} starting on {' '.join(addresses)}\n")
        log.flush()
        try:
            argv, extra = _command(ctx, unit)
        except _CannotStart as exc:
            log.write(f"{exc}\n")
            return _failed(state, unit, enabled)
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True, **extra
        )
    time.sleep(START_GRACE)
    # Redis renames its process title once it listens: record the command line it then shows.
    deadline = time.monotonic() + LISTEN_TIMEOUT
    while proc.poll() is None and addresses and not _listening(addresses[0]):
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    if proc.poll() is not None:
        return _failed(state, unit, enabled)
    state["units"][unit] = {
        "pid": proc.pid,
        "argv": cmdline(proc.pid),
        "pidns": pid_namespace(proc.pid),
        "since": time.time(),
        "enabled": enabled,
    }
    if unit in STOP_SIGNALS:
        state["units"][unit]["stop_signal"] = STOP_SIGNALS[unit]
    return 0


def _failed(state: dict[str, Any], unit: str, enabled: bool) -> int:
    state["units"][unit] = {"state": "failed", "enabled": enabled, "result": "exit-code"}
    sys.stderr.write(
        f"Job for {unit}.service failed because the control process exited with error code.\n"
        f'See "systemctl status {unit}.service" and "journalctl -xeu {unit}.service" for details.\n'
    )
    return 1
