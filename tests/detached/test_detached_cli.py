"""Detached steps through the CLI against a real sshd: the job outlives migrator and its
connection, and a resume records its real result without running it again.

Each test gets its own sshd (``sshd_factory``); the step is a ~20 s non-idempotent append to
a marker file, so "ran once" is "one marker line". Run these in a private network namespace
(COMMON rules); the jobs directory is the test's own (inventory var ``migrator_jobs_dir``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from migrator.lab import sshd as lab_sshd
from migrator.store.db import Store
from tests.fixtures.sshd import SshdFactory, SshdServer

REPO = Path(__file__).resolve().parents[2]
STEP_SECONDS = 20
KILL_AFTER = 5.0

PLAN = """\
name: detached-demo
title: A long non-idempotent step, detached
inventory: inventory.yaml
phases:
- id: ph
  title: Ph
  where: window
  steps:
  - id: long-append
    title: Append one line to the marker after {seconds} s
    kind: ssh
    host: box
    detach: true
    timeout: 5m
    command: "echo begin; sleep {seconds}; echo line >> {work}/marker; echo finished"
    post:
    - {{kind: command, command: "test -s {work}/marker"}}
"""

INVENTORY = """\
name: detached-test
environment: lab
known_hosts: {known_hosts}
hosts:
  box:
    address: {address}
    port: {port}
    user: {user}
    key: {key}
    agent: false
    vars: {{migrator_jobs_dir: {jobs}}}
"""


@dataclass
class Setup:
    dir: Path
    server: SshdServer
    env: dict[str, str]
    runs: list[subprocess.Popen[str]] = field(default_factory=list)

    @property
    def jobs(self) -> Path:
        return self.dir / "jobs"

    @property
    def marker(self) -> Path:
        return self.dir / "work" / "marker"

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "migrator", *args, "--db", str(self.dir / "state.db")]

    def migrator(
        self, *args: str, user: str | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        env = dict(self.env, **({"USER": user, "LOGNAME": user} if user else {}))
        return subprocess.run(
            self.argv(*args),
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=timeout,
            check=False,
        )

    def start_run(self) -> subprocess.Popen[str]:
        """``migrator run`` in the background (killed after the test if a failure left it running)."""
        proc = subprocess.Popen(
            self.argv("run", str(self.dir / "plan.yaml"), "--inventory", str(self.dir / "inventory.yaml")),
            env=self.env,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        self.runs.append(proc)
        return proc

    def wait_job_started(self, started: float) -> Path:
        """The job's pid file once it exists, then wait until KILL_AFTER s after ``started``."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            pids = list(self.jobs.glob("*.pid"))
            if pids:
                time.sleep(max(0.0, started + KILL_AFTER - time.monotonic()))
                return pids[0]
            time.sleep(0.1)
        raise AssertionError("the job never started")

    def wait_job_ended(self, pid_file: Path) -> None:
        rc = pid_file.with_suffix(".rc")
        deadline = time.monotonic() + STEP_SECONDS + 30
        while not rc.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert rc.exists(), "the job did not finish on the host"

    def journal(self) -> list[str]:
        store = Store.open(str(self.dir / "state.db"))
        try:
            return [f"{e.trigger} {e.from_state}->{e.to_state} {e.reason}" for e in store.journal(1)]
        finally:
            store.close()

    def decisions(self) -> list[str]:
        store = Store.open(str(self.dir / "state.db"))
        try:
            with store._tx() as conn:
                return [f"{k} {c}" for k, c in conn.execute("SELECT kind, choice FROM decisions")]
        finally:
            store.close()


@pytest.fixture
def setup(tmp_path: Path, sshd_factory: SshdFactory) -> Iterator[Setup]:
    server = sshd_factory.start()
    work = tmp_path / "work"
    work.mkdir()
    (tmp_path / "plan.yaml").write_text(PLAN.format(seconds=STEP_SECONDS, work=work))
    (tmp_path / "inventory.yaml").write_text(
        INVENTORY.format(
            known_hosts=server.known_hosts_path,
            address=server.host,
            port=server.port,
            user=server.user,
            key=server.key_path,
            jobs=tmp_path / "jobs",
        )
    )
    env = {**os.environ, "MIGRATOR_CRASH_DIR": str(tmp_path), "COLUMNS": "200"}
    setup = Setup(tmp_path, server, env)
    yield setup
    for proc in setup.runs:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def _descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        children = lab_sshd.children(todo.pop())
        found += children
        todo += children
    return found


def _sigkill(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert proc.stdout is not None
    proc.stdout.close()


def test_sigkilled_migrator_then_resume_records_the_real_exit_status_without_rerunning(setup: Setup) -> None:
    started = time.monotonic()
    proc = setup.start_run()
    pid_file = setup.wait_job_started(started)
    _sigkill(proc)
    assert not pid_file.with_suffix(".rc").exists(), "the job should still be running at 5 s"
    setup.wait_job_ended(pid_file)  # the job finishes on the host without migrator
    assert setup.marker.read_text() == "line\n"

    # The killed process held the lease: the same operator on the same host, with that process
    # gone, takes it back by a plain resume (journaled), and no operator decision is asked.
    resumed = setup.migrator("resume", "1")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert setup.marker.read_text() == "line\n", "the job ran again"
    assert "already exists" in resumed.stdout and "reattaching" in resumed.stdout
    journal = setup.journal()
    assert any("crash_found" in e for e in journal)
    assert any(e.startswith("action_ok") and "exit 0 (detached job" in e for e in journal), journal
    assert any(e.startswith("verify_ok") for e in journal)
    assert any("automatic: the holder" in e for e in journal), journal
    # the write-ahead record named the job before it started
    assert any(
        e.startswith("launch") and "detached job migrator-detached-demo-r1-long-append-a1" in e
        for e in journal
    ), journal
    assert not [d for d in setup.decisions() if d.startswith("in_doubt")], "no operator decision"


def test_a_second_operator_takes_over_and_reattaches_to_the_running_job(setup: Setup) -> None:
    started = time.monotonic()
    proc = setup.start_run()
    pid_file = setup.wait_job_started(started)
    _sigkill(proc)
    resumed = setup.migrator("resume", "1", "--take-over", "--reason", "alice's laptop died", user="bob")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert pid_file.with_suffix(".rc").exists()
    assert setup.marker.read_text() == "line\n"
    assert "reattaching" in resumed.stdout
    assert "finished" in resumed.stdout  # the job's own output, followed after the take-over
    decisions = setup.decisions()
    assert any(d.startswith("take_over") for d in decisions), decisions
    assert not [d for d in decisions if d.startswith("in_doubt")]


def test_the_connections_sshd_killed_mid_step_migrator_reconnects_and_follows_it(
    setup: Setup, sshd_factory: SshdFactory
) -> None:
    started = time.monotonic()
    proc = setup.start_run()
    pid_file = setup.wait_job_started(started)
    # The listener goes first (so nothing reconnects at once behind our back), then the
    # connection's own sshd processes; the listener comes back 3 s later. With the listener up
    # the transport reconnects unseen, which is right too, but then there is nothing to assert.
    connection = _descendants(setup.server.pid)
    assert connection
    os.kill(setup.server.pid, signal.SIGTERM)
    while lab_sshd.alive(setup.server.pid):
        time.sleep(0.05)
    for pid in connection:
        with contextlib.suppress(ProcessLookupError):  # a poll's session that just ended
            os.kill(pid, signal.SIGKILL)
    time.sleep(3)
    sshd_factory.track(setup.server.restart())
    out, _ = proc.communicate(timeout=STEP_SECONDS + 60)
    assert proc.returncode == 0, out
    assert "reconnecting in" in out and "reconnected to box" in out, out
    assert pid_file.with_suffix(".rc").read_text().strip() == "0"
    assert setup.marker.read_text() == "line\n"
    # The job's real exit status is what the step records, and nobody was asked anything.
    journal = setup.journal()
    assert any(e.startswith("action_ok") and "exit 0 (detached job" in e for e in journal), journal
    assert not [d for d in setup.decisions() if d.startswith("in_doubt")], "no operator decision"


def test_abort_of_a_crashed_run_stops_its_detached_job_on_the_host(setup: Setup) -> None:
    started = time.monotonic()
    proc = setup.start_run()
    pid_file = setup.wait_job_started(started)
    _sigkill(proc)
    aborted = setup.migrator("abort", "1", "--reason", "window cancelled", "--inventory",
                             str(setup.dir / "inventory.yaml"))  # fmt: skip
    assert aborted.returncode == 0, aborted.stdout + aborted.stderr
    assert "run 1 aborted" in aborted.stdout
    assert "run aborted: window cancelled; stopped on box: kill-TERM-group" in aborted.stdout
    assert "run aborted: window cancelled" in pid_file.with_suffix(".stopped").read_text()
    assert not pid_file.with_suffix(".rc").exists()
    assert not setup.marker.exists()


# -- the network cut ------------------------------------------------------------------------
# A real network cut is silent: packets vanish, nothing answers, no reset. nft drops them
# (both directions of the host's sshd port), in the test's own network namespace only.

NFT = Path("/usr/sbin/nft")


def _nft(*args: str) -> None:
    done = subprocess.run([str(NFT), *args], capture_output=True, text=True, timeout=10, check=False)
    assert done.returncode == 0, f"nft {' '.join(args)}: {done.stderr}"


@contextlib.contextmanager
def _network_cut(server: SshdServer) -> Iterator[None]:
    """Drop every packet to and from ``server``'s sshd until the block ends."""
    if not NFT.exists():
        pytest.fail("nft not found: install the Debian package nftables (scripts/setup.sh)", pytrace=False)
    if [name for _, name in socket.if_nameindex()] != ["lo"]:  # a namespace of loopback alone
        pytest.fail(
            "this test cuts the network with nft rules: run it in a private network namespace "
            "(unshare -n, or pytest -n N: each worker has its own)",
            pytrace=False,
        )
    table = f"migrator_cut_{server.port}"
    _nft("add", "table", "inet", table)
    try:
        _nft("add", "chain", "inet", table, "in", "{ type filter hook input priority 0; }")
        for side in ("daddr", "saddr"):  # to sshd, and from it
            port = "dport" if side == "daddr" else "sport"
            _nft("add", "rule", "inet", table, "in", f"ip {side} {server.host} tcp {port} {server.port} drop")
        yield
    finally:
        _nft("delete", "table", "inet", table)


class _Lines:
    """The run's output, read as it comes (a thread), so the test can wait for a line."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        self._stream, self.lines = proc.stdout, list[str]()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        for line in self._stream:
            self.lines.append(line)

    def text(self) -> str:
        return "".join(self.lines)

    def wait_for(self, needle: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.text():
                return True
            time.sleep(0.1)
        return False

    def join(self) -> str:
        self._thread.join(timeout=30)
        return self.text()


def test_the_network_cut_longer_than_the_step_the_job_ends_unseen_and_its_real_status_is_recorded(
    setup: Setup,
) -> None:
    started = time.monotonic()
    proc = setup.start_run()
    out = _Lines(proc)
    pid_file = setup.wait_job_started(started - KILL_AFTER + 1)  # cut 1 s after the start
    cut_at = time.monotonic()
    with _network_cut(setup.server):
        # The host stops answering; migrator notices (a cut between two polls: in ~6 s; one in
        # the middle of a poll: ~15 s, the poll's stop is tried first) and says so, and the step
        # stays running (nothing is concluded from the silence). The old code said nothing for
        # minutes: paramiko's exec request waited for sshd's answer with no limit.
        assert out.wait_for("reconnecting in", timeout=45), out.text()
        status = setup.migrator("status", "1")
        assert "long-append" in status.stdout and "running" in status.stdout, status.stdout
        setup.wait_job_ended(pid_file)  # the job ends on the host, unseen
        time.sleep(max(0.0, cut_at + STEP_SECONDS + 1 - time.monotonic()))  # cut longer than the step
        assert "box | finished" not in out.text(), "output seen through a cut network?"
        assert proc.poll() is None, out.text()
    proc.wait(timeout=60)
    text = out.join()
    assert proc.returncode == 0, text
    assert "reconnected to box" in text, text
    assert "box | finished" in text  # the job's own output, read after the cut
    assert pid_file.with_suffix(".rc").read_text().strip() == "0"
    assert setup.marker.read_text() == "line\n", "the job ran again"
    journal = setup.journal()
    assert any(e.startswith("action_ok") and "exit 0 (detached job" in e for e in journal), journal
    assert not [d for d in setup.decisions() if d.startswith("in_doubt")], "no operator decision"


def test_a_cut_longer_than_reconnect_for_pauses_the_run_and_resume_records_the_real_status(
    setup: Setup,
) -> None:
    plan = setup.dir / "plan.yaml"
    patient = "    detach: true\n    reconnect_for: 5s\n"
    plan.write_text(plan.read_text().replace("    detach: true\n", patient))
    started = time.monotonic()
    proc = setup.start_run()
    out = _Lines(proc)
    pid_file = setup.wait_job_started(started - KILL_AFTER + 1)  # cut 1 s after the start
    cut_at = time.monotonic()
    with _network_cut(setup.server):
        # Out of reach past reconnect_for: the run pauses (exit 3), the job goes on, the step
        # stays running (nothing is concluded from the silence) and the way on is said.
        proc.wait(timeout=STEP_SECONDS + 60)
        text = out.join()
        assert proc.returncode == 3, text
        assert "reconnecting in" in text and "lost box for" in text, text
        assert "`migrator resume` reattaches" in text, text
        status = setup.migrator("status", "1")
        assert "long-append" in status.stdout and "running" in status.stdout, status.stdout
        setup.wait_job_ended(pid_file)  # the job ends on the host, unseen
        time.sleep(max(0.0, cut_at + STEP_SECONDS + 1 - time.monotonic()))  # cut longer than the step
    resumed = setup.migrator("resume", "1")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "already exists" in resumed.stdout and "reattaching" in resumed.stdout, resumed.stdout
    assert "box | finished" in resumed.stdout  # the job's own output, read from the host's file
    assert setup.marker.read_text() == "line\n", "the job ran again"
    journal = setup.journal()
    assert any(e.startswith("action_ok") and "exit 0 (detached job" in e for e in journal), journal
    assert not [d for d in setup.decisions() if d.startswith("in_doubt")], "no operator decision"
