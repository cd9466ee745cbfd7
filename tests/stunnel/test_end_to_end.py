"""Real stunnel on loopback: bytes go client accept -> TLS-PSK -> server accept -> backend and back.

The configs are rendered by migrator from an inventory that passes the invariants; only the
paths (pid, PSK) point into a temp dir, and setuid is skipped (the tests run as root and a
dropped stunnel4 could not write the temp pid dir).
"""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from migrator.stunnel.model import TunnelInventory
from migrator.stunnel.psk import generate_psk, write_psk_file
from migrator.stunnel.render import RenderOptions, render_host_config
from migrator.stunnel.validate import listening_problems, validate_tunnels
from tests.stunnel.conftest import EchoServer, StunnelProcess, free_port

SERVER_IP = "127.0.0.2"  # the lab's "public" address of the proxy
CLIENT_IP = "127.0.0.1"  # the lab's private address of the client CT


def _loopback_inventory(backend: EchoServer) -> TunnelInventory:
    server_port, client_port = free_port(SERVER_IP), free_port(CLIENT_IP)
    return TunnelInventory.model_validate({
        "name": "e2e",
        "hosts": {
            "lab/ct:101": {"public": True, "public_addresses": [SERVER_IP]},
            "lab/ct:113": {"public": False, "private_addresses": [CLIENT_IP]},
        },
        "tunnels": [{
            "service": "MongoDB",
            "server": {"host": "lab/ct:101", "accept": f"{SERVER_IP}:{server_port}",
                       "connect": f"{backend.host}:{backend.port}"},
            "clients": [{"host": "lab/ct:113", "accept": f"{CLIENT_IP}:{client_port}",
                         "connect": f"{SERVER_IP}:{server_port}"}],
            "psk": {"name": "mongodb", "identity": "lab-mongodb", "secret": "env:LAB_PSK_MONGODB"},
        }],
    })


def _start_end(run_stunnel: Callable[..., StunnelProcess], inventory: TunnelInventory, host: str,
               root: Path, key: str) -> tuple[StunnelProcess, str]:
    side = root / host.replace("/", "_").replace(":", "")
    (side / "psk").mkdir(parents=True)
    (side / "run").mkdir()
    options = RenderOptions(pid_dir=str(side / "run"), psk_dir=str(side / "psk"),
                            setuid=None, setgid=None, debug="info")
    write_psk_file(side / "psk" / "mongodb-psk.txt", "lab-mongodb", key)
    config_text = render_host_config(inventory, host, options)
    config = side / "off.conf"
    config.write_text(config_text)
    return run_stunnel(config, side / "run" / "stunnel.pid"), config_text


def _round_trip(port: int, payload: bytes) -> bytes:
    received = b""
    with socket.create_connection((CLIENT_IP, port), timeout=10) as conn:
        conn.sendall(payload)
        conn.shutdown(socket.SHUT_WR)
        try:
            while chunk := conn.recv(65536):
                received += chunk
        except ConnectionResetError:
            pass  # a refused handshake may end in a reset: what arrived so far is the answer
    return received


def _client_port(inventory: TunnelInventory) -> int:
    return int(inventory.tunnels[0].clients[0].accept.rsplit(":", 1)[1])


def test_bytes_cross_the_tunnel_and_come_back(
    tmp_path: Path, echo_server: EchoServer, run_stunnel: Any
) -> None:
    inventory = _loopback_inventory(echo_server)
    assert validate_tunnels(inventory) == []
    key = generate_psk()
    server, _ = _start_end(run_stunnel, inventory, "lab/ct:101", tmp_path, key)
    client, _ = _start_end(run_stunnel, inventory, "lab/ct:113", tmp_path, key)

    payload = b"db.hostInfo() " * 1000
    assert _round_trip(_client_port(inventory), payload) == payload
    assert echo_server.connections == 1
    # the pid file rule: stunnel wrote its own PID where the config says
    pid_file = tmp_path / "lab_ct113" / "run" / "stunnel.pid"
    assert int(pid_file.read_text()) == client.pid
    assert key not in server.log() + client.log()


def test_a_wrong_psk_carries_no_bytes(tmp_path: Path, echo_server: EchoServer, run_stunnel: Any) -> None:
    inventory = _loopback_inventory(echo_server)
    _start_end(run_stunnel, inventory, "lab/ct:101", tmp_path, generate_psk())
    _start_end(run_stunnel, inventory, "lab/ct:113", tmp_path, generate_psk())

    assert _round_trip(_client_port(inventory), b"hello through a bad key") == b""
    assert echo_server.connections == 0


def test_live_listeners_of_running_client_match_its_config(
    tmp_path: Path, echo_server: EchoServer, run_stunnel: Any
) -> None:
    inventory = _loopback_inventory(echo_server)
    key = generate_psk()
    _, client_config = _start_end(run_stunnel, inventory, "lab/ct:113", tmp_path, key)
    ss = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=True).stdout
    assert listening_problems(ss, client_config) == []
