"""Helpers for the stunnel tests: a small inventory to mutate, free loopback ports, a TCP echo
backend and real stunnel processes (started as subprocesses, stopped by PID)."""

from __future__ import annotations

import copy
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from migrator.stunnel.model import TunnelInventory
from migrator.stunnel.parse import find_stunnel

START_TIMEOUT = 10.0

BASE: dict[str, Any] = {
    "name": "test",
    "hosts": {
        "off2/ct:101": {"public": True, "public_addresses": ["213.36.253.214", "proxy2.openfoodfacts.org"]},
        "ovh1/ct:101": {"public": True, "public_addresses": ["proxy1.openfoodfacts.org"]},
        "ovh1/ct:113": {"public": False, "private_addresses": ["10.1.0.113"]},
    },
    "tunnels": [
        {
            "service": "MongoDB",
            "server": {"host": "off2/ct:101", "accept": 27017, "connect": "10.1.0.102:27017"},
            "clients": [{"host": "ovh1/ct:113", "accept": "10.1.0.113:27017",
                         "connect": "proxy2.openfoodfacts.org:27017"}],
            "psk": {"name": "mongodb", "identity": "ovh-proxy-mongodb",
                    "secret": "file:/etc/migrator/psk/mongodb.txt"},
        },
    ],
}


def base_data() -> dict[str, Any]:
    """A fresh, valid one-tunnel inventory as plain data; tests break one thing each."""
    return copy.deepcopy(BASE)


def inventory(data: dict[str, Any]) -> TunnelInventory:
    return TunnelInventory.model_validate(data)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


@dataclass
class EchoServer:
    host: str
    port: int
    connections: int = 0


@pytest.fixture
def echo_server() -> Iterator[EchoServer]:
    """A TCP echo backend on 127.0.0.1 (what MongoDB would be behind the server end)."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    server = EchoServer("127.0.0.1", listener.getsockname()[1])
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn:
            while data := conn.recv(65536):
                conn.sendall(data)

    def accept_loop() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return  # the listener was closed: the fixture is ending
            server.connections += 1
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept_loop, daemon=True)
    thread.start()
    yield server
    stop.set()
    listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept() (close() alone does not)
    listener.close()
    thread.join(timeout=5)


@dataclass
class StunnelProcess:
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        """Stop by PID: SIGTERM, then SIGKILL if it lingers."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def run_stunnel() -> Iterator[Any]:
    """``run_stunnel(config_path, pid_file)`` starts a real stunnel and waits for its pid file
    (written after every accept is bound). Every process is stopped at the end."""
    started: list[StunnelProcess] = []
    binary = find_stunnel()

    def start(config: Path, pid_file: Path) -> StunnelProcess:
        log_path = config.with_suffix(".log")
        log = log_path.open("wb")
        process = subprocess.Popen([binary, str(config)], stdin=subprocess.DEVNULL,
                                   stdout=log, stderr=subprocess.STDOUT)
        log.close()
        running = StunnelProcess(process, log_path)
        started.append(running)
        deadline = time.monotonic() + START_TIMEOUT
        while not (pid_file.exists() and pid_file.read_text().strip()):
            if process.poll() is not None:
                raise AssertionError(f"stunnel exited {process.returncode}:\n{running.log()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"stunnel did not start:\n{running.log()}")
            time.sleep(0.02)
        return running

    yield start
    for running in started:
        running.stop()
