"""The services behind the lab's tunnels: the real redis-server, and MongoDB- and HTTP-ish responders.

One process (started by ``migrator lab up``, stopped by ``down``) listens on every tunnel
server's ``connect`` address of the lab's tunnel inventory (``plans/tunnels.lab.yaml``, all
127.x) but OffRedis's, and answers what the stunnel plan's probes ask. Fakes, named as such:

* MongoDB: ``OP_MSG`` ``hostInfo`` (``system.hostname`` is ``mongodb``, as off1 CT 102 answers),
  ``ping``, ``hello``/``isMaster`` (MongoDB cannot run on the lab machine);
* InfluxDB ``GET /ping`` -> 204, Robotoff ``GET /api/v1/health`` -> 200,
  off-query ``POST /select`` -> 200 (405 to a GET).

Every request is logged (``DIR/backends.log``) with the service and the peer, so a test can
tell that the probe's bytes reached the back-end (through the stunnel server: the clients
only know the tunnels' client addresses).

OffRedis is Debian's real ``redis-server`` (``scripts/setup.sh``), as off2's CT 122 runs it:
the repo's config (confs/off-redis/redis/redis.conf: ``protected-mode no``, no password) on
the tunnel's connect address, nothing saved to disk. The stunnel server reaches it from the
CTs' private source address (``ct_sources``), not 127.0.0.1, so the fault
``redis-protected-mode`` on off2 (``protected-mode yes``, Redis's default) makes Redis answer
the tunnel ``-DENIED``, as it answered the team's stunnel server.
"""

from __future__ import annotations

import ipaddress
import socket
import socketserver
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from migrator.errors import LabError
from migrator.lab.layout import read_json
from migrator.lab.standins.wire import WireError, op_msg, read_op_msg

if TYPE_CHECKING:
    from migrator.lab.control import Lab

KEY = "backends"
START_TIMEOUT = 10.0
MONGODB_HOSTNAME = "mongodb"  # db.hostInfo()["system"]["hostname"] on off1 CT 102 (off-facts 5)
REDIS_SERVER = "/usr/bin/redis-server"
REAL_REDIS = "OffRedis"  # the service whose back-end is the real redis-server
REDIS_KEY = "backend-redis"  # its entry in the lab's pids file
REDIS_HOST = "off2"  # off-redis is off2's CT 122: the host a fault on it is set on
REDIS_FAULT = "redis-protected-mode"
# service -> HTTP path -> (status line, body)
HTTP_ROUTES: dict[str, dict[str, tuple[str, bytes]]] = {
    "InfluxDB": {"/ping": ("204 No Content", b"")},
    "Robotoff": {"/api/v1/health": ("200 OK", b'{"status":"healthy"}')},
    "off-query": {"/select": ("200 OK", b"[]")},
}
# The method each route answers (GET where not named): off-query's /select takes a POSTed JSON
# query, as the team tested it (2024-09-04 report); a GET there gets 405, as from the real service.
HTTP_METHODS: dict[str, dict[str, str]] = {"off-query": {"/select": "POST"}}


def _log(line: str) -> None:
    sys.stdout.write(f"{time.strftime('%H:%M:%S')} {line}\n")
    sys.stdout.flush()


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        peer = f"{self.client_address[0]}:{self.client_address[1]}"
        try:
            self.server.serve(self.request, peer)
        except (WireError, OSError, ValueError) as exc:
            _log(f"{self.server.service} {self.server.where} from {peer}: dropped ({exc})")


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, service: str, address: tuple[str, int]) -> None:
        self.service = service
        self.where = f"{address[0]}:{address[1]}"
        self.serve: Callable[[socket.socket, str], None] = _protocol(service, self)
        super().__init__(address, _Handler)
        host, port = self.socket.getsockname()[:2]
        self.where = f"{host}:{port}"  # the port actually bound (0 asks for a free one)


def _protocol(service: str, server: _Server) -> Callable[[socket.socket, str], None]:
    if service == "MongoDB":
        return lambda sock, peer: _mongodb(server, sock, peer)
    routes = HTTP_ROUTES.get(service, {})
    return lambda sock, peer: _http(server, routes, sock, peer)


def _mongodb(server: _Server, sock: socket.socket, peer: str) -> None:
    while True:
        try:
            request_id, command = read_op_msg(sock)
        except WireError:
            return  # the client hung up (or was not speaking OP_MSG)
        name = next(iter(command), "")
        reply: dict[str, Any]
        if name == "hostInfo":
            system = {"hostname": MONGODB_HOSTNAME, "numCores": 15}
            reply = {"system": system, "os": {"type": "Linux"}, "ok": 1.0}
        elif name in ("ping", "hello", "isMaster", "ismaster"):
            reply = {"ok": 1.0, "isWritablePrimary": True} if name != "ping" else {"ok": 1.0}
        else:
            reply = {"ok": 0.0, "errmsg": f"no such command: '{name}'", "code": 59}
        _log(f"MongoDB {server.where} {name} from {peer}")
        sock.sendall(op_msg(reply, request_id=request_id + 1, response_to=request_id))


def _http(server: _Server, routes: dict[str, tuple[str, bytes]], sock: socket.socket, peer: str) -> None:
    length = 0
    with sock.makefile("rb") as stream:
        request = stream.readline(8192).decode(errors="replace").split()
        while (header := stream.readline(8192)) not in (b"\r\n", b"\n", b""):
            name, _, value = header.decode(errors="replace").partition(":")
            if name.strip().lower() == "content-length" and value.strip().isdigit():
                length = int(value.strip())
        stream.read(min(length, 65536))  # the body (a POSTed query): read, so closing sends no RST
    if len(request) < 2:
        return  # a bare connect (nc -z, the start-up wait): nothing to answer
    method, path = request[0], request[1].split("?", 1)[0]
    status, body = routes.get(path, ("404 Not Found", b"404 page not found\n"))
    wanted = HTTP_METHODS.get(server.service, {}).get(path, "GET")
    if path in routes and method != wanted:
        status, body = "405 Method Not Allowed", b""
    _log(f"{server.service} {server.where} {method} {path} {status.split()[0]} from {peer}")
    head = f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n"
    if body:
        head += "Content-Type: application/json\r\n"
    sock.sendall(head.encode() + b"\r\n" + body)


def endpoints(tunnels_file: Path) -> list[tuple[str, str, int]]:
    """(service, address, port) of every tunnel server's connect; loopback only."""
    from migrator.stunnel.load import load_tunnels
    from migrator.stunnel.model import split_host_port

    inventory = load_tunnels(tunnels_file, str(tunnels_file)).inventory
    found = []
    for tunnel in inventory.tunnels:
        connect = split_host_port(tunnel.server.connect)
        try:
            loopback = connect.host is not None and ipaddress.ip_address(connect.host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise LabError(
                f"{tunnels_file}: {tunnel.service} connects to {tunnel.server.connect}",
                hint="a lab back-end listens on loopback addresses only (127.0.0.0/8)",
            )
        assert connect.host is not None
        found.append((tunnel.service, connect.host, connect.port))
    return found


def tunnel_accepts(tunnels_file: Path, host: str) -> list[str]:
    """``address:port`` of every tunnel end the inventory puts on ``host`` or its containers.

    What a squatter binds for the stunnel-port-busy fault before any config is deployed.
    """
    from migrator.stunnel.load import load_tunnels
    from migrator.stunnel.model import ClientSide, ServerSide, split_host_port

    inventory = load_tunnels(tunnels_file, str(tunnels_file)).inventory
    found = set()
    for tunnel in inventory.tunnels:
        ends: list[ServerSide | ClientSide] = [tunnel.server, *tunnel.clients]
        for end in ends:
            if end.host.split("/", 1)[0] == host:
                accept = split_host_port(end.accept)
                found.add(f"{accept.host or '127.0.0.1'}:{accept.port}")
    return sorted(found)


def _responders(tunnels_file: Path) -> list[tuple[str, str, int]]:
    """The endpoints the responder process serves: all but the real Redis's."""
    return [end for end in endpoints(tunnels_file) if end[0] != REAL_REDIS]


def serve(tunnels_file: Path) -> None:
    servers = [_Server(service, (address, port)) for service, address, port in _responders(tunnels_file)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        _log(f"{server.service} back-end listening on {server.where}")
    threading.Event().wait()


def _answering(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=0.5):
            return True
    except OSError:
        return False


def ensure_running(lab: Lab, tunnels_file: Path) -> bool:
    """Start the back-ends of ``tunnels_file`` unless they run; whether any was started."""
    started = _ensure_responders(lab, tunnels_file)
    return ensure_redis(lab, tunnels_file) or started


def _ensure_responders(lab: Lab, tunnels_file: Path) -> bool:
    if lab.running(KEY) is not None:
        return False
    argv = [sys.executable, "-m", "migrator.lab.standins.backends", str(tunnels_file), str(lab.paths.dir)]
    wanted = _responders(tunnels_file)
    _start(lab, KEY, argv, log=lab.paths.dir / "backends.log", cwd=Path(__file__).resolve().parents[3],
           ready=lambda: all(_answering(address, port) for _, address, port in wanted),
           what="the lab back-ends did not start",
           hint="another process may hold one of their addresses (ss -ltnp)")  # fmt: skip
    return True


def _start(lab: Lab, key: str, argv: list[str], *, log: Path, cwd: Path, ready: Callable[[], bool],
           what: str, hint: str) -> None:  # fmt: skip
    """Start ``argv`` in its own session (output appended to ``log``), wait until ``ready``,
    and record it as the lab's process ``key``; else stop it and raise with the log's tail."""
    from migrator.lab.marker import marked_env

    with log.open("ab") as out:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out, cwd=cwd,
                                start_new_session=True, env=marked_env(lab.paths.dir))  # fmt: skip
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline and proc.poll() is None:
        if ready():
            lab.record_extra(key, proc.pid, argv)
            return
        time.sleep(0.05)
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    raise LabError(f"{what}:\n{log.read_text(errors='replace')[-1500:]}", hint=hint)


def redis_config(address: str, port: int, directory: Path, protected: bool) -> str:
    """off-redis's config (confs/off-redis/redis/redis.conf) on the tunnel's connect address."""
    mode = "protected-mode no"
    if protected:
        mode = f"# lab fault {REDIS_FAULT}: Redis's default\nprotected-mode yes"
    return (
        "# migrator lab: off-redis (off2 CT 122) behind the OffRedis tunnel, as\n"
        "# confs/off-redis/redis/redis.conf: no password, protected mode off\n"
        f"bind {address}\nport {port}\n{mode}\n"
        f'daemonize no\nsupervised no\nlogfile ""\nsave ""\nappendonly no\ndir {directory}\n'
        # the config path in the process title: what `lab.running` recognises it by
        'proc-title-template "{title} {listen-addr} {config-file}"\n'
    )


def _redis_endpoint(tunnels_file: Path) -> tuple[str, int] | None:
    return next(((a, p) for service, a, p in endpoints(tunnels_file) if service == REAL_REDIS), None)


def ensure_redis(lab: Lab, tunnels_file: Path) -> bool:
    """The real redis-server behind the OffRedis tunnel unless it runs; whether it was started.
    ``protected-mode yes`` while off2 has the fault ``redis-protected-mode``."""
    endpoint = _redis_endpoint(tunnels_file)
    if endpoint is None or lab.running(REDIS_KEY) is not None:
        return False
    if not Path(REDIS_SERVER).exists():
        raise LabError(f"{REDIS_SERVER} is not on the lab machine", hint="apt-get install redis-server")
    address, port = endpoint
    directory = lab.paths.dir / "backend-redis"
    directory.mkdir(exist_ok=True)
    faults = read_json(lab.paths.faults(REDIS_HOST), [])
    protected = isinstance(faults, list) and REDIS_FAULT in faults
    conf = directory / "redis.conf"
    conf.write_text(redis_config(address, port, directory, protected), encoding="utf-8")
    _start(lab, REDIS_KEY, [REDIS_SERVER, str(conf)], log=lab.paths.dir / "backend-redis.log", cwd=directory,
           ready=lambda: _answering(address, port), what=f"redis-server did not start on {address}:{port}",
           hint="another process may hold its address (ss -ltnp)")  # fmt: skip
    return True


def restart_redis(lab: Lab, tunnels_file: Path) -> None:
    """Stop the real redis-server and start it on the current faults (set or cleared)."""
    lab.stop_extra(REDIS_KEY)
    ensure_redis(lab, tunnels_file)


if __name__ == "__main__":
    serve(Path(sys.argv[1]))  # argv[2] (the lab dir) only marks the process as this lab's
