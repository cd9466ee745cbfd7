"""Fake ``mongosh``: real requests over TCP, as the plans' probes use it (MongoDB cannot run here).

It sends a real (subset) OP_MSG request to the address it is given (in the plans: a stunnel
client's accept) and prints what the real tool prints for the answer, so a probe passes
only if the bytes crossed the tunnel to a back-end and back. Supported:

* ``mongosh [--quiet] --host HOST[:PORT] [--port PORT] --eval EXPR`` where EXPR is
  ``db.hostInfo()`` with an optional ``["a"]["b"]``/``.a.b`` path, or a ``ping`` command
  (``db.runCommand({ping: 1})``, ``db.adminCommand('ping')``).

``redis-cli`` is the real one (package redis-tools), talking to the real redis-server.
"""

from __future__ import annotations

import re
import socket
from typing import Any

from migrator.lab.standins.context import Context, ToolError, out
from migrator.lab.standins.wire import WireError, op_msg, read_op_msg

TIMEOUT = 10.0
_PATH = re.compile(r"""\[\s*["']([^"']+)["']\s*\]|\.([A-Za-z_]\w*)""")
_PING = re.compile(
    r"""^db\.(?:runCommand\(\s*\{\s*["']?ping["']?\s*:\s*1\s*\}\s*\)|adminCommand\(\s*["']ping["']\s*\))$"""
)


def _option(args: list[str], *names: str) -> str | None:
    for i, arg in enumerate(args):
        for name in names:
            if arg == name and i + 1 < len(args):
                return args[i + 1]
            if name.startswith("--") and arg.startswith(name + "="):
                return arg.split("=", 1)[1]
    return None


def _connect(host: str, port: int, refused: str) -> socket.socket:
    try:
        return socket.create_connection((host, port), timeout=TIMEOUT)
    except ConnectionRefusedError as exc:
        raise ToolError(refused, 1) from exc
    except OSError as exc:
        raise ToolError(f"{refused.split(':', maxsplit=1)[0]}: {exc.strerror or exc}", 1) from exc


# ------------------------------------------------------------------ mongosh


def _mongo_target(args: list[str]) -> tuple[str, int]:
    host = _option(args, "--host") or next(
        (a for a in args if not a.startswith("-") and a not in _values(args)), "127.0.0.1"
    )
    host = re.sub(r"^mongodb://", "", host).split("/", 1)[0]
    port = _option(args, "--port")
    if ":" in host:
        host, _, found = host.rpartition(":")
        port = port or found
    return host, int(port or 27017)


def _values(args: list[str]) -> set[str]:
    """Arguments that are option values (not a positional URI)."""
    return {args[i + 1] for i, a in enumerate(args[:-1]) if a in ("--host", "--port", "--eval", "-u", "-p")}


def _command_for(expression: str) -> tuple[dict[str, Any], list[str]]:
    """(command document, result path) for the supported ``--eval`` expressions."""
    text = expression.strip().rstrip(";")
    if _PING.match(text):
        return {"ping": 1, "$db": "admin"}, []
    if text.startswith("db.hostInfo()"):
        rest = text[len("db.hostInfo()") :]
        path = [a or b for a, b in _PATH.findall(rest)]
        if _PATH.sub("", rest).strip():
            raise ToolError(f"lab mongosh stand-in: cannot evaluate {expression!r}", 1)
        return {"hostInfo": 1, "$db": "admin"}, path
    raise ToolError(
        f"lab mongosh stand-in: cannot evaluate {expression!r} (db.hostInfo()[...] or ping only)", 1
    )


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k}: {_show(v)}" for k, v in value.items()) + " }"
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).lower() if isinstance(value, bool) else str(value)


def mongosh(ctx: Context) -> int:
    expression = _option(ctx.args, "--eval")
    if expression is None:
        raise ToolError("lab mongosh stand-in: only --eval is supported (no interactive shell)", 1)
    command, path = _command_for(expression)
    host, port = _mongo_target(ctx.args)
    where = f"{host}:{port}"
    with _connect(host, port, f"MongoNetworkError: connect ECONNREFUSED {where}") as sock:
        try:
            sock.sendall(op_msg(command, request_id=1))
            _, reply = read_op_msg(sock)
        except (WireError, OSError) as exc:
            raise ToolError(f"MongoNetworkError: connection 1 to {where} closed ({exc})", 1) from exc
    if reply.get("ok") != 1.0:
        raise ToolError(f"MongoServerError: {reply.get('errmsg', 'command failed')}", 1)
    value: Any = {"ok": 1} if "ping" in command else reply
    for key in path:
        if not isinstance(value, dict):
            raise ToolError(f"TypeError: Cannot read properties of undefined (reading '{key}')", 1)
        value = value.get(key)
    out(_show(value) if value is not None else "undefined")
    return 0
