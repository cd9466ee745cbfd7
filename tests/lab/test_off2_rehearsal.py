"""plans/off2.yaml rehearsed end to end against the lab, and the stand-ins it needs.

The stand-in tests run the real stand-in scripts (argv[0] dispatch, JSON state) against a
temporary host state directory, through a real shell pipeline where the plan uses one.
The rehearsal brings a lab up (one per module), stages off2 as it stood before its move
(Feb 2023), and runs the whole plan through the CLI in a subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import migrator
from migrator.lab import state as host_state
from migrator.lab.layout import host
from migrator.lab.standins import TOOLS, devnodes
from migrator.lab.standins.ct_network import routes_from_conf
from migrator.lab.standins.off2_history import OLD_SSD, SNAPSHOTS, old_off2_state
from migrator.lab.standins.pve_files import storage_cfg, sync_ct_confs
from migrator.lab.standins.zfs_stream import surviving

REPO = Path(migrator.__file__).resolve().parent.parent


# --------------------------------------------------------------------------- stand-ins alone


class Host:
    """A host's stand-in state in a temporary directory, and its tools on a PATH."""

    def __init__(self, directory: Path, name: str, state: dict[str, Any]) -> None:
        self.state_dir = directory / name / "state"
        self.bin = directory / "bin"
        self.state_dir.mkdir(parents=True)
        (self.state_dir / "host.json").write_text(
            json.dumps({"name": name, "lab_dir": str(directory), "address": "127.0.1.2"})
        )
        host_state.save(self.state_dir, state)
        self.bin.mkdir(exist_ok=True)
        script = (
            f"#!{sys.executable}\nimport sys\nsys.path.insert(0, {str(REPO)!r})\n"
            "from migrator.lab.standins.main import main\nsys.exit(main(sys.argv))\n"
        )
        for tool in TOOLS:
            path = self.bin / tool
            path.write_text(script)
            path.chmod(0o755)

    def sh(self, command: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "MIGRATOR_LAB_STATE": str(self.state_dir), "PATH": f"{self.bin}:/usr/bin:/bin"}
        return subprocess.run(
            ["/bin/sh", "-c", command], input=stdin, capture_output=True, text=True, env=env, timeout=60
        )

    @property
    def state(self) -> dict[str, Any]:
        return host_state.load(self.state_dir)


@pytest.fixture
def off2(tmp_path: Path) -> Host:
    return Host(tmp_path, "off2", old_off2_state(host_state.initial("off2", "pve")))


def test_send_recv_seed_then_delta_like_the_plan(off2: Host) -> None:
    created = off2.sh("zpool create -o ashift=12 off-zfs mirror /dev/nvme0n1 /dev/nvme1n1")
    assert created.returncode == 0, created.stderr

    seed = off2.sh("zfs snapshot -r rpool@seed && zfs send -wR rpool@seed | zfs recv -s -F off-zfs")
    assert seed.returncode == 0, seed.stderr
    datasets = off2.state["datasets"]
    assert datasets["off-zfs/ROOT/debian"]["snapshots"] == [*SNAPSHOTS, "seed"]

    again = off2.sh("zfs send -wR rpool@seed | zfs recv off-zfs")
    assert again.returncode == 1
    assert "destination 'off-zfs' exists\nmust specify -F" in again.stderr

    delta = off2.sh("zfs snapshot -r rpool@move && zfs send -vwR -I @seed rpool@move | zfs recv -F off-zfs")
    assert delta.returncode == 0, delta.stderr
    assert "incremental send of rpool@move from @seed estimated size is" in delta.stderr
    assert off2.state["datasets"]["off-zfs/srv"]["snapshots"][-2:] == ["seed", "move"]

    orphan = off2.sh("zfs create -p off-zfs/other && zfs send -I @seed rpool@move | zfs recv off-zfs/other")
    assert orphan.returncode == 1
    assert "most recent snapshot of off-zfs/other does not\nmatch incremental source" in orphan.stderr


def test_send_dry_run_is_parsable_and_sends_nothing(off2: Host) -> None:
    result = off2.sh(f"zfs send -nvP rpool@{SNAPSHOTS[-1]}")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split("\t")[:2] == ["full", f"rpool@{SNAPSHOTS[-1]}"]
    assert lines[-1].startswith("size\t")
    missing = off2.sh("zfs send -nvP rpool@nonexistent")
    assert (missing.returncode, missing.stderr) == (
        1,
        "cannot open 'rpool@nonexistent': dataset does not exist\n",
    )


def test_snapshots_list_by_depth_and_get_like_datasets(off2: Host) -> None:
    newest = off2.sh("zfs list -H -t snapshot -o name -s creation -d 1 rpool | tail -1")
    assert newest.stdout == f"rpool@{SNAPSHOTS[-1]}\n"
    got = off2.sh(f"zfs get -H -p -o name,property,value all rpool@{SNAPSHOTS[0]}")
    assert f"rpool@{SNAPSHOTS[0]}\ttype\tsnapshot" in got.stdout.splitlines()
    absent = off2.sh("zfs get -H -p -o name,property,value all rpool@move")
    assert "dataset does not exist" in absent.stderr


def test_export_import_under_a_new_name_keeps_datasets_and_properties(off2: Host) -> None:
    steps = [
        "zpool create off-zfs mirror /dev/nvme0n1 /dev/nvme1n1",
        "zfs send -R rpool@" + SNAPSHOTS[-1] + " | zfs recv -F off-zfs",
        "zfs set xattr=sa off-zfs",
        "zpool export off-zfs",
    ]
    for command in steps:
        assert off2.sh(command).returncode == 0, command
    assert off2.sh("zfs list off-zfs").returncode == 1
    assert off2.sh("zpool import off-zfs zfs-nvme").returncode == 0
    got = off2.sh("zfs get -H -o value xattr zfs-nvme && zfs list -H -o name -r zfs-nvme")
    assert got.stdout.split() == [
        "sa",
        "zfs-nvme",
        "zfs-nvme/ROOT",
        "zfs-nvme/ROOT/debian",
        "zfs-nvme/srv",
        "zfs-nvme/var",
    ]


def test_a_reinstall_keeps_the_pools_on_disks_the_installer_did_not_touch() -> None:
    old = old_off2_state(host_state.initial("off2", "pve"))
    old["pools"]["off-zfs"] = host_state.pool("mirror", ["/dev/nvme0n1", "/dev/nvme1n1"], 10, guid="77")
    old["datasets"]["off-zfs"] = host_state.dataset()
    fresh = host_state.fresh_pve("off2")
    surviving(old, fresh)
    waiting = {item["name"]: item for item in fresh["importable"]}
    assert set(waiting) == {"rpool", "off-zfs"}  # the old system rpool and the pre-created pool
    assert fresh["pools"]["rpool"]["vdevs"][0]["devices"][0] == "/dev/sda3"  # the new one, on the HDDs
    assert fresh["disks"]["nvme3n1"] == OLD_SSD
    assert "rpool/ROOT/debian" not in fresh["datasets"]
    assert "/ROOT/debian" in waiting["rpool"]["datasets"]


def test_two_pools_named_rpool_after_the_reinstall_import_by_id(off2: Host, tmp_path: Path) -> None:
    fresh = host_state.fresh_pve("off2")
    surviving(off2.state, fresh)
    new = Host(tmp_path / "new", "off2", fresh)
    listing = new.sh("zpool import")
    assert "   pool: rpool\n     id: 6417321905487213354\n" in listing.stdout
    refused = new.sh("zpool import -f rpool")
    assert "a pool with that name already exists" in refused.stderr
    renamed = new.sh("zpool import -f 6417321905487213354 rpool2 && zfs list -H -o name -r rpool2")
    assert renamed.returncode == 0, renamed.stderr
    assert "rpool2/ROOT/debian" in renamed.stdout.split()


def test_dig_answers_lab_names_only(off2: Host) -> None:
    answer = off2.sh("dig +noall +answer 127.0.1.2")
    assert answer.stdout.split() == ["127.0.1.2.", "300", "IN", "A", "127.0.1.2"]
    assert off2.sh("dig +short example.org").stdout == ""


def test_storage_cfg_and_ct_confs_in_pve_formats(tmp_path: Path) -> None:
    text = storage_cfg(
        [
            {"name": "local", "type": "dir", "path": "/var/lib/vz"},
            {"name": "zfs-hdd", "type": "zfspool", "pool": "zfs-hdd/pve"},
        ]
    )
    assert text == (
        "dir: local\n\tpath /var/lib/vz\n\tcontent iso,vztmpl,backup\n\n"
        "zfspool: zfs-hdd\n\tpool zfs-hdd/pve\n\tsparse\n\tcontent images,rootdir\n"
    )
    written: dict[int, str] = {}
    sync_ct_confs(tmp_path, {101: {"hostname": "proxy", "cores": 2, "digest": "x"}}, written)
    conf = tmp_path / "101.conf"
    assert conf.read_text() == "cores: 2\nhostname: proxy\n"
    with conf.open("a") as handle:
        handle.write("lxc.idmap: u 1000 1000 64536\n")
    sync_ct_confs(tmp_path, {101: {"hostname": "proxy", "cores": 4}}, written)
    assert conf.read_text() == "cores: 4\nhostname: proxy\nlxc.idmap: u 1000 1000 64536\n"
    sync_ct_confs(tmp_path, {}, written)
    assert not conf.exists()


def test_dev_placeholders_follow_the_host_disks(tmp_path: Path) -> None:
    dev = tmp_path / "dev"
    devnodes.prepare(dev)
    state = old_off2_state(host_state.initial("off2", "pve"))
    devnodes.sync(dev, state, set())
    names = {p.name for p in dev.iterdir()}
    assert {"sda", "sda3", "nvme0n1", "nvme3n1", "nvme3n1p3", "null", "pts", devnodes.MARKER} <= names
    assert "sda4" not in names and "nvme2n1p1" not in names  # the Optane is blank in Feb 2023
    assert all((dev / n).is_file() and (dev / n).stat().st_size == 0 for n in ("sda", "nvme3n1p3"))
    state["disks"]["sda"]["parts"].append({"num": 4, "start": 1, "end": 2, "name": "zfs-hdd", "fs": ""})
    del state["disks"]["nvme3n1"]
    devnodes.sync(dev, state, {"missing-nvme"})
    names = {p.name for p in dev.iterdir()}
    assert "sda4" in names and not any(n.startswith("nvme") for n in names)
    assert "null" in names and "stdin" in names  # the machine's devices' mount points stay


def test_container_routes_from_its_pve_config() -> None:
    conf = (
        "hostname: proxy\n"
        "net0: name=eth0,bridge=vmbr1,hwaddr=BC:24:11:90:F9:96,ip=10.1.0.101/24,type=veth\n"
        "net1: name=eth1,bridge=vmbr0,gw=213.36.253.222,ip=213.36.253.214/27,type=veth\n"
    )
    assert routes_from_conf(conf) == [
        "default via 213.36.253.222 dev eth1 onlink",
        "10.1.0.0/24 dev eth0 proto kernel scope link src 10.1.0.101",
        "213.36.253.192/27 dev eth1 proto kernel scope link src 213.36.253.214",
    ]
    both = conf.replace("ip=10.1.0.101/24,", "ip=10.1.0.101/24,gw=10.0.0.2,")
    assert [r for r in routes_from_conf(both) if r.startswith("default")] == [
        "default via 10.0.0.2 dev eth0 onlink",
        "default via 213.36.253.222 dev eth1 onlink",
    ]  # two gateways: the pitfall ct101-postinstall's post-check catches


def test_syncoid_refuses_a_target_without_a_common_snapshot(off2: Host) -> None:
    made = off2.sh(
        "zpool create off-zfs mirror /dev/nvme0n1 /dev/nvme1n1 && zfs create -p off-zfs/b/off2-rpool && "
        "zfs snapshot off-zfs/b/off2-rpool@old"
    )
    assert made.returncode == 0, made.stderr
    refused = off2.sh("syncoid --no-sync-snap --recursive rpool off-zfs/b/off2-rpool")
    assert refused.returncode == 2
    assert "CRITICAL ERROR: Target off-zfs/b/off2-rpool exists but has no snapshots matching" in (
        refused.stderr
    )
    assert off2.state["datasets"]["off-zfs/b/off2-rpool"]["snapshots"] == ["old"]
    assert "off-zfs/b/off2-rpool/ROOT" in off2.state["datasets"]  # the others went on
    renamed = off2.sh(
        "zfs rename off-zfs/b/off2-rpool off-zfs/b/off2-rpool-2023 && "
        "syncoid --no-sync-snap --recursive rpool off-zfs/b/off2-rpool"
    )
    assert renamed.returncode == 0, renamed.stderr
    assert off2.state["datasets"]["off-zfs/b/off2-rpool"]["snapshots"] == SNAPSHOTS


# --------------------------------------------------------------------------- the rehearsal

TIMEOUT = 600  # a hang guard, not a speed test (bench/): the machine is shared
INFRA = "/opt/openfoodfacts-infrastructure"


@dataclass
class NetnsLab:
    """A lab up in its own network namespace (its 127.x addresses clash with no other lab)."""

    netns: str
    dir: Path

    def exec(self, *argv: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "COLUMNS": "200"}  # status tables unwrapped
        return subprocess.run(["ip", "netns", "exec", self.netns, *argv], capture_output=True, text=True,
                              timeout=TIMEOUT, cwd=REPO, env=env, check=False)  # fmt: skip

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.exec(sys.executable, "-m", "migrator", *args)

    def migrator(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.cli(*args, "--db", str(self.dir / "state.db"))

    def ssh(self, target: str, command: str) -> subprocess.CompletedProcess[str]:
        """``command`` as root on lab host ``target``, host key checked against the lab's known_hosts."""
        return self.exec("ssh", "-F", "/dev/null", "-i", str(self.dir / "client_ed25519"),
                         "-o", f"UserKnownHostsFile={self.dir / 'known_hosts'}", "-o", "BatchMode=yes",
                         "-o", "StrictHostKeyChecking=yes", "-p", "2222", f"root@{host(target).address}",
                         command)  # fmt: skip


@pytest.fixture(scope="module")
def staged_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NetnsLab]:
    """A lab whose off2 stands as before its move (Feb 2023): `migrator lab stage off2-before-move`."""
    lab = NetnsLab(f"mig-off2-{uuid.uuid4().hex[:8]}", tmp_path_factory.mktemp("off2-lab"))
    subprocess.run(["ip", "netns", "add", lab.netns], check=True)
    try:
        subprocess.run(["ip", "netns", "exec", lab.netns, "ip", "link", "set", "lo", "up"], check=True)
        up = lab.cli("lab", "up", "--dir", str(lab.dir))
        assert up.returncode == 0, up.stdout + up.stderr
        staged = lab.cli("lab", "stage", "--dir", str(lab.dir), "off2-before-move")
        assert staged.returncode == 0, staged.stdout + staged.stderr
        yield lab
    finally:
        try:
            lab.cli("lab", "down", "--dir", str(lab.dir))
        finally:  # a `lab down` past its timeout (raises) must not leave the named netns behind
            subprocess.run(["ip", "netns", "del", lab.netns], check=False)


@pytest.fixture(scope="module")
def rehearsed(staged_lab: NetnsLab) -> tuple[NetnsLab, float]:
    """The whole plan through the CLI; the operator's one hands-on act is the git commit+push."""
    lab = staged_lab
    run = ["--inventory", str(lab.dir / "inventory.yaml"), "--yes", "--confirm-manual"]
    started = time.monotonic()
    first = lab.migrator("run", "off2", *run, "--until", "inventory-services")
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-2000:]
    # The manual step inventory-committed: the operator commits and pushes scripts/off2.
    committed = lab.ssh(
        "off2",
        f"cd {INFRA} && git add scripts/off2 && git -c user.name=admin -c user.email=admin@localhost "
        "commit -q -m 'off2: crontabs, cron.d and units before the move' && git push -q origin HEAD",
    )
    assert committed.returncode == 0, committed.stderr
    rest = lab.migrator("resume", *run)
    elapsed = time.monotonic() - started
    assert rest.returncode == 0, rest.stdout[-4000:] + rest.stderr[-2000:]
    return lab, elapsed


def test_off2_rehearsal_completes(rehearsed: tuple[NetnsLab, float]) -> None:
    lab, elapsed = rehearsed
    assert "completed" in lab.migrator("status").stdout.splitlines()[0]

    # off2 has its new host key: expect_new_host_key pinned it in the lab's known_hosts.
    nvme = lab.ssh("off2", "zpool status zfs-nvme")
    assert " state: ONLINE" in nvme.stdout, nvme.stdout + nvme.stderr
    assert "raidz1-0" in lab.ssh("off2", "zpool status zfs-hdd").stdout
    cluster = lab.ssh("off2", "pvecm status").stdout
    assert "Name:             off-free" in cluster and "Quorate:          Yes" in cluster
    assert lab.ssh("off2", "pct status 101").stdout.strip() == "status: running"
    assert lab.ssh("off2", "id -u off").stdout.strip() == "1000"
    # ovh3 pulled the new rpool; the old system's replica was kept aside, not overwritten.
    replicas = lab.ssh("ovh3", "zfs list -H -t snapshot -o name -d 1 rpool/off-backups/off2-rpool-2023 "
                       "rpool/off-backups/off2-rpool").stdout  # fmt: skip
    assert "rpool/off-backups/off2-rpool-2023@autosnap_2023-02-16_00:00:01_daily" in replicas
    assert any(line.startswith("rpool/off-backups/off2-rpool@autosnap_2") and "_2023-02-" not in line
               for line in replicas.splitlines())  # fmt: skip
    print(f"off2 rehearsal: {elapsed:.1f} s of plan")


def test_a_pg_hba_that_refuses_the_hosts_fails_the_plans_own_check(rehearsed: tuple[NetnsLab, float]) -> None:
    """issue 16 (Show): CT 120 runs the real PostgreSQL, so a pg_hba.conf that refuses the other
    hosts (lab fault pg-hba-reject: a reject line above the one the plan appends) makes
    ct120-postgres's own check fail, as it would in production; without the fault it holds."""
    lab, _ = rehearsed
    run = ["--inventory", str(lab.dir / "inventory.yaml"), "--yes", "--confirm-manual",
           "--only", "ct120-postgres"]  # fmt: skip
    fault = ["lab", "fault", "--dir", str(lab.dir), "off2", "pg-hba-reject"]
    assert lab.cli(*fault).returncode == 0
    try:
        refused = lab.migrator("run", "off2", *run)
    finally:
        assert lab.cli(*fault, "--clear").returncode == 0
    shown = refused.stdout + refused.stderr
    assert refused.returncode == 1, shown[-3000:]
    assert "pg_hba lets the private network in" in shown, shown[-3000:]
    assert "ct120-postgres" in shown
    admitted = lab.migrator("run", "off2", *run)
    assert admitted.returncode == 0, (admitted.stdout + admitted.stderr)[-3000:]
