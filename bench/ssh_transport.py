"""SSH transport per-step cost, in one process: our SSHTransport vs raw paramiko.

Usage: python bench/ssh_transport.py [--steps 200] [--rounds 5] [--command true]

One loopback sshd (127.0.0.1, ``tests/fixtures/sshd.py``'s ``start_sshd``, stopped by PID at
the end) serves both variants, each on its own connection opened before the timing:

  raw        paramiko on a TCP_NODELAY socket, ``exec_command(CMD)`` + ``recv_exit_status()``
             (the floor: what bench/ssh_overhead.py's raw variant does per step)
  transport  ``run_command_step`` on an ``SSHTransport`` with a ``Redactor`` and a line sink,
             exactly as ``Executors._run_command`` calls it for an ssh step ``command: CMD``

Rounds alternate the two (A/B, then B/A) so machine drift hits both alike. For each variant
the figure is the median over rounds of wall ms/step and client CPU ms/step
(``time.process_time``: what this process spent, including paramiko's reader thread).
The last line is exactly ``transport_ms_per_step=X raw_ms_per_step=Y``.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import paramiko

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run as a script from the repository root

from migrator.executors.base import StepContext  # noqa: E402
from migrator.executors.ssh import SSHTransport  # noqa: E402
from migrator.executors.steps import run_command_step  # noqa: E402
from migrator.plan.inventory import Host  # noqa: E402
from migrator.plan.model import Step  # noqa: E402
from migrator.secrets import Redactor  # noqa: E402
from tests.fixtures.sshd import SshdServer, start_sshd  # noqa: E402


def raw_client(server: SshdServer) -> paramiko.SSHClient:
    sock = socket.create_connection((server.host, server.port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    client = paramiko.SSHClient()
    client.load_host_keys(str(server.known_hosts_path))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect(
        server.host, server.port, username=server.user, key_filename=str(server.key_path),
        sock=sock, look_for_keys=False, allow_agent=False,
    )  # fmt: skip
    return client


def raw_steps(client: paramiko.SSHClient, command: str, steps: int) -> None:
    for _ in range(steps):
        _, stdout, _ = client.exec_command(command)
        status = stdout.channel.recv_exit_status()
        if status != 0:
            raise SystemExit(f"raw paramiko: {command!r} exited {status}")


def transport_steps(transport: SSHTransport, command: str, steps: int) -> None:
    step = Step.model_validate(
        {"id": "bench", "title": "bench", "host": "target", "kind": "ssh", "command": command}
    )
    redactor = Redactor()
    lines: list[tuple[str, str]] = []
    ctx = StepContext(run_id=1, attempt=1, on_line=lambda stream, line: lines.append((stream, line)))
    for _ in range(steps):
        outcome = run_command_step(step, ctx, transport, redactor, command=command, env={}, stdin=None)
        if not outcome.ok:
            raise SystemExit(f"SSHTransport: {command!r} failed: {outcome.summary}")


def timed(body: Callable[[], None], steps: int) -> tuple[float, float]:
    """``(wall ms/step, client CPU ms/step)`` of ``body``."""
    wall, cpu = time.perf_counter(), time.process_time()
    body()
    return (time.perf_counter() - wall) * 1000 / steps, (time.process_time() - cpu) * 1000 / steps


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--command", default="true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-ssh-transport-") as tmp:
        server = start_sshd(Path(tmp) / "sshd", address="127.0.0.1")
        try:
            run(server, args.command, args.steps, args.rounds)
        finally:
            server.stop()


def run(server: SshdServer, command: str, steps: int, rounds: int) -> None:
    host = Host.model_validate(
        {"address": server.host, "port": server.port, "user": server.user,
         "key": str(server.key_path), "agent": False}
    )  # fmt: skip
    transport = SSHTransport("target", host, known_hosts=[server.known_hosts_path], ssh_config=None)
    client = raw_client(server)
    variants: dict[str, Callable[[], None]] = {
        "raw": lambda: raw_steps(client, command, steps),
        "transport": lambda: transport_steps(transport, command, steps),
    }
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
    try:
        raw_steps(client, command, 10)  # warm up both connections (and the transport's connect)
        transport_steps(transport, command, 10)
        print(f"{steps} x {command!r} per variant and round, {rounds} rounds, alternating")
        for i in range(rounds):
            order = list(variants) if i % 2 == 0 else list(reversed(variants))
            for name in order:
                wall, cpu = timed(variants[name], steps)
                results[name].append((wall, cpu))
                print(f"  round {i + 1} {name:9} {wall:6.2f} ms/step  cpu {cpu:5.2f} ms/step")
    finally:
        transport.close()
        client.close()
    med = {
        name: (statistics.median(w for w, _ in r), statistics.median(c for _, c in r))
        for name, r in results.items()
    }
    for name, (wall, cpu) in med.items():
        print(f"{name:9} median {wall:6.2f} ms/step  cpu {cpu:5.2f} ms/step")
    print(f"ratio transport/raw: wall {med['transport'][0] / med['raw'][0]:.2f}, "
          f"cpu {med['transport'][1] / med['raw'][1]:.2f}")  # fmt: skip
    print(f"transport_ms_per_step={med['transport'][0]:.3f} raw_ms_per_step={med['raw'][0]:.3f}")


if __name__ == "__main__":
    main()
