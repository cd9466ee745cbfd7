"""The whole stunnel plan rehearsed against the lab through the CLI, with real stunnel carrying bytes.

One rehearsal per module, in its own network namespace (``ip netns``): the lab's fixed
127.x addresses then cannot clash with another lab on the machine, and everything stays on
that namespace's loopback. The rehearsal is what an operator would do:

1. ``migrator lab up``; the faults ``stunnel-port-busy`` (a squatter on the MongoDB and Redis
   server accepts) and ``redis-protected-mode`` (off-redis, the real redis-server behind the
   OffRedis tunnel, in Redis's default protected mode without a password) on off2;
2. ``migrator run stunnel``: it must stop at ``mongodb-server-config`` (the restart cannot
   bind), saying so, and ``journalctl`` on the host names the busy address;
3. clear ``stunnel-port-busy``, ``migrator resume --retry mongodb-server-config``: the run must
   stop at ``redis-probe-ovh1-ct113``, the plan's own PING through the tunnel answered -DENIED
   by the real Redis (the real redis-cli, through real stunnel), as the team's was;
4. clear ``redis-protected-mode``, ``migrator resume --retry redis-probe-ovh1-ct113``: the run
   completes.

The tests then read the run (``migrator status``/``log``), the hosts' files under the lab
dir, the back-ends' request log, the real Redis and the live listeners.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pytest

from migrator.lab.standins import backends, clients
from migrator.lab.standins.context import Context, ToolError
from migrator.lab.standins.legacy import legacy_mongodb_rules

REPO = Path(__file__).resolve().parents[2]
TIMEOUT = 600  # a hang guard, not a speed test (bench/): the machine is shared
FAILED_STEP = "mongodb-server-config"
DENIED_STEP = "redis-probe-ovh1-ct113"  # the first check that talks to Redis
REDIS_BACKEND = ("127.2.0.122", "16379")  # plans/tunnels.lab.yaml OffRedis connect: the real redis-server
PSK_ENDS = {  # PSK file stem -> (server, clients), as plans/tunnels.lab.yaml says
    "mongodb": ("off2/ct:101", ["ovh1/ct:113", "moji/ct:101"]),
    "redis": ("off2/ct:101", ["ovh1/ct:113", "moji/ct:101"]),
    "influxdb": ("ovh1/ct:101", ["moji/ct:101"]),
    "robotoff": ("moji/ct:102", ["ovh1/ct:101"]),
    "off-query": ("moji/ct:102", ["off2/ct:103"]),
}
CLIENT_ACCEPTS = {
    "127.11.0.113:27017", "127.45.0.101:27017", "127.11.0.113:6379", "127.45.0.101:6379",
    "127.45.0.101:8086", "127.11.9.101:16000", "127.2.0.103:16001",
}  # fmt: skip
LEGACY_FILTER = "-A FORWARD -s 127.0.1.12/32 -d 127.1.0.102/32 -p tcp -m tcp --dport 27017 -j ACCEPT"
LEGACY_DNAT = (
    "-A PREROUTING -s 127.0.1.12/32 -d 127.0.1.2/32 -p tcp -m tcp --dport 27017 -j DNAT "
    "--to-destination 127.1.0.102:27017"
)


@dataclass
class Rehearsal:
    netns: str
    dir: Path
    faulted: subprocess.CompletedProcess[str]
    faulted_status: str
    journal: str
    denied: subprocess.CompletedProcess[str]
    denied_directly: str
    resumed: subprocess.CompletedProcess[str]

    def migrator(self, *args: str) -> subprocess.CompletedProcess[str]:
        db = str(self.dir / "state.db")
        return in_netns(self.netns, sys.executable, "-m", "migrator", *args, "--db", db)

    @cached_property
    def journal_of_run(self) -> list[str]:
        """``migrator log 1`` once (each CLI call costs a second on a busy machine)."""
        result = self.migrator("log", "1")
        assert result.returncode == 0, result.stderr
        return result.stdout.splitlines()

    def log(self, step: str) -> str:
        """The run's journal lines about ``step`` (transitions name the step after the user)."""
        return "\n".join(line for line in self.journal_of_run if f" {step} " in f"{line} ")

    def root(self, target: str) -> Path:
        """The files of a lab host or container, from outside its mount namespace."""
        name, _, ct = target.partition("/ct:")
        root = self.dir / "hosts" / name / "root"
        return root / "var/lib/migrator-lab/ct" / ct / "root" if ct else root

    def state(self, target: str) -> dict[str, object]:
        data = json.loads((self.root(target) / "var/lib/migrator-lab/state.json").read_text())
        assert isinstance(data, dict)
        return data


LAB_PSKS = {  # the values of plans/tunnels.lab.yaml's `secret: env:LAB_PSK_*`: the keys deployed
    f"LAB_PSK_{stem.upper().replace('-', '_')}": f"LabRehearsalKey{stem.replace('-', '')}".ljust(32, "0")
    for stem in PSK_ENDS
}


def in_netns(netns: str, *argv: str, timeout: float = TIMEOUT) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", **LAB_PSKS}  # status tables unwrapped
    return subprocess.run(["ip", "netns", "exec", netns, *argv], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO, env=env, check=False)  # fmt: skip


@pytest.fixture(scope="module")
def rehearsal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rehearsal]:
    netns = f"migrator-stunnel-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", netns], check=True)
    directory = tmp_path_factory.mktemp("stunnel-lab")
    lab = ["--dir", str(directory)]

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        result = in_netns(netns, sys.executable, "-m", "migrator", *args)
        return result

    try:
        subprocess.run(["ip", "netns", "exec", netns, "ip", "link", "set", "lo", "up"], check=True)
        up = cli("lab", "up", *lab)
        assert up.returncode == 0, up.stdout + up.stderr
        assert "backends started" in up.stdout
        for fault in ("stunnel-port-busy", "redis-protected-mode"):
            set_it = cli("lab", "fault", *lab, "off2", fault)
            assert set_it.returncode == 0, set_it.stdout + set_it.stderr
        run = ["--inventory", str(directory / "inventory.yaml"), "--yes", "--confirm-manual",
               "--db", str(directory / "state.db")]  # fmt: skip
        # The MongoDB probes require off1's mongodb-start (a `requires:`): off1 rehearses in its own lab.
        assume = ["--assume-done", "off1:mongodb-start"]
        faulted = cli("run", "stunnel", *run, *assume, "--reason", "lab: off1 rehearses in its own lab")
        status = cli("status", "--db", str(directory / "state.db")).stdout
        journal = in_netns(netns, "ssh", "-F", "/dev/null", "-i", str(directory / "client_ed25519"),
                           "-o", f"UserKnownHostsFile={directory / 'known_hosts'}", "-o", "BatchMode=yes",
                           "-p", "2222", "root@127.0.1.2",
                           "pct exec 101 -- journalctl -xeu stunnel@off.service").stdout  # fmt: skip
        cleared = cli("lab", "fault", *lab, "--clear", "off2", "stunnel-port-busy")
        assert cleared.returncode == 0, cleared.stdout + cleared.stderr
        denied = cli("resume", "1", *run, *assume, "--retry", FAILED_STEP,
                     "--reason", "lab: the squatter on the stunnel ports is gone")  # fmt: skip
        directly = in_netns(netns, "redis-cli", "-h", REDIS_BACKEND[0], "-p", REDIS_BACKEND[1], "ping").stdout
        opened = cli("lab", "fault", *lab, "--clear", "off2", "redis-protected-mode")
        assert opened.returncode == 0, opened.stdout + opened.stderr
        resumed = cli("resume", "1", *run, *assume, "--retry", DENIED_STEP,
                      "--reason", "lab: off-redis runs with protected-mode no again")  # fmt: skip
        yield Rehearsal(netns, directory, faulted, status, journal, denied, directly, resumed)
    finally:
        try:
            cli("lab", "down", *lab)
        finally:  # a `lab down` past its timeout (raises) must not leave the named netns behind
            subprocess.run(["ip", "netns", "del", netns], check=False)


def test_port_busy_stops_the_plan_at_the_server_restart(rehearsal: Rehearsal) -> None:
    faulted = rehearsal.faulted
    assert faulted.returncode != 0
    assert f"stopped: step {FAILED_STEP} failed" in faulted.stdout
    assert "restarting stunnel@off failed on off2/ct:101 (exit 1): Job for stunnel@off.service failed" in (
        " ".join(faulted.stdout.split())
    )
    first = rehearsal.faulted_status.splitlines()[0]
    assert "failed" in first and FAILED_STEP in first
    # `status` piped prints plain columns (number, step, state ...), box tables only on a terminal.
    row = re.compile(r"^\s*\d+\s+(\S+)\s+(\w+)", re.MULTILINE)
    rows = {m.group(1): m.group(2) for m in row.finditer(rehearsal.faulted_status)}
    assert rows["mongodb-psk"] == "succeeded" and rows[FAILED_STEP] == "failed"
    assert rows["mongodb-server-verify"] == "blocked" and rows["mongodb-remove-ip-filter"] == "blocked"
    # What the message sends the operator to: stunnel's own reason, the busy server accept.
    assert "127.2.1.101:27017" in rehearsal.journal and "Address already in use" in rehearsal.journal


def test_redis_protected_mode_fails_the_plans_own_probe_through_the_tunnel(rehearsal: Rehearsal) -> None:
    """issue 16: the real redis-cli, real stunnel and the real redis-server in protected mode:
    the TCP connect through the tunnel passes (nc -z), Redis's -DENIED fails the plan's PING."""
    denied = rehearsal.denied
    assert denied.returncode != 0
    said = " ".join(denied.stdout.split())
    assert f"stopped: step {DENIED_STEP} failed" in said, said[-3000:]
    assert "ovh1/ct:113" in said  # the host the probe ran on ...
    expects = "off-redis answers PING through the tunnel (not -DENIED: protected mode off)"
    assert expects in said  # ... and what it expects
    # What redis-cli says depends on whether the -DENIED Redis sends before closing crosses both
    # stunnels ahead of the close ("Error: Server closed the connection", exit 1): either fails.
    assert "stdout does not match /^PONG\\s*$/" in said
    # Redis itself, asked directly at that moment (the stunnel server's source, 127.2.0.1): denied.
    directly = rehearsal.denied_directly
    assert directly.startswith("DENIED Redis is running in protected mode"), directly
    assert "running -> verifying (action_ok)" in " ".join(rehearsal.log(DENIED_STEP).split())  # nc -z passed


def test_resumed_run_completes(rehearsal: Rehearsal) -> None:
    resumed = rehearsal.resumed
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-2000:]
    status = rehearsal.migrator("status").stdout
    assert "completed" in status.splitlines()[0]
    assert not re.search(r"│\s*(failed|blocked|pending|skipped)\s*│", status)


def test_probes_carried_bytes_through_the_tunnels(rehearsal: Rehearsal) -> None:
    probes = ["mongodb-probe-ovh1-ct113", "mongodb-probe-moji-ct101", "redis-probe-ovh1-ct113",
              "redis-probe-moji-ct101", "influxdb-probe-moji-ct101", "robotoff-probe-ovh1-ct101",
              "off-query-probe-off2-ct103"]  # fmt: skip
    for step in probes:  # succeeded: the post-check (hostInfo over nc, redis-cli, curl) passed
        assert "verifying -> succeeded" in rehearsal.log(step), step
    served = (rehearsal.dir / "backends.log").read_text()
    # The back-ends log only parsed requests (not nc -z): two MongoDB hostInfo arrived, from the
    # stunnel servers - the probes only know the clients' accepts, so the bytes crossed the
    # client stunnel, TLS-PSK, and the server stunnel.
    assert len(re.findall(r"MongoDB 127\.1\.0\.102:37017 hostInfo from", served)) >= 2
    # The real Redis (restarted when the fault was cleared) counted the two probes' PINGs.
    stats = redis(rehearsal, *REDIS_BACKEND, "info", "commandstats")
    assert re.search(r"^cmdstat_ping:calls=([2-9]|\d\d+),", stats, re.MULTILINE), stats
    for service in ("InfluxDB", "Robotoff"):
        assert re.search(rf"{service} \S+ GET \S+ [12]\d\d from", served), service
    # off-query as the team tested it (2024-09-04 report): a JSON query POSTed to /select
    assert re.search(r"off-query \S+ POST /select 200 from", served)
    server_log = (rehearsal.root("off2/ct:101") / "var/lib/migrator-lab/journal/stunnel@off.log").read_text()
    for service in ("MongoDB", "OffRedis"):
        assert f"Service [{service}] accepted connection" in server_log
        for client in ("ovh1/ct:113", "moji/ct:101"):
            client_log = rehearsal.root(client) / "var/lib/migrator-lab/journal/stunnel@off.log"
            assert f"Service [{service}] connected remote server" in client_log.read_text(), client


def redis(rehearsal: Rehearsal, address: str, port: str, *command: str) -> str:
    """The real redis-cli in the lab's namespace (from 127.2.0.1: another CT, for Redis)."""
    result = in_netns(rehearsal.netns, "redis-cli", "-h", address, "-p", port, *command)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_a_key_set_through_one_tunnel_is_read_in_redis_and_through_the_other(rehearsal: Rehearsal) -> None:
    """The real redis-cli, through real stunnel on both ends (TLS-PSK), to the real redis-server."""
    marker = f"lab-{uuid.uuid4().hex}"
    assert redis(rehearsal, "127.11.0.113", "6379", "set", "migrator:lab:marker", marker) == "OK\n"
    assert redis(rehearsal, *REDIS_BACKEND, "get", "migrator:lab:marker") == f"{marker}\n"  # in Redis itself
    assert redis(rehearsal, "127.45.0.101", "6379", "get", "migrator:lab:marker") == f"{marker}\n"


def test_psk_files_identical_and_private_on_every_end(rehearsal: Rehearsal) -> None:
    for stem, (server, ends) in PSK_ENDS.items():
        contents = set()
        for target in (server, *ends):
            path = rehearsal.root(target) / f"etc/stunnel/psk/{stem}-psk.txt"
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
            assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700, path.parent
            contents.add(path.read_text())
        assert len(contents) == 1, f"{stem}: PSK files differ between {server} and {ends}"
        identity, _, key = contents.pop().strip().partition(":")
        assert identity and key == LAB_PSKS[f"LAB_PSK_{stem.upper().replace('-', '_')}"], stem  # deployed


def test_client_listeners_on_their_private_addresses_only(rehearsal: Rehearsal) -> None:
    listeners = in_netns(rehearsal.netns, "ss", "-ltnH").stdout
    local = {line.split()[3] for line in listeners.splitlines() if line.strip()}
    assert local >= CLIENT_ACCEPTS, f"client accepts not listening: {CLIENT_ACCEPTS - local}"
    ports = {address.rsplit(":", 1)[1] for address in CLIENT_ACCEPTS}
    split = [a.rsplit(":", 1) for a in local]
    wildcard = [f"{h}:{p}" for h, p in split if h in ("0.0.0.0", "*", "[::]") and p in ports]
    assert not wildcard, f"a tunnel port bound on every interface: {wildcard}"


def test_old_mongodb_rules_removed_only_after_the_probe(rehearsal: Rehearsal) -> None:
    tables = rehearsal.state("off2")["iptables"]
    assert isinstance(tables, dict)
    assert LEGACY_FILTER not in tables["filter"] and LEGACY_DNAT not in tables["nat"]
    # The rules were there and this run's actions removed them (their pre-checks passed: a
    # missing rule would have marked the step done without running it).
    for step in ("mongodb-remove-ip-filter", "mongodb-remove-iptables-proxy"):
        assert "running -> verifying (action_ok)" in " ".join(rehearsal.log(step).split()), step
    finished = [line.split()[3] for line in rehearsal.journal_of_run if "verifying -> succeeded" in line]
    assert finished.index("mongodb-probe-ovh1-ct113") < finished.index("mongodb-remove-ip-filter")
    assert finished.index("mongodb-probe-moji-ct101") < finished.index("mongodb-remove-ip-filter")
    assert finished.index("mongodb-remove-ip-filter") < finished.index("mongodb-remove-iptables-proxy")


# ----------------------------------------------------------------- the probe stand-in alone
# In-process, on 127.0.0.1: the lab's mongosh against its back-end responder.


@pytest.fixture
def backend() -> Iterator[Callable[[str], int]]:
    """Start a back-end responder for a service on 127.0.0.1 (a free port); returns its port."""
    servers: list[backends._Server] = []

    def start(service: str) -> int:
        server = backends._Server(service, ("127.0.0.1", 0))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return int(server.server_address[1])

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def tool(name: str, *args: str) -> Context:
    return Context(name, list(args), Path("/nonexistent"), {"name": "test", "lab_dir": "/nonexistent"})


Capture = pytest.CaptureFixture[str]


def test_mongosh_reads_the_hostname_over_op_msg(backend: Callable[[str], int], capsys: Capture) -> None:
    port = backend("MongoDB")
    expression = 'db.hostInfo()["system"]["hostname"]'
    args = ["--quiet", "--host", f"127.0.0.1:{port}", "--eval", expression]
    assert clients.mongosh(tool("mongosh", *args)) == 0
    *served, answer = capsys.readouterr().out.splitlines()  # in-process: the back-end logs here too
    assert answer == "mongodb"
    assert any(f"MongoDB 127.0.0.1:{port} hostInfo from 127.0.0.1:" in line for line in served)
    with pytest.raises(ToolError, match="cannot evaluate"):
        clients.mongosh(tool("mongosh", "--host", f"127.0.0.1:{port}", "--eval", "db.dropDatabase()"))


def test_legacy_rules_are_what_iptables_s_prints_for_the_plan_params() -> None:
    rules = legacy_mongodb_rules("127.0.1.12", "127.0.1.2", "127.1.0.102")
    assert rules == {"filter": [LEGACY_FILTER], "nat": [LEGACY_DNAT]}
