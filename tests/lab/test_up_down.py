"""lab up / status / down: real sshd per host on its own address, private files, clean stop."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time

from migrator.lab import sshd as sshd_mod
from migrator.lab.layout import HOSTS, SSH_PORT, host
from migrator.lab.procs import cmdline
from tests.lab.conftest import RunningLab, lab_processes


def test_every_host_answers_on_its_own_address_with_the_pinned_key(lab: RunningLab) -> None:
    for lab_host in HOSTS:
        entry = lab.inventory.hosts[lab_host.name]
        assert (entry.address, entry.port) == (lab_host.address, SSH_PORT)
        # The transport refuses unknown keys: answering at all proves the pinned key matched.
        result = lab.run(lab_host.name, "cat /var/lib/migrator-lab/host.json")
        assert result.exit_code == 0, result.stderr
        assert json.loads(result.stdout)["name"] == lab_host.name
    known = lab.lab.paths.known_hosts.read_text().splitlines()
    assert [line.split()[0] for line in known] == [f"[{h.address}]:{SSH_PORT}" for h in HOSTS]


def test_the_stand_ins_come_first_on_the_path_and_real_tools_stay(lab: RunningLab) -> None:
    result = lab.run("off2", "for t in zpool pvecm systemctl stunnel rsync ss; do command -v $t; done")
    paths = result.stdout.split()
    assert paths[:3] == ["/usr/local/sbin/zpool", "/usr/local/sbin/pvecm", "/usr/local/sbin/systemctl"]
    assert not any(p.startswith("/usr/local/sbin") for p in paths[3:])


def test_hosts_do_not_see_each_others_files(lab: RunningLab) -> None:
    assert lab.run(
        "off1", "echo off1 > /srv/mine && mkdir -p /etc/stunnel && echo a > /etc/stunnel/off.conf"
    ).ok
    assert lab.run("off2", "test -e /srv/mine").exit_code == 1
    assert lab.run("off2", "test -e /etc/stunnel/off.conf").exit_code == 1
    assert lab.run("off1", "cat /srv/mine").stdout == "off1\n"
    assert (lab.lab.paths.root("off1") / "srv/mine").read_text() == "off1\n"


def test_a_container_has_its_own_files_inside_its_host(lab: RunningLab) -> None:
    assert lab.run("off2/ct:101", "echo ct > /srv/inside").ok
    assert lab.run("off2", "test -e /srv/inside").exit_code == 1
    assert lab.run("off2", "cat /var/lib/migrator-lab/ct/101/root/srv/inside").stdout == "ct\n"


def test_up_twice_is_harmless_and_restarts_what_died(lab: RunningLab) -> None:
    before = {p.key: p.pid for p in lab.lab.status()}
    assert all(p.running for p in lab.lab.status())
    lines = lab.lab.up()
    assert all("already running" in line for line in lines)
    assert {p.key: p.pid for p in lab.lab.status()} == before
    lab.lab.stop_sshd("ovh2")  # a dead host comes back
    lines = lab.lab.up()
    assert [line for line in lines if "started" in line] == ["ovh2  127.0.1.12:2222  started sshd"]
    lab.reconnect()
    assert lab.run("ovh2", "true").ok


def test_down_stops_every_process_it_started(lab: RunningLab) -> None:
    # A daemon started by the stand-in systemctl must be stopped too.
    conf = lab.lab.paths.root("ovh3") / "etc/stunnel/off.conf"
    conf.write_text(
        "foreground = yes\npid = /run/stunnel-off/stunnel.pid\n[t]\nclient = yes\n"
        "accept = 127.0.1.13:28017\nconnect = 127.0.1.13:28018\n"
    )
    assert lab.run("ovh3", "systemctl restart stunnel@off").ok, "stunnel did not start"
    pids = {p.key: p.pid for p in lab.lab.status()}
    # The host's PID namespace: the recorded PID is ovh3's; the machine knows it by the socket.
    state = json.loads((lab.lab.paths.state_dir("ovh3") / "state.json").read_text())
    stunnel = state["units"]["stunnel@off"]
    assert lab.run("ovh3", f"kill -0 {stunnel['pid']}").ok
    listeners = subprocess.run(
        ["ss", "-ltnpH", "src", "127.0.1.13:28017"], capture_output=True, text=True, check=True
    ).stdout
    machine_pid = int(re.findall(r"pid=(\d+)", listeners)[0])
    assert cmdline(machine_pid) == stunnel["argv"]
    # off's real apache2 in off2's CT 113 (`up` started it): found by this lab's Define in its argv
    apache2 = ["pgrep", "-f", f"^/usr/sbin/apache2 .* Define MIGRATOR_LAB_DIR {lab.dir}$"]

    def apache2_pids() -> list[str]:
        return subprocess.run(apache2, capture_output=True, text=True, check=False).stdout.split()

    assert apache2_pids()

    # off1's real nginx (`up` started it): its master found by this lab's env in its title,
    # its workers by their parent
    def pgrep(*args: str) -> list[str]:
        return subprocess.run(["pgrep", *args], capture_output=True, text=True, check=False).stdout.split()

    masters = pgrep("-f", f"^nginx: master process /usr/sbin/nginx .* MIGRATOR_LAB_DIR={lab.dir};$")
    assert len(masters) == 1
    nginx_pids = [int(p) for p in masters + pgrep("-P", masters[0])]
    assert len(nginx_pids) >= 2
    assert all(os.readlink(f"/proc/{p}/exe") == "/usr/sbin/nginx" for p in nginx_pids)

    def nginx_left() -> list[int]:
        return [p for p in nginx_pids if os.path.exists(f"/proc/{p}") and "nginx" in " ".join(cmdline(p))]

    lab.connections.close_all()

    stopped = lab.lab.down()

    recorded = [line for line in stopped if "unrecorded" not in line]
    assert len(recorded) == len(pids)  # the stunnel ended with ovh3's namespace (its sshd)
    assert not any(p.running for p in lab.lab.status())
    deadline = time.monotonic() + 5  # the kernel ends the namespace's processes after its init
    while cmdline(machine_pid) == stunnel["argv"] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert cmdline(machine_pid) != stunnel["argv"]
    deadline = time.monotonic() + 5
    while apache2_pids() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert apache2_pids() == []  # no apache2 left
    deadline = time.monotonic() + 5
    while nginx_left() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert nginx_left() == []  # no nginx left, master or worker
    assert lab_processes(lab.dir) == []
    lab.lab.up()  # the module fixture tears down what it finds running
    lab.reconnect()


def test_status_shows_each_host_s_own_sshd_and_its_wrapper_takes_it_along(lab: RunningLab) -> None:
    """issue 16: status showed the `unshare` wrapper's pid; killing it left sshd serving."""
    status = {p.key: p.pid for p in lab.lab.status()}
    for lab_host in HOSTS:
        pid = status[f"sshd:{lab_host.name}"]
        assert os.readlink(f"/proc/{pid}/exe") == "/usr/sbin/sshd", lab_host.name
    wrapper = json.loads(lab.lab.paths.pids.read_text())["sshd:ovh2"]["wrapper"]
    os.kill(wrapper, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while sshd_mod.alive(status["sshd:ovh2"]) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not sshd_mod.alive(status["sshd:ovh2"])  # the host went down with its wrapper
    assert lab.lab.running("sshd:ovh2") is None
    assert [line for line in lab.lab.up() if "started" in line] == ["ovh2  127.0.1.12:2222  started sshd"]
    lab.reconnect()


def test_down_stops_what_an_effect_of_a_killed_run_started(lab: RunningLab) -> None:
    """A fakepve started by a run killed before anything recorded it (issue 16: it survived
    two `lab reset`s and a `lab down`, still listening)."""
    lab.lab.stop_extra("pve:ovh2")
    orphan = lab.lab._start_pve(host("ovh2"))  # what the killed effect did
    lab.lab._forget("pve:ovh2")  # ... and the record it never wrote
    lab.connections.close_all()

    stopped = lab.lab.down()

    assert f"pid {orphan} (unrecorded, marked with this lab)" in stopped
    assert not sshd_mod.alive(orphan)
    assert lab_processes(lab.dir) == []
    lab.lab.up()
    lab.reconnect()
