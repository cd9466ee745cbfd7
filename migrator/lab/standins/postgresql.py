"""The real PostgreSQL in a lab CT: Debian's server binaries on the CT's own config and cluster.

``apt-get install postgresql`` (the lab's apt-get) does what Debian's postinst does: the
``postgres`` system user in the CT's own /etc/passwd, ``/etc/postgresql/VERSION/main`` with
Debian's defaults (``listen_addresses`` commented out = localhost only; pg_hba lets in the
loopback only) and a cluster in ``/var/lib/postgresql/VERSION/main``. ``systemctl start
postgresql`` runs the machine's ``postgres`` on that config as the CT's postgres user, so the
plan's own ``listen_addresses`` and ``pg_hba.conf`` lines decide who gets in, as in production.
VERSION is the machine's newest installed server (Debian 12: 15), the one a plan finds with
``ls -d /etc/postgresql/*/main``.

The cluster is a copy of a template made with ``initdb`` once per lab (``DIR/pg-template``):
initdb takes seconds on a busy machine, a copy a fraction, and every lab reset reinstalls CT 120.

Lab fault ``pg-hba-reject`` (:data:`REJECT_LINE`): the host's image ships a pg_hba.conf that
refuses every other host right after the loopback lines; a line a plan appends after it never
matches (pg_hba.conf is read top down, the first matching line decides).
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
import uuid
from pathlib import Path

from migrator.lab.standins.context import Context

SERVER_ROOT = Path("/usr/lib/postgresql")
SOCKET_DIR = Path("/run/postgresql")  # Debian's unix_socket_directories (bound per CT)
DATA_ROOT = Path("/var/lib/postgresql")  # the CT's (its mp0 where the plan gives one)
USER = "postgres"
FAULT = "pg-hba-reject"
REJECT_LINE = "host    all             all             0.0.0.0/0               reject  # image default"
# Debian's postgresql-common pg_hba.conf (15): peer on the socket, scram-sha-256 on loopback.
HBA_DEFAULT = """\
# Database administrative login by Unix domain socket
local   all             postgres                                peer

# TYPE  DATABASE        USER            ADDRESS                 METHOD

# "local" is for Unix domain socket connections only
local   all             all                                     peer
# IPv4 local connections:
host    all             all             127.0.0.1/32            scram-sha-256
# IPv6 local connections:
host    all             all             ::1/128                 scram-sha-256
# Allow replication connections from localhost, by a user with the
# replication privilege.
local   replication     all                                     peer
host    replication     all             127.0.0.1/32            scram-sha-256
host    replication     all             ::1/128                 scram-sha-256
"""


def version() -> str | None:
    """The machine's newest PostgreSQL server (``/usr/lib/postgresql/N/bin/postgres``)."""
    found = [p.parent.parent.name for p in SERVER_ROOT.glob("*/bin/postgres")]
    return max(found, key=lambda v: [int(x) if x.isdigit() else 0 for x in v.split(".")]) if found else None


def conf_dir(ver: str) -> Path:
    return Path(f"/etc/postgresql/{ver}/main")


def data_dir(ver: str) -> Path:
    return DATA_ROOT / ver / "main"


def default_conf(ver: str) -> str:
    """Debian's postgresql.conf, the lines that matter (paths as pg_createcluster writes them)."""
    return (
        f"# PostgreSQL configuration file (Debian postgresql-{ver}, as pg_createcluster writes it)\n"
        f"data_directory = '{data_dir(ver)}'\n"
        f"hba_file = '{conf_dir(ver)}/pg_hba.conf'\n"
        f"ident_file = '{conf_dir(ver)}/pg_ident.conf'\n"
        f"external_pid_file = '{SOCKET_DIR}/{ver}-main.pid'\n"
        "#listen_addresses = 'localhost'\t\t# what IP address(es) to listen on;\n"
        "port = 5432\t\t\t\t# (change requires restart)\n"
        "max_connections = 100\n"
        f"unix_socket_directories = '{SOCKET_DIR}'\n"
        "shared_buffers = 128MB\n"
        "dynamic_shared_memory_type = posix\n"
        "log_timezone = 'Etc/UTC'\n"
        "timezone = 'Etc/UTC'\n"
    )


def hba_default(faults: set[str]) -> str:
    return with_fault(HBA_DEFAULT) if FAULT in faults else HBA_DEFAULT


def with_fault(text: str) -> str:
    """``text`` with the reject line before the first line for a host beyond the loopback."""
    if REJECT_LINE in text:
        return text
    lines = text.splitlines()
    at = next(
        (i for i, line in enumerate(lines)
         if re.match(r"^\s*host", line) and not re.search(r"\s(127\.0\.0\.1/32|::1/128)\s", line)),
        len(lines),
    )  # fmt: skip
    return "\n".join([*lines[:at], REJECT_LINE, *lines[at:]]) + "\n"


def without_fault(text: str) -> str:
    return "".join(line for line in text.splitlines(keepends=True) if line.rstrip("\n") != REJECT_LINE)


def postinst(ctx: Context) -> None:
    """The postgres user, Debian's config files (kept if the admin already has them)."""
    ver = version()
    if ver is None:
        return
    if subprocess.run(["id", USER], capture_output=True, check=False).returncode != 0:
        subprocess.run(
            ["adduser", "--system", "--group", "--no-create-home", "--home", str(DATA_ROOT),
             "--shell", "/bin/bash", "--gecos", "PostgreSQL administrator", USER],
            check=True, capture_output=True,
        )  # fmt: skip
    conf = conf_dir(ver)
    conf.mkdir(parents=True, exist_ok=True)
    for name, text in (
        ("postgresql.conf", default_conf(ver)),
        ("pg_hba.conf", hba_default(ctx.faults())),
        ("pg_ident.conf", "# MAPNAME       SYSTEM-USERNAME         PG-USERNAME\n"),
    ):
        if not (conf / name).exists():
            (conf / name).write_text(text, encoding="utf-8")


def _chown_tree(top: Path, uid: int, gid: int) -> None:
    os.chown(top, uid, gid)
    for base, dirs, files in os.walk(top):
        for name in dirs + files:
            os.chown(os.path.join(base, name), uid, gid, follow_symlinks=False)


def _template(ctx: Context, ver: str, user: pwd.struct_passwd) -> Path:
    """DIR/pg-template/VERSION: an initdb'd cluster (made once per lab, then copied)."""
    template = ctx.lab_dir / "pg-template" / ver
    if template.is_dir():
        return template
    # initdb runs as postgres on a directory postgres owns; the CT's data root is one.
    scratch = DATA_ROOT / f".initdb-{uuid.uuid4().hex[:8]}"
    scratch.mkdir(mode=0o700)
    os.chown(scratch, user.pw_uid, user.pw_gid)
    try:
        subprocess.run(
            [str(SERVER_ROOT / ver / "bin/initdb"), "-D", str(scratch), "-U", USER, "-E", "UTF8",
             "--locale=C.UTF-8", "--auth-local=peer", "--auth-host=scram-sha-256", "--no-sync"],
            user=user.pw_uid, group=user.pw_gid, extra_groups=[], cwd="/",
            capture_output=True, text=True, check=True, timeout=120,
        )  # fmt: skip
        template.parent.mkdir(parents=True, exist_ok=True)
        partial = template.with_name(f"{ver}.{uuid.uuid4().hex[:8]}")
        shutil.copytree(scratch, partial, symlinks=True)
        try:
            partial.rename(template)  # atomic: two first starts at once keep one template
        except OSError:
            shutil.rmtree(partial, ignore_errors=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return template


def ensure_cluster(ctx: Context) -> str:
    """The CT's cluster in place (a copy of the lab's template); returns the version."""
    ver = version()
    if ver is None:
        raise FileNotFoundError(f"no PostgreSQL server in {SERVER_ROOT}: apt-get install postgresql")
    user = pwd.getpwnam(USER)
    data = data_dir(ver)
    DATA_ROOT.mkdir(parents=True, exist_ok=True)
    os.chown(DATA_ROOT, user.pw_uid, user.pw_gid)
    if not (data / "PG_VERSION").exists():
        template = _template(ctx, ver, user)
        data.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(data, ignore_errors=True)
        shutil.copytree(template, data, symlinks=True)
        _chown_tree(data.parent, user.pw_uid, user.pw_gid)
        data.chmod(0o700)
    _drop_stale_lock(data, ver)
    SOCKET_DIR.mkdir(parents=True, exist_ok=True)
    os.chown(SOCKET_DIR, user.pw_uid, user.pw_gid)
    SOCKET_DIR.chmod(0o2775)
    return ver


def _drop_stale_lock(data: Path, ver: str) -> None:
    """A postmaster.pid left by a postmaster that died with its lab host (``lab down`` ends the
    host's PID namespace): its PID may now be another process, which postgres takes for a
    running postmaster ("lock file already exists"). Removed only when that PID runs no
    postgres of this version; a live one keeps its lock and the new start fails, as it should."""
    lock = data / "postmaster.pid"
    try:
        pid = int(lock.read_text(encoding="utf-8").split()[0])
    except (OSError, ValueError, IndexError):
        return
    from migrator.lab.procs import cmdline

    if cmdline(pid)[:1] != [str(SERVER_ROOT / ver / "bin/postgres")]:
        lock.unlink(missing_ok=True)


def argv(ver: str) -> list[str]:
    """The postmaster in the foreground on the CT's config (as pg_ctlcluster starts it)."""
    return [str(SERVER_ROOT / ver / "bin/postgres"), "-c", f"config_file={conf_dir(ver)}/postgresql.conf"]


def run_as() -> tuple[int, int]:
    user = pwd.getpwnam(USER)
    return user.pw_uid, user.pw_gid
