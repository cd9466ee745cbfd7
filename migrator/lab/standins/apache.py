"""The apache2 unit of off's CT 113: Debian's real ``/usr/sbin/apache2`` on the CT's own config.

Where off (Product Opener) runs, apache2 answers the site's virtual hosts. The lab cannot run
Product Opener, but it runs the real web server: ``migrator lab up`` writes the CT a minimal
``/etc/apache2`` from the lab's definition (:func:`write_config`: ``Listen`` on the CT's own
address and the port ``verify-off`` checks, off's virtual host with a static page, a default
virtual host that answers 404 to any other name, only modules the machine has), and
``systemctl start apache2`` runs ``apache2 -D FOREGROUND`` on it, in the CT's mount namespace,
recorded like redis-server's and postgresql's (``datastores.start``). Its pid file, lock
files and error log live in the CT's lab state (:data:`RUNTIME`), never the machine's /run or
/var/log; the CT's ``envvars`` says so too, so Debian's ``apache2ctl configtest`` (which sources
it and makes those directories) reads the same files. ``systemctl reload apache2`` is Debian's
``apachectl graceful``: a config test first (a broken config fails the reload and the running
server goes on), then SIGUSR1.

Lab fault ``apache-config-broken`` (:data:`FAULT`): the CT's apache2.conf uses mod_rewrite
without loading it (``a2enmod rewrite`` forgotten), which the real apache refuses ("Invalid
command 'RewriteEngine'"): the running server goes on, its next start fails.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from migrator.lab.layout import STATE_DIR
from migrator.lab.procs import matches
from migrator.lab.standins.context import Context

APACHE2 = "/usr/sbin/apache2"
MODULES = Path("/usr/lib/apache2/modules")
CONF_DIR = Path("/etc/apache2")
CONF = CONF_DIR / "apache2.conf"
PORTS = CONF_DIR / "ports.conf"
RUNTIME = Path(STATE_DIR) / "apache2"  # as the CT sees it: its own lab state
HEADER = "# migrator lab: CT's apache2.conf (written by `migrator lab up` from the lab's definition)\n"
FAULT = "apache-config-broken"
FAULT_LINES = (
    "# migrator lab fault apache-config-broken: off's rewrite rules, mod_rewrite not enabled\n"
    "RewriteEngine On\n"
)
OFF_PAGE = "<html><body>Open Food Facts (migrator lab: Debian's apache2, static page)</body></html>\n"


def _mpm() -> str | None:
    """mpm_event if the machine has it, else prefork (the Debian default is event)."""
    for name in ("mpm_event", "mpm_prefork"):
        if (MODULES / f"mod_{name}.so").exists():
            return name
    return None


def modules() -> list[str]:
    """The modules the minimal config loads: an MPM and what serves a static page, if present."""
    wanted = [_mpm() or "mpm_event", "authz_core", "dir", "mime"]
    return [m for m in wanted if (MODULES / f"mod_{m}.so").exists()]


def apache2_conf(server_name: str) -> str:
    runtime = RUNTIME
    loads = "".join(f"LoadModule {m}_module {MODULES}/mod_{m}.so\n" for m in modules())
    return (
        HEADER + f'ServerRoot "{CONF_DIR}"\n'
        f"ServerName {server_name}\n"
        f"DefaultRuntimeDir {runtime}/run\n"
        f"PidFile {runtime}/run/apache2.pid\n"
        f"Mutex file:{runtime}/lock default\n"
        f"ErrorLog {runtime}/log/error.log\n"
        "LogLevel warn\n"
        f"{loads}"
        "User www-data\nGroup www-data\n"
        # the CT's own /etc has no mime.types (mime-support is not in the lab's image)
        + ("TypesConfig /dev/null\nAddType text/html .html\n" if "mime" in modules() else "")
        + "DirectoryIndex index.html\n"
        "Include ports.conf\n"
        "IncludeOptional sites-enabled/*.conf\n"
    )


def envvars() -> str:
    """Debian's /etc/apache2/envvars with the CT's own run, lock and log directories."""
    return (
        "# migrator lab: Debian's envvars, the directories in the CT's own lab state\n"
        "unset HOME\nexport APACHE_RUN_USER=www-data\nexport APACHE_RUN_GROUP=www-data\n"
        f"export APACHE_PID_FILE={RUNTIME}/run/apache2.pid\nexport APACHE_RUN_DIR={RUNTIME}/run\n"
        f"export APACHE_LOCK_DIR={RUNTIME}/lock\nexport APACHE_LOG_DIR={RUNTIME}/log\nexport LANG=C\n"
    )


def write_config(root: Path, address: str, port: int, site: str, faults: set[str]) -> bool:
    """The CT's (``root``) /etc/apache2 and off's page (once: an admin's edits are kept);
    whether it wrote them."""
    etc = root / str(CONF).lstrip("/")
    if etc.exists() and etc.read_text(encoding="utf-8").startswith(HEADER):
        return False
    conf = apache2_conf(site)
    (etc.parent / "sites-enabled").mkdir(parents=True, exist_ok=True)
    etc.write_text(with_fault(conf) if FAULT in faults else conf, encoding="utf-8")
    (etc.parent / "envvars").write_text(envvars(), encoding="utf-8")
    (etc.parent / "ports.conf").write_text(f"Listen {address}:{port}\n", encoding="utf-8")
    (etc.parent / "sites-enabled/000-default.conf").write_text(  # any other name: 404
        f"<VirtualHost {address}:{port}>\n\tServerName default.invalid\n"
        f"\tDocumentRoot {RUNTIME}/empty\n</VirtualHost>\n",
        encoding="utf-8",
    )
    (etc.parent / "sites-enabled/off.conf").write_text(
        f"<VirtualHost {address}:{port}>\n\tServerName {site}\n\tServerAlias *.openfoodfacts.org\n"
        "\tDocumentRoot /srv/off/html\n</VirtualHost>\n",
        encoding="utf-8",
    )
    html = root / "srv/off/html"
    html.mkdir(parents=True, exist_ok=True)
    (html / "index.html").write_text(OFF_PAGE, encoding="utf-8")
    for sub in ("run", "lock", "log", "empty"):
        (root / str(RUNTIME).lstrip("/") / sub).mkdir(parents=True, exist_ok=True)
    return True


def with_fault(text: str) -> str:
    return text if FAULT_LINES in text else text + FAULT_LINES


def without_fault(text: str) -> str:
    return text.replace(FAULT_LINES, "")


def listen_addresses() -> list[str]:
    """``Listen ADDRESS:PORT`` lines of apache2.conf and ports.conf (a bare port: every address)."""
    found: list[str] = []
    for path in (CONF, PORTS):
        if path.exists():
            found += re.findall(r"^\s*Listen\s+(\S+)", path.read_text(encoding="utf-8"), re.M)
    return [spec if ":" in spec else f"0.0.0.0:{spec}" for spec in found]


def argv(ctx: Context) -> list[str]:
    """The real apache2 in the foreground on the CT's config. The ``Define`` names the lab's
    directory, so a scan of /proc (``pgrep -f``, the tests) tells this lab's apache2 from any other."""
    for sub in ("run", "lock", "log", "empty"):
        (RUNTIME / sub).mkdir(parents=True, exist_ok=True)
    return [APACHE2, "-d", str(CONF_DIR), "-f", str(CONF), "-D", "FOREGROUND",
            "-C", f"Define MIGRATOR_LAB_DIR {ctx.lab_dir}"]  # fmt: skip


def _journal(ctx: Context) -> Path:
    directory = ctx.state_dir / "journal"
    directory.mkdir(exist_ok=True)
    return directory / "apache2.log"


def reload(ctx: Context, state: dict[str, Any]) -> int:
    """``systemctl reload apache2``: Debian's ``apachectl graceful`` (config test, then SIGUSR1)."""
    info = state["units"].get("apache2", {})
    pid = info.get("pid")
    if not pid or not matches(int(pid), info["argv"], info.get("pidns")):
        sys.stderr.write("apache2.service is not active, cannot reload.\n")
        return 1
    test = subprocess.run([*argv(ctx)[:5], "-t"], capture_output=True, text=True, check=False)
    with _journal(ctx).open("a", encoding="utf-8") as log:
        log.write(test.stderr)
    if test.returncode != 0:
        sys.stderr.write(
            "Job for apache2.service failed because the control process exited with error code.\n"
            'See "systemctl status apache2.service" and "journalctl -xeu apache2.service" for details.\n'
        )
        return 1
    os.kill(int(pid), signal.SIGUSR1)
    return 0
