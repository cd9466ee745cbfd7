"""Helpers shared by the transport tests (local and ssh run the same contract)."""

from __future__ import annotations

import time
from pathlib import Path

from migrator.executors.base import Transport


def alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie (a container's init may not reap orphans)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_dead(pid: int, limit: float = 5.0) -> bool:
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return False


def assert_lines_in_order_per_stream(transport: Transport) -> None:
    """300 interleaved stdout/stderr lines arrive at ``on_line`` in order within each stream."""
    seen: list[tuple[str, str]] = []
    script = "i=0; while [ $i -lt 300 ]; do echo out$i; echo err$i >&2; i=$((i+1)); done"
    transport.run(script, on_line=lambda stream, line: seen.append((stream, line)))
    assert [line for s, line in seen if s == "stdout"] == [f"out{i}" for i in range(300)]
    assert [line for s, line in seen if s == "stderr"] == [f"err{i}" for i in range(300)]
