"""Fake MongoDB 4.4 tools: ``mongodump``, ``mongorestore``, ``mongo``, and the mongod unit.

``systemctl start mongod`` where /etc/mongod.conf exists starts a real TCP listener on the
config's ``net.bindIp`` addresses and ``net.port`` (so ``ss``, ``tcp_open`` and
``listening_only_on`` see a real socket) and writes /var/log/mongodb/mongod.log; without a
config (off3's old system) the unit is only marked active. The client tools answer only
while the host's mongod unit is active, and print the real tools' messages.
"""

from __future__ import annotations

import gzip
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from migrator.lab.procs import cmdline, pid_namespace
from migrator.lab.standins.context import Context, ToolError, out

CONF = Path("/etc/mongod.conf")
LOG = Path("/var/log/mongodb/mongod.log")
REFUSED = (
    "Failed: can't create session: could not connect to server: connection() error occurred during "
    "connection handshake: dial tcp 127.0.0.1:27017: connect: connection refused"
)
LISTENER = (
    "import socket,sys,time\n"
    "socks=[]\n"
    "for spec in sys.argv[2:]:\n"
    "    a,p=spec.rsplit(':',1); s=socket.socket(); s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
    "    s.bind((a,int(p))); s.listen(); socks.append(s)\n"
    "print('listening',flush=True)\n"
    "while True:\n"
    "    for s in socks:\n"
    "        s.settimeout(0.2)\n"
    "        try: s.accept()[0].close()\n"
    "        except OSError: pass\n"
)
START_GRACE = 0.3


def _stamp() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000+0000", time.gmtime())


def _running(ctx: Context) -> bool:
    from migrator.lab.standins.system import unit_state

    return unit_state(ctx, ctx.load(), "mongod")[0] == "active"


def _archive(args: list[str]) -> Path:
    found = [a.split("=", 1)[1] for a in args if a.startswith("--archive=")]
    if not found:
        raise ToolError("Failed: the lab stand-in needs --archive=FILE", 1)
    return Path(found[0])


def mongodump(ctx: Context) -> int:
    if not _running(ctx):
        raise ToolError(f"{_stamp()}\t{REFUSED}", 1)
    archive = _archive(ctx.args)
    db = Path("/mongo/db")
    listing = "".join(f"{p.name}\t{p.stat().st_size}\n" for p in sorted(db.glob("*")) if p.is_file())
    opener: Any = gzip.open if "--gzip" in ctx.args else open
    with opener(archive, "wt") as dump:
        dump.write(listing)
    for collection in ("off.products", "off.products_obsolete"):
        sys.stderr.write(f"{_stamp()}\twriting {collection} to archive '{archive}'\n")
        sys.stderr.write(f"{_stamp()}\tdone dumping {collection} (2915214 documents)\n")
    return 0


def mongorestore(ctx: Context) -> int:
    archive = _archive(ctx.args)
    if not archive.exists():
        raise ToolError(f"{_stamp()}\tFailed: stat {archive}: no such file or directory", 1)
    if not _running(ctx):
        raise ToolError(f"{_stamp()}\t{REFUSED}", 1)
    sys.stderr.write(
        f"{_stamp()}\tpreparing collections to restore from\n"
        f"{_stamp()}\tdry run completed\n"
        f"{_stamp()}\t0 document(s) restored successfully. 0 document(s) failed to restore.\n"
    )
    return 0


def mongo(ctx: Context) -> int:
    if not _running(ctx):
        raise ToolError(
            "MongoDB shell version v4.4.25\nconnecting to: mongodb://127.0.0.1:27017/\n"
            "Error: couldn't connect to server 127.0.0.1:27017, connection attempt failed: "
            "SocketException: Error connecting to 127.0.0.1:27017 :: caused by :: Connection refused",
            1,
        )
    expression = ctx.args[ctx.args.index("--eval") + 1] if "--eval" in ctx.args else ""
    if "hostname" in expression:
        out(Path("/etc/hostname").read_text(encoding="utf-8").strip())
    return 0


def _listen_addresses() -> list[str]:
    text = CONF.read_text(encoding="utf-8")
    bind = re.search(r"^\s*bindIp:\s*(\S+)", text, re.M)
    port = re.search(r"^\s*port:\s*(\d+)", text, re.M)
    addresses = bind.group(1).split(",") if bind else ["127.0.0.1"]
    return [f"{a}:{port.group(1) if port else 27017}" for a in addresses]


def start_mongod(ctx: Context, state: dict[str, Any], enabled: bool) -> int:
    """``systemctl start mongod``: a listener where mongod.conf says, a log, a recorded PID."""
    if not CONF.exists():
        state["units"]["mongod"] = {"state": "active", "since": time.time(), "enabled": enabled}
        return 0
    LOG.parent.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-c", LISTENER, str(ctx.lab_dir), *_listen_addresses()]
    with LOG.open("a", encoding="utf-8") as log:
        log.write(f'{{"t":{{"$date":"{_stamp()}"}},"s":"I","c":"CONTROL","msg":"MongoDB starting"}}\n')
        log.flush()
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
        )
    time.sleep(START_GRACE)
    if proc.poll() is not None:
        state["units"]["mongod"] = {"state": "failed", "enabled": enabled}
        sys.stderr.write(
            "Job for mongod.service failed because the control process exited with error code.\n"
        )
        return 1
    with LOG.open("a", encoding="utf-8") as log:
        log.write(f'{{"t":{{"$date":"{_stamp()}"}},"s":"I","c":"NETWORK","msg":"Waiting for connections"}}\n')
    state["units"]["mongod"] = {
        "pid": proc.pid,
        "argv": cmdline(proc.pid),
        "pidns": pid_namespace(proc.pid),
        "since": time.time(),
        "enabled": enabled,
    }
    return 0
