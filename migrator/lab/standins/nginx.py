"""The nginx unit of off1's old Debian (before its move): Debian's real ``/usr/sbin/nginx``.

Until the window, off1 still serves the web in front of off (plans/off1.yaml ``stop-services``
stops its ``nginx`` and checks ``systemd_active nginx.service inactive``; the step's rollback
starts it again). ``migrator lab up`` writes off1 a minimal ``/etc/nginx/nginx.conf`` from the
lab's definition (:func:`write_config`: ``listen`` on the host's own loopback address and port
80, off's ``server_name`` answering a static line, any other name 404; pid file, error log and
temp paths under the host's lab state, :data:`RUNTIME`, never the machine's /run or /var/log)
and ``systemctl start nginx`` runs the machine's nginx (package nginx-light) on it in the
foreground (Debian's unit says ``daemon on``: the lab's units run in the foreground), in the
host's mount namespace, recorded like redis-server's and apache2's (``datastores.start``).
``systemctl stop nginx`` stops the master (SIGTERM, nginx's fast shutdown), which ends its workers.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from migrator.lab.layout import STATE_DIR
from migrator.lab.standins.context import Context

NGINX = "/usr/sbin/nginx"
CONF = Path("/etc/nginx/nginx.conf")
RUNTIME = Path(STATE_DIR) / "nginx"  # as the host sees it: its own lab state
TEMP = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
HEADER = "# migrator lab: the host's nginx.conf (written by `migrator lab up` from the lab's definition)\n"
OFF_LINE = "Open Food Facts (migrator lab: Debian's nginx)"


def nginx_conf(address: str, port: int, site: str, *, root: bool) -> str:
    temps = "".join(f"\t{t}_temp_path {RUNTIME}/{t};\n" for t in TEMP)
    return (
        HEADER + ("user www-data;\n" if root else "") + "worker_processes 1;\n"
        f"pid {RUNTIME}/nginx.pid;\n"
        f"error_log {RUNTIME}/error.log;\n"
        "events {\n\tworker_connections 64;\n}\n"
        "http {\n"
        f"\taccess_log {RUNTIME}/access.log;\n"
        f"{temps}"
        "\tdefault_type text/plain;\n"
        f"\tserver {{\n\t\tlisten {address}:{port} default_server;\n\t\tserver_name _;\n"
        "\t\treturn 404;\n\t}\n"
        f"\tserver {{\n\t\tlisten {address}:{port};\n\t\tserver_name {site} *.openfoodfacts.org;\n"
        f'\t\tlocation / {{\n\t\t\treturn 200 "{OFF_LINE}\\n";\n\t\t}}\n\t}}\n'
        "}\n"
    )


def write_config(root: Path, address: str, port: int, site: str) -> bool:
    """The host's (``root``) /etc/nginx/nginx.conf (once: an admin's edits are kept); whether it wrote it."""
    conf = root / str(CONF).lstrip("/")
    if conf.exists() and conf.read_text(encoding="utf-8").startswith(HEADER):
        return False
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text(nginx_conf(address, port, site, root=os.geteuid() == 0), encoding="utf-8")
    return True


def listen_addresses() -> list[str]:
    """``listen ADDRESS:PORT`` of nginx.conf (a bare port: every address)."""
    text = CONF.read_text(encoding="utf-8") if CONF.exists() else ""
    found = re.findall(r"^\s*listen\s+([^\s;]+)", text, re.M)
    return list(dict.fromkeys(spec if ":" in spec else f"0.0.0.0:{spec}" for spec in found))


def argv(ctx: Context) -> list[str]:
    """The real nginx in the foreground on the host's config. ``-e`` is its error log before the
    config is read (the machine's /var/log/nginx otherwise); the ``env`` names the lab's directory,
    so a scan of /proc (``pgrep -f``, the tests) tells this lab's nginx master from any other."""
    RUNTIME.mkdir(parents=True, exist_ok=True)
    return [NGINX, "-c", str(CONF), "-e", str(RUNTIME / "error.log"),
            "-g", f"daemon off; master_process on; env MIGRATOR_LAB_DIR={ctx.lab_dir};"]  # fmt: skip
