"""Fake apache2 unit: ``systemctl start apache2`` starts a tiny HTTP responder (a fake, named so).

Where off (Product Opener) runs, apache2 answers the site's virtual hosts. The lab cannot run
Product Opener; it runs a real TCP listener on the ``Listen`` addresses of the host's (or
container's) ``/etc/apache2/ports.conf`` that answers ``200`` for a ``Host`` named by a
``ServerName``/``ServerAlias`` of ``/etc/apache2/sites-enabled/*.conf`` and ``404`` otherwise,
so ``curl``, ``tcp_open`` and ``http_status`` checks see a real answer. ``systemctl stop``
stops it (its PID is recorded like stunnel's and mongod's).
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from migrator.lab.procs import cmdline, pid_namespace
from migrator.lab.standins.context import Context

PORTS = Path("/etc/apache2/ports.conf")
SITES = Path("/etc/apache2/sites-enabled")
START_GRACE = 0.3
# argv: lab dir (so `lab down` and /proc scans find it), names (comma-separated), ADDRESS:PORT...
RESPONDER = (
    "import fnmatch,socketserver,sys,threading\n"
    "names=[n for n in sys.argv[2].split(',') if n]\n"
    "class H(socketserver.StreamRequestHandler):\n"
    "    def handle(self):\n"
    "        head=b''\n"
    "        while not head.endswith(b'\\r\\n\\r\\n') and len(head)<65536:\n"
    "            c=self.rfile.read(1)\n"
    "            if not c: break\n"
    "            head+=c\n"
    "        host=''\n"
    "        for line in head.decode('latin-1').split('\\r\\n')[1:]:\n"
    "            if line.lower().startswith('host:'): host=line.split(':',1)[1].strip().split(':')[0]\n"
    "        ok=not names or any(fnmatch.fnmatch(host,n) for n in names)\n"
    "        body=b'Open Food Facts (migrator lab apache2 stand-in)\\n' if ok else b'Not Found\\n'\n"
    "        status=b'200 OK' if ok else b'404 Not Found'\n"
    "        self.wfile.write(b'HTTP/1.1 '+status+b'\\r\\nContent-Length: '+str(len(body)).encode()\n"
    "            +b'\\r\\nConnection: close\\r\\n\\r\\n'+body)\n"
    "class S(socketserver.ThreadingTCPServer):\n"
    "    allow_reuse_address=True\n"
    "    daemon_threads=True\n"
    "servers=[S((s.rsplit(':',1)[0],int(s.rsplit(':',1)[1])),H) for s in sys.argv[3:]]\n"
    "for s in servers: threading.Thread(target=s.serve_forever).start()\n"
)


def listen_addresses() -> list[str]:
    """``Listen ADDRESS:PORT`` lines of ports.conf (a bare port would mean every address)."""
    if not PORTS.exists():
        return []
    found = re.findall(r"^\s*Listen\s+(\S+)", PORTS.read_text(encoding="utf-8"), re.M)
    return [spec if ":" in spec else f"0.0.0.0:{spec}" for spec in found]


def server_names() -> list[str]:
    names: list[str] = []
    for site in sorted(SITES.glob("*.conf")) if SITES.is_dir() else []:
        for match in re.finditer(r"^\s*Server(?:Name|Alias)\s+(.+)$", site.read_text(encoding="utf-8"), re.M):
            names += match.group(1).split()
    return names


def _log(ctx: Context) -> Path:
    """The unit's journal (``journalctl -u apache2``), in the host's own state: not the machine's /var/log."""
    directory = ctx.state_dir / "journal"
    directory.mkdir(exist_ok=True)
    return directory / "apache2.log"


def _failed(ctx: Context, state: dict[str, Any], enabled: bool, why: str) -> int:
    state["units"]["apache2"] = {"state": "failed", "enabled": enabled}
    with _log(ctx).open("a", encoding="utf-8") as log:
        log.write(f"AH00015: Unable to open logs / {why}\n")
    sys.stderr.write(
        "Job for apache2.service failed because the control process exited with error code.\n"
        'See "systemctl status apache2.service" and "journalctl -xeu apache2.service" for details.\n'
    )
    return 1


def start_apache2(ctx: Context, state: dict[str, Any], enabled: bool) -> int:
    addresses = listen_addresses()
    if not addresses:
        return _failed(ctx, state, enabled, "no listening sockets available, shutting down")
    argv = [sys.executable, "-c", RESPONDER, str(ctx.lab_dir), ",".join(server_names()), *addresses]
    with _log(ctx).open("a", encoding="utf-8") as log:
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
        )
    time.sleep(START_GRACE)
    if proc.poll() is not None:
        return _failed(ctx, state, enabled, f"could not bind to {', '.join(addresses)}")
    state["units"]["apache2"] = {
        "pid": proc.pid,
        "argv": cmdline(proc.pid),
        "pidns": pid_namespace(proc.pid),
        "since": time.time(),
        "enabled": enabled,
    }
    return 0
