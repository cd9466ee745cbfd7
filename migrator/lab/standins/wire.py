"""Just enough of the MongoDB wire protocol for the lab's probe and back-end (MongoDB cannot run here).

The lab's ``mongosh`` stand-in and its MongoDB responder speak these bytes through the real
stunnel TLS-PSK tunnels, so a probe passes only if the tunnel carries a real request and its
answer end to end. Fakes, named as such: a tiny subset of BSON (strings, int32/int64, doubles,
booleans, documents) in an ``OP_MSG``. Redis needs none: the lab runs the real redis-server
and redis-cli.
"""

from __future__ import annotations

import socket
import struct
from typing import Any

OP_MSG = 2013
MAX_MESSAGE = 1 << 20


class WireError(Exception):
    """The peer sent something this subset does not understand (or closed early)."""


# ------------------------------------------------------------------ BSON (subset)


def bson_encode(doc: dict[str, Any]) -> bytes:
    body = b""
    for key, value in doc.items():
        name = key.encode() + b"\0"
        if isinstance(value, bool):
            body += b"\x08" + name + (b"\x01" if value else b"\x00")
        elif isinstance(value, int):
            body += b"\x10" + name + struct.pack("<i", value)
        elif isinstance(value, float):
            body += b"\x01" + name + struct.pack("<d", value)
        elif isinstance(value, str):
            raw = value.encode() + b"\0"
            body += b"\x02" + name + struct.pack("<i", len(raw)) + raw
        elif isinstance(value, dict):
            body += b"\x03" + name + bson_encode(value)
        else:
            raise WireError(f"cannot encode {type(value).__name__} in the lab's BSON subset")
    return struct.pack("<i", len(body) + 5) + body + b"\0"


def bson_decode(data: bytes) -> dict[str, Any]:
    (length,) = struct.unpack_from("<i", data)
    doc: dict[str, Any] = {}
    pos = 4
    while pos < length - 1:
        kind = data[pos]
        end = data.index(b"\0", pos + 1)
        key = data[pos + 1 : end].decode()
        pos = end + 1
        if kind == 0x08:
            doc[key], pos = data[pos] == 1, pos + 1
        elif kind == 0x10:
            doc[key], pos = struct.unpack_from("<i", data, pos)[0], pos + 4
        elif kind == 0x12:
            doc[key], pos = struct.unpack_from("<q", data, pos)[0], pos + 8
        elif kind == 0x01:
            doc[key], pos = struct.unpack_from("<d", data, pos)[0], pos + 8
        elif kind == 0x02:
            (size,) = struct.unpack_from("<i", data, pos)
            doc[key], pos = data[pos + 4 : pos + 3 + size].decode(), pos + 4 + size
        elif kind == 0x03:
            (size,) = struct.unpack_from("<i", data, pos)
            doc[key], pos = bson_decode(data[pos : pos + size]), pos + size
        else:
            raise WireError(f"BSON type 0x{kind:02x} is outside the lab's subset")
    return doc


def op_msg(doc: dict[str, Any], request_id: int, response_to: int = 0) -> bytes:
    """One ``OP_MSG`` with a single body section (kind 0)."""
    payload = struct.pack("<I", 0) + b"\0" + bson_encode(doc)
    return struct.pack("<iiii", 16 + len(payload), request_id, response_to, OP_MSG) + payload


def _read_exact(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise WireError("connection closed by the peer")
        data += chunk
    return data


def read_op_msg(sock: socket.socket) -> tuple[int, dict[str, Any]]:
    """(request id, body document) of the next ``OP_MSG``."""
    length, request_id, _, opcode = struct.unpack("<iiii", _read_exact(sock, 16))
    if opcode != OP_MSG or not 21 <= length <= MAX_MESSAGE:
        raise WireError(f"not an OP_MSG (opcode {opcode}, length {length})")
    payload = _read_exact(sock, length - 16)
    if payload[4] != 0:
        raise WireError("only body sections (kind 0) are in the lab's subset")
    return request_id, bson_decode(payload[5:])
