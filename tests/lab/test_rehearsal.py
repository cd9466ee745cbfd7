"""The whole off1 plan rehearsed against the lab through the CLI, in subprocesses: it completes,
and a runner killed mid-plan is resumed to completion.

The lab runs in its own network namespace (``ip netns``), on a machine whose /etc/hosts names
no lab host (a doctored file bound over it in a private mount namespace, issue 16): its fixed
127.x addresses cannot clash with another lab on the machine (the other lab tests' labs, a demo
lab), and everything stays on that namespace's loopback. The effects are then read the way an operator
would: the real check library on output read over SSH from the lab hosts, and off1's Proxmox API.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter

from migrator.checks import evaluate, probe_for
from migrator.checks.base import CheckResult, CommandProbe, ProbeOutput
from migrator.lab.layout import SSH_PORT, host
from migrator.plan.checks import Check
from tests.lab.private_world import HOSTS_WITHOUT_LAB_NAMES

REPO = Path(__file__).resolve().parents[2]
TIMEOUT = 600  # a hang guard, not a speed test (bench/): the machine is shared
CHECK: TypeAdapter[Check] = TypeAdapter(Check)
KILL_AT = "running templates"  # an idempotent step after the point of no return (cluster-join)
# Reads off1's Proxmox API (fakepve) with the lab's token, from a file: never on a command line.
PVE_GET = """
import json, ssl, sys, urllib.request
url, token_id, token_file, ca = sys.argv[1:5]
secret = open(token_file).read().strip()
request = urllib.request.Request(url, headers={"Authorization": f"PVEAPIToken={token_id}={secret}"})
context = ssl.create_default_context(cafile=ca)
print(json.dumps(json.load(urllib.request.urlopen(request, context=context, timeout=10))["data"]))
"""


@dataclass
class OffLab:
    netns: str
    dir: Path
    machine_hosts: Path  # bound over /etc/hosts for every command: it names no lab host (issue 16)

    def cmd(self, *argv: str, timeout: float = TIMEOUT) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "COLUMNS": "200"}  # status tables unwrapped
        doctored = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                    'mount --bind "$0" /etc/hosts && exec "$@"', str(self.machine_hosts)]  # fmt: skip
        return subprocess.run([*doctored, "ip", "netns", "exec", self.netns, *argv], capture_output=True,
                              text=True, timeout=timeout, cwd=REPO, env=env, check=False)  # fmt: skip

    def migrator(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.cmd(sys.executable, "-m", "migrator", *args)

    def run_argv(self, *command: str) -> list[str]:
        """``run off1`` (default) or ``resume ...`` against the lab, non-interactively."""
        inventory = str(self.dir / "inventory.yaml")
        # off1's repoint-consumers requires the stunnel plan's MongoDB client (a `requires:`);
        # the stunnel plan rehearses in its own lab (test_stunnel_rehearsal.py).
        reason = [] if "--reason" in command else ["--reason", "the stunnel plan rehearses in its own lab"]
        return [*(command or ("run", "off1")), "--inventory", inventory, "--yes", "--confirm-manual",
                "--assume-done", "stunnel:mongodb-client-ovh1-ct113-verify", *reason,
                "--db", str(self.dir / "state.db")]  # fmt: skip

    def status_line(self) -> str:
        return self.migrator("status", "--db", str(self.dir / "state.db")).stdout.splitlines()[0]

    def ssh(self, target: str, command: str) -> subprocess.CompletedProcess[str]:
        """As root on a lab host, pinned by the lab's known_hosts (off1's new key after the run)."""
        name, _, ct = target.partition("/ct:")
        remote = f"pct exec {ct} -- {command}" if ct else command
        return self.cmd("ssh", "-F", "/dev/null", "-i", str(self.dir / "client_ed25519"),
                        "-o", f"UserKnownHostsFile={self.dir / 'known_hosts'}", "-o", "BatchMode=yes",
                        "-o", "StrictHostKeyChecking=yes", "-p", str(SSH_PORT),
                        f"root@{host(name).address}", remote, timeout=30)  # fmt: skip

    def check(self, target: str, spec: dict[str, Any]) -> CheckResult:
        """The real check library, on what its probe prints on the lab host."""
        check = CHECK.validate_python(spec)
        probe = probe_for(check)
        assert isinstance(probe, CommandProbe)
        command = probe.command if isinstance(probe.command, str) else " ".join(probe.command)
        result = self.ssh(target, command)
        return evaluate(check, ProbeOutput(result.returncode, result.stdout, result.stderr))

    def pve_get(self, name: str, path: str) -> Any:
        pve = self.dir / "hosts" / name / "pve"
        url = f"https://{host(name).address}:8006/api2/json{path}"
        got = self.cmd(sys.executable, "-c", PVE_GET, url, "root@pam!migrator", str(pve / "token"),
                       str(pve / "pve-root-ca.pem"), timeout=30)  # fmt: skip
        assert got.returncode == 0, got.stderr
        return json.loads(got.stdout)


@pytest.fixture(scope="module")
def off_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OffLab]:
    netns = f"migrator-off1-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", netns], check=True)
    lab = OffLab(netns, tmp_path_factory.mktemp("off1-lab"), tmp_path_factory.mktemp("machine") / "hosts")
    lab.machine_hosts.write_text(HOSTS_WITHOUT_LAB_NAMES, encoding="utf-8")  # a fresh machine's
    try:
        subprocess.run(["ip", "netns", "exec", netns, "ip", "link", "set", "lo", "up"], check=True)
        up = lab.migrator("lab", "up", "--dir", str(lab.dir))
        assert up.returncode == 0, up.stdout + up.stderr
        yield lab
    finally:
        try:
            lab.migrator("lab", "down", "--dir", str(lab.dir))
        finally:  # a `lab down` past its timeout (raises) must not leave the named netns behind
            subprocess.run(["ip", "netns", "del", netns], check=False)


def assert_off1_moved(lab: OffLab) -> None:
    """What the plan promised: pools, cluster, MongoDB's CT, the off user, off served."""
    hdd = lab.ssh("off1", "zpool status zfs-hdd")
    assert hdd.returncode == 0 and "raidz1-0" in hdd.stdout, hdd.stdout + hdd.stderr
    assert lab.check("off1", {"kind": "zpool_healthy", "pool": "zfs-hdd"}).passed
    for name in ("off1", "off2"):
        quorum = lab.check(name, {"kind": "pve_quorate", "nodes": 2})
        assert quorum.passed, f"{name}: {quorum.message}"
    config = lab.pve_get("off1", "/nodes/off1/lxc/102/config")
    assert config["hostname"] == "mongodb" and str(config["cores"]) == "15", config
    assert lab.pve_get("off1", "/nodes/off1/lxc/102/status/current")["status"] == "running"
    uid = lab.ssh("off1", "id -u off")
    assert uid.stdout.strip() == "1000", uid.stdout + uid.stderr
    mongod = lab.check("off1/ct:102", {"kind": "systemd_active", "unit": "mongod.service"})
    assert mongod.passed, mongod.message
    # the target named in confs/off2/sanoid/syncoid-args.conf
    pulled = lab.ssh("off2", "zfs list -H -t snapshot -o name -r zfs-hdd/off-backups/off1-pve-nvme")
    assert "subvol-102-disk-0@autosnap_" in pulled.stdout, pulled.stdout + pulled.stderr


def test_off1_rehearsal_completes(off_lab: OffLab) -> None:
    result = off_lab.migrator(*off_lab.run_argv())
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "completed" in off_lab.status_line()
    assert "76 succeeded" in result.stdout
    assert_off1_moved(off_lab)


def test_off1_crash_and_resume_completes(off_lab: OffLab) -> None:
    """SIGKILL the runner mid-plan (in the window, after the cluster join), take over, resume."""
    reset = off_lab.migrator("lab", "reset", "--dir", str(off_lab.dir))  # off1 before its move again
    assert reset.returncode == 0, reset.stdout + reset.stderr
    argv = ["ip", "netns", "exec", off_lab.netns, sys.executable, "-m", "migrator", *off_lab.run_argv()]
    runner = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO)
    assert runner.stdout is not None
    seen = []
    for line in runner.stdout:
        seen.append(line)
        if KILL_AT in line:
            runner.send_signal(signal.SIGKILL)
            break
    runner.wait(TIMEOUT)
    assert runner.returncode == -signal.SIGKILL, "".join(seen)[-3000:]
    assert "running" in off_lab.status_line()

    take_over = ["--take-over", "--reason", "the runner was killed (lab test)"]
    resumed = off_lab.migrator(*off_lab.run_argv("resume", *take_over))

    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-2000:]
    assert "completed" in off_lab.status_line()
    assert "cluster-join" not in resumed.stdout, "a step done before the crash ran again"
    assert_off1_moved(off_lab)


def test_the_pulls_need_the_pinned_key_and_the_operators_key(off_lab: OffLab) -> None:
    """After the rehearsal (off1 moved): off2's pull of off1 works, and fails as in production
    without off1's key pinned on off2 or without off2's key in off2operator's authorized_keys."""
    off1 = host("off1").address
    options = "--no-sync-snap --no-privilege-elevation"
    pull = f"syncoid {options} off2operator@{off1}:zfs-nvme/pve zfs-hdd/off-backups/check"
    assert off_lab.ssh("off2", pull).returncode == 0

    kept = "cp /root/.ssh/known_hosts /root/.ssh/known_hosts.kept"
    unpinned = off_lab.ssh("off2", f"{kept} && ssh-keygen -R {off1} -f /root/.ssh/known_hosts && {pull}")
    assert off_lab.ssh("off2", "mv /root/.ssh/known_hosts.kept /root/.ssh/known_hosts").returncode == 0
    assert unpinned.returncode != 0 and "Host key verification failed" in unpinned.stderr, unpinned.stderr

    keys = "/home/off2operator/.ssh/authorized_keys"
    assert off_lab.ssh("off1", f"mv {keys} {keys}.kept").returncode == 0
    unauthorized = off_lab.ssh("off2", pull)
    assert off_lab.ssh("off1", f"mv {keys}.kept {keys}").returncode == 0
    assert unauthorized.returncode != 0 and "Permission denied (publickey)" in unauthorized.stderr

    assert off_lab.ssh("off2", pull).returncode == 0
