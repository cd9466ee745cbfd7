"""The redis-server and postgresql units of off's CTs 122 and 120.

``apt-get install redis-server|postgresql`` writes Debian's default config (Redis and
PostgreSQL listen on localhost only) and starts the unit; ``systemctl restart`` re-reads the
config. A plan that forgets to open the service to the other CTs fails here as it would in
production.

redis-server is the real one (Debian's package, on the machine): it reads the CT's own
/etc/redis/redis.conf in the CT's mount namespace and answers real Redis, protected mode
included (a client from another CT is told ``-DENIED`` while the config leaves
``protected-mode yes`` without a password, as in production). It keeps its files in the CT's
lab state directory and never saves to disk. postgresql is still a fake (a listener where
its config says, named so in its journal) until the lab runs a real cluster.

Only IPv4 addresses are bound (``-::1`` in redis.conf is optional in Redis too).
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from migrator.lab.procs import cmdline, pid_namespace
from migrator.lab.standins.context import Context
from migrator.lab.standins.mongo import LISTENER

REDIS_CONF = Path("/etc/redis/redis.conf")
PG_VERSION = "13"  # Debian 11 (the CT template) ships PostgreSQL 13
PG_DIR = Path(f"/etc/postgresql/{PG_VERSION}/main")
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
PG_DEFAULT = f"""\
# PostgreSQL configuration file (Debian postgresql-{PG_VERSION})
data_directory = '/var/lib/postgresql/{PG_VERSION}/main'
hba_file = '/etc/postgresql/{PG_VERSION}/main/pg_hba.conf'
#listen_addresses = 'localhost'\t\t# what IP address(es) to listen on;
port = 5432\t\t\t\t# (change requires restart)
max_connections = 100
"""
PG_HBA_DEFAULT = """\
# TYPE  DATABASE        USER            ADDRESS                 METHOD
local   all             postgres                                peer
local   all             all                                     peer
host    all             all             127.0.0.1/32            md5
host    all             all             ::1/128                 md5
"""
PACKAGE_FILES = {
    "redis-server": {REDIS_CONF: REDIS_DEFAULT},
    "redis": {REDIS_CONF: REDIS_DEFAULT},  # packages.redis.io's name; its unit is redis-server too
    "postgresql": {PG_DIR / "postgresql.conf": PG_DEFAULT, PG_DIR / "pg_hba.conf": PG_HBA_DEFAULT},
}
PACKAGE_UNITS = {"redis-server": "redis-server", "redis": "redis-server", "postgresql": "postgresql"}
UNITS = set(PACKAGE_UNITS.values())


def _ipv4(address: str) -> str | None:
    address = address.lstrip("-")
    if address in ("localhost",):
        return "127.0.0.1"
    if address == "*":
        return "0.0.0.0"
    return address if re.fullmatch(r"\d+\.\d+\.\d+\.\d+", address) else None


def _pg_dir() -> Path:
    """The newest cluster's config dir, as pg_ctlcluster picks one: a lab CT's /etc starts as a
    copy of the machine's, which may hold another version's config than the fake installs."""
    found = [p for p in Path("/etc/postgresql").glob("*/main") if (p / "postgresql.conf").is_file()]
    if not found:
        return PG_DIR
    return max(found, key=lambda p: [int(x) if x.isdigit() else 0 for x in p.parent.name.split(".")])


def listen_addresses(unit: str) -> list[str]:
    """``ADDRESS:PORT`` the unit's config names (Debian's defaults where it names none)."""
    if unit == "redis-server":
        text = REDIS_CONF.read_text(encoding="utf-8") if REDIS_CONF.exists() else ""
        binds = re.findall(r"^\s*bind\s+(.+)$", text, re.M)
        port = re.findall(r"^\s*port\s+(\d+)", text, re.M)
        words = binds[-1].split() if binds else ["127.0.0.1"]
        port_number = port[-1] if port else "6379"
    else:
        conf = _pg_dir() / "postgresql.conf"
        text = conf.read_text(encoding="utf-8") if conf.exists() else ""
        listen = re.findall(r"^\s*listen_addresses\s*=\s*'([^']*)'", text, re.M)
        port = re.findall(r"^\s*port\s*=\s*(\d+)", text, re.M)
        words = [w.strip() for w in listen[-1].split(",")] if listen else ["localhost"]
        port_number = port[-1] if port else "5432"
    addresses = [a for a in (_ipv4(w) for w in words) if a]
    return [f"{a}:{port_number}" for a in dict.fromkeys(addresses)]


def postinst(package: str) -> None:
    """The package's default config files (kept if the admin already has them)."""
    for path, text in PACKAGE_FILES.get(package, {}).items():
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")


REDIS_SERVER = "/usr/bin/redis-server"
LISTEN_TIMEOUT = 5.0


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


def start(ctx: Context, state: dict[str, Any], unit: str, enabled: bool) -> int:
    """``systemctl start UNIT``: the daemon (or the fake's listener), its PID recorded."""
    log_dir = ctx.state_dir / "journal"
    log_dir.mkdir(exist_ok=True)
    addresses = listen_addresses(unit)
    real = unit == "redis-server" and Path(REDIS_SERVER).exists()
    argv = _redis_argv(ctx) if real else [sys.executable, "-c", LISTENER, str(ctx.lab_dir), *addresses]
    with (log_dir / f"{unit}.log").open("a", encoding="utf-8") as log:
        log.write(f"{unit} {'' if real else '(lab fake) '}starting on {' '.join(addresses)}\n")
        log.flush()
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
        )
    time.sleep(START_GRACE)
    # Redis renames its process title once it listens: record the command line it then shows.
    deadline = time.monotonic() + LISTEN_TIMEOUT
    while real and proc.poll() is None and addresses and not _listening(addresses[0]):
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    if proc.poll() is not None:
        state["units"][unit] = {"state": "failed", "enabled": enabled, "result": "exit-code"}
        sys.stderr.write(
            f"Job for {unit}.service failed because the control process exited with error code.\n"
            f'See "systemctl status {unit}.service" and "journalctl -xeu {unit}.service" for details.\n'
        )
        return 1
    state["units"][unit] = {
        "pid": proc.pid,
        "argv": cmdline(proc.pid),
        "pidns": pid_namespace(proc.pid),
        "since": time.time(),
        "enabled": enabled,
    }
    return 0
