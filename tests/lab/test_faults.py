"""Each fault knob makes its intended check fail (real checks, real SSH) and nothing else."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from migrator.errors import HostKeyError, LabError
from migrator.lab.faults import FAULTS, active_faults, clear_fault, set_fault
from migrator.lab.sshd import free_port
from migrator.plan.load import load_plan
from tests.lab.conftest import RunningLab

HEALTHY_HDD = {"kind": "zpool_healthy", "pool": "zfs-hdd"}
QUORATE_1 = {"kind": "pve_quorate", "nodes": 1}
RPOOL_UNIQUE = {"kind": "zpool_unique", "pool": "rpool"}


@pytest.fixture
def fault(lab: RunningLab) -> Iterator[object]:
    """Set faults with fault(host, name); every fault set is cleared after the test."""
    touched: set[str] = set()

    def set_it(host: str, name: str) -> None:
        touched.add(host)
        set_fault(lab.lab, host, name)

    yield set_it
    for host in touched:
        clear_fault(lab.lab, host)
    lab.reconnect()


def test_every_fault_is_listed_with_a_test() -> None:
    tested = {"degraded-pool", "pool-full", "stale-rpool", "missing-nvme", "zfs-labels", "stunnel-port-busy",
              "route-missing", "host-key-changed", "cluster-no-quorum", "pg-hba-reject",
              "checksum-errors", "apache-config-broken", "redis-protected-mode"}  # fmt: skip
    assert set(FAULTS) == tested


def recorded(case: str) -> dict[str, Any]:
    """A recorded real output (tests/data/checks): the stand-ins must print the same."""
    data: dict[str, Any] = json.loads((Path(__file__).parents[1] / "data/checks" / case).read_text())
    return data


def test_pool_full_makes_the_90_percent_alert_fire(lab: RunningLab, fault) -> None:  # type: ignore[no-untyped-def]
    """issue 16: `zpool list -o capacity` printed `-`, so the alert could never fire in the lab."""
    case = recorded("command/fail_pool_capacity_over_90.json")
    alert = case["check"]
    assert lab.check("off2", alert).passed  # 1.2G of a big pool: a few per cent
    fault("off2", "pool-full")
    printed = lab.run("off2", alert["command"])
    assert printed.exit_code == 0
    assert printed.stdout == case["output"]["stdout"]  # off2's three pools, as OpenZFS prints them
    assert not lab.check("off2", alert).passed
    literal = lab.run("off2", "zpool list -Hp -o name,cap,frag,dedup zfs-hdd").stdout
    assert literal == "zfs-hdd\t93\t0\t1.00\n"  # -p: numbers without % or x (zpool_get_prop literal)


def test_an_unknown_unit_is_inactive_with_exit_3_as_systemd_252_says(lab: RunningLab) -> None:
    case = recorded("systemd_active/fail_no_such_unit.json")
    printed = lab.run("off2", "systemctl is-active -- no-such-unit.service")
    assert (printed.exit_code, printed.stdout) == (case["output"]["exit_code"], case["output"]["stdout"])


def test_degraded_pool(lab: RunningLab, fault) -> None:  # type: ignore[no-untyped-def]
    assert lab.check("off2", HEALTHY_HDD).passed
    fault("off2", "degraded-pool")
    result = lab.check("off2", HEALTHY_HDD)
    assert not result.passed
    assert "zpool zfs-hdd is DEGRADED: sdb4 FAULTED" in result.message
    status_x = {"kind": "command", "command": "zpool status -x", "stdout_contains": "all pools are healthy"}
    assert not lab.check("off2", status_x).passed
    assert lab.check("off2", QUORATE_1).passed
    assert lab.check("off2", RPOOL_UNIQUE).passed


def test_stale_rpool(lab: RunningLab, fault) -> None:  # type: ignore[no-untyped-def]
    assert lab.check("off2", RPOOL_UNIQUE).passed
    fault("off2", "stale-rpool")
    result = lab.check("off2", RPOOL_UNIQUE)
    assert not result.passed
    assert "zpool import -f 9184375294717263012 rpool-old" in result.message
    assert lab.check("off2", {"kind": "zpool_healthy", "pool": "rpool"}).passed
    # The remedy from the facts sheet works on the stand-in too: import by id under a new name.
    assert lab.run("off2", "zpool import -f rpool").exit_code == 1
    assert lab.run("off2", "zpool import -f 9184375294717263012 rpool-old").ok
    assert lab.check("off2", RPOOL_UNIQUE).passed
    assert lab.run("off2", "zpool export rpool-old").ok  # leave off2 as it was


def test_missing_nvme(lab: RunningLab, fault) -> None:  # type: ignore[no-untyped-def]
    nvme = {"kind": "zpool_healthy", "pool": "zfs-nvme"}
    assert lab.check("off2", nvme).passed
    fault("off2", "missing-nvme")
    result = lab.check("off2", nvme)
    assert not result.passed
    assert "UNAVAIL (was /dev/nvme0n1)" in result.message
    assert "nvme" not in lab.run("off2", "lsblk").stdout
    assert lab.check("off2", {"kind": "zpool_healthy", "pool": "rpool"}).passed
    assert lab.check("off2", QUORATE_1).passed


def test_zfs_labels(lab: RunningLab, fault) -> None:  # type: ignore[no-untyped-def]
    create = {"kind": "command", "command": "zpool create -o ashift=12 tank mirror /dev/nvme0n1 /dev/nvme1n1"}
    fault("ovh2", "zfs-labels")
    result = lab.check("ovh2", create)
    assert not result.passed
    run = lab.run("ovh2", create["command"])
    assert "/dev/nvme0n1 is part of potentially active pool 'off-zfs'" in run.stderr
    assert lab.check("ovh2", {"kind": "zpool_healthy", "pool": "rpool"}).passed
    # What off1 did in December 2023: labelclear, then create.
    assert lab.run("ovh2", "zpool labelclear -f /dev/nvme0n1 && zpool labelclear -f /dev/nvme1n1").ok
    assert lab.check("ovh2", create).passed
    assert lab.check("ovh2", {"kind": "zpool_healthy", "pool": "tank"}).passed
    assert lab.run("ovh2", "zpool destroy tank").ok


def test_stunnel_port_busy(lab: RunningLab, fault) -> None:  # type: ignore[no-untyped-def]
    port = free_port("127.0.1.11")
    conf = lab.lab.paths.root("ovh1") / "var/lib/migrator-lab/ct/113/root/etc/stunnel/off.conf"
    conf.write_text(
        "foreground = yes\npid = /run/stunnel-off/stunnel.pid\n[MongoDB]\nclient = yes\n"
        f"accept = 127.0.1.11:{port}\nconnect = 127.0.1.2:{port}\nciphers = PSK\n"
        "PSKsecrets = /etc/stunnel/psk/mongodb-psk.txt\n"
    )
    assert lab.run(
        "ovh1/ct:113",
        "mkdir -p /etc/stunnel/psk && echo lab-mongo:0123456789abcdef0123456789abcdef "
        "> /etc/stunnel/psk/mongodb-psk.txt && chmod 600 /etc/stunnel/psk/mongodb-psk.txt",
    ).ok
    active = {"kind": "systemd_active", "unit": "stunnel@off"}
    assert lab.run("ovh1/ct:113", "systemctl restart stunnel@off").ok
    assert lab.check("ovh1/ct:113", active).passed
    assert lab.run("ovh1/ct:113", "systemctl stop stunnel@off").ok
    assert not lab.check("ovh1/ct:113", active).passed

    fault("ovh1", "stunnel-port-busy")
    restart = lab.run("ovh1/ct:113", "systemctl restart stunnel@off")
    assert restart.exit_code == 1
    assert "Job for stunnel@off.service failed" in restart.stderr
    result = lab.check("ovh1/ct:113", active)
    assert not result.passed
    assert result.observed == "failed"
    assert lab.check("ovh1", {"kind": "zpool_healthy", "pool": "rpool"}).passed


def test_route_missing(lab: RunningLab, fault) -> None:  # type: ignore[no-untyped-def]
    private = {"kind": "command", "command": "ip route list", "stdout_contains": "10.0.0.0/8 dev vmbr1"}
    default = {
        "kind": "command",
        "command": "ip route list",
        "stdout_contains": "default via 127.0.1.254 dev vmbr0",
    }
    assert lab.check("off2", private).passed
    fault("off2", "route-missing")
    result = lab.check("off2", private)
    assert not result.passed
    assert "10.0.0.0/8 dev vmbr1" in result.message
    assert lab.check("off2", default).passed


def test_host_key_changed(lab: RunningLab, fault) -> None:  # type: ignore[no-untyped-def]
    assert lab.run("ovh3", "true").ok
    fault("ovh3", "host-key-changed")
    lab.reconnect()
    with pytest.raises(HostKeyError):
        lab.run("ovh3", "true")
    assert lab.run("ovh2", "true").ok
    clear_fault(lab.lab, "ovh3", "host-key-changed")
    lab.reconnect()
    assert lab.run("ovh3", "true").ok


def test_cluster_no_quorum(lab: RunningLab, fault) -> None:  # type: ignore[no-untyped-def]
    assert lab.check("off2", QUORATE_1).passed
    fault("off2", "cluster-no-quorum")
    result = lab.check("off2", QUORATE_1)
    assert not result.passed
    assert "is not quorate" in result.message
    assert lab.check("off2", HEALTHY_HDD).passed
    assert lab.run("off2", "pvesm add dir extra --path /srv").exit_code == 255


def test_faults_are_cleared_one_by_one(lab: RunningLab) -> None:
    set_fault(lab.lab, "ovh2", "route-missing")
    set_fault(lab.lab, "ovh2", "degraded-pool")
    assert clear_fault(lab.lab, "ovh2", "route-missing") == ["route-missing"]
    assert active_faults(lab.lab, "ovh2") == ["degraded-pool"]
    assert clear_fault(lab.lab, "ovh2") == ["degraded-pool"]
    assert active_faults(lab.lab, "ovh2") == []


def test_pvesm_status_prints_every_size_in_kib_as_pve_storage_does(lab: RunningLab) -> None:
    """issue 16: the stand-in printed Used in bytes between a Total and an Available in KiB."""
    printed = lab.run("off2", "pvesm status").stdout.splitlines()
    assert printed[0].split() == ["Name", "Type", "Status", "Total", "Used", "Available", "%"]
    rows = [line.split() for line in printed[1:]]
    assert [row[0] for row in rows] == sorted(row[0] for row in rows)
    for name, _, status, total, used, available, percent in rows:
        if status == "active":
            assert int(total) == int(used) + int(available), name  # one unit: KiB
            assert percent == f"{100 * int(used) / int(total):.2f}%"
    storage_check = recorded("pve_storage_active/pass_all_active.json")["check"]
    assert lab.check("off2", storage_check).passed


def test_redis_protected_mode_refuses_another_ct_as_in_production(lab: RunningLab) -> None:
    """issue 16: the lab's Redis is the real one, so a config that leaves protected mode on
    (Debian's default, no password) refuses the proxy CT as it did the team's, while a bare
    TCP check still passes."""
    server, client, address = "off2/ct:113", "off2/ct:101", "127.2.0.113"
    conf = "/etc/redis/redis.conf"
    ping = {"kind": "command", "command": f"redis-cli -h {address} ping", "stdout_contains": "PONG"}
    assert lab.run(server, "apt-get install -y redis-server").ok
    bind = f"sed -i 's/^bind .*/bind 127.0.0.1 {address}/' {conf} && systemctl restart redis-server"
    assert lab.run(server, bind).ok
    assert lab.check(client, {"kind": "tcp_open", "address": address, "port": 6379}).passed
    assert not lab.check(client, ping).passed
    denied = lab.run(client, f"redis-cli -h {address} ping").stdout
    assert "DENIED Redis is running in protected mode" in denied
    local = {"kind": "command", "command": "redis-cli ping", "stdout_contains": "PONG"}
    assert lab.check(server, local).passed  # from its own CT: loopback, allowed
    opened = f"sed -i 's/^protected-mode yes/protected-mode no/' {conf} && systemctl restart redis-server"
    assert lab.run(server, opened).ok
    assert lab.check(client, ping).passed


def test_redis_protected_mode_fault_denies_the_stunnel_server_ct(lab: RunningLab, fault) -> None:  # type: ignore[no-untyped-def]
    """issue 16: off-redis behind the OffRedis tunnel is the real redis-server, asked with the
    real redis-cli from the stunnel server's CT (off2/ct:101). With protected-mode yes and no
    password Redis 7 admits only 127.0.0.1 and ::1; the CT comes from 127.2.0.1 (ct_sources),
    so it is denied as the team's stunnel server was - the TCP connect still passes."""
    client, backend = "off2/ct:101", "-h 127.2.0.122 -p 16379"  # plans/tunnels.lab.yaml OffRedis connect
    assert lab.run(client, "command -v redis-cli").stdout == "/usr/bin/redis-cli\n"  # Debian's, no stand-in
    pong = {"kind": "command", "command": f"redis-cli {backend} ping", "stdout_matches": "^PONG\\s*$"}
    assert lab.check(client, pong).passed
    assert lab.run(client, f"redis-cli {backend} set migrator:lab:marker kept").stdout == "OK\n"
    fault("off2", "redis-protected-mode")
    assert not lab.check(client, pong).passed
    denied = lab.run(client, f"redis-cli {backend} ping")
    assert denied.exit_code == 0  # redis-cli exits 0 on an error reply: only the reply tells
    assert denied.stdout.startswith("DENIED Redis is running in protected mode because protected mode is")
    assert lab.check(client, {"kind": "tcp_open", "address": "127.2.0.122", "port": 16379}).passed
    with pytest.raises(LabError, match="redis-protected-mode is a fault of off2, not ovh2"):
        set_fault(lab.lab, "ovh2", "redis-protected-mode")
    clear_fault(lab.lab, "off2", "redis-protected-mode")
    assert lab.check(client, pong).passed
    restarted = lab.run(client, f"redis-cli {backend} get migrator:lab:marker")
    assert restarted.stdout == "\n"  # a restart, nothing saved: the fault took a real restart


def test_postgresql_is_real_and_pg_hba_decides_who_gets_in(lab: RunningLab, fault) -> None:  # type: ignore[no-untyped-def]
    """issue 16: the lab's PostgreSQL is Debian's server on the CT's own config, and a client in
    a CT comes from a private address (not 127.0.0.1), so pg_hba.conf decides as in production:
    Debian's loopback-only default refuses it, the plan's private_net line (plans/off2.yaml
    ct120-postgres) lets it in, and the fault pg-hba-reject (a reject line above) refuses it again."""
    ct, address = "off2/ct:113", "127.2.0.113"
    private_net = lab.inventory.hosts["off2"].vars["private_net"]
    # the plan's own check (ct120-postgres), aimed at this CT's address
    psql = f"psql 'host={address} dbname=postgres user=off connect_timeout=5' -w -c '' 2>&1"
    admits = {"kind": "command", "exit_code": 2, "stdout_contains": "no password supplied", "command": psql}
    assert lab.run(ct, "apt-get install -y postgresql").ok
    listen = f"sed -i \"s/^#\\?listen_addresses = .*/listen_addresses = 'localhost,{address}'/\" "
    assert lab.run(ct, listen + "/etc/postgresql/*/main/postgresql.conf && systemctl restart postgresql").ok
    assert lab.check(ct, {"kind": "tcp_open", "address": address, "port": 5432}).passed
    refused = lab.check(ct, admits)
    assert not refused.passed  # Debian's pg_hba.conf: loopback only
    assert 'no pg_hba.conf entry for host "127.2.0.1"' in lab.run(ct, admits["command"]).stdout
    hba = "$(ls -d /etc/postgresql/*/main | tail -n1)/pg_hba.conf"
    append = f"echo 'host all all {private_net} md5' >> {hba}"
    assert lab.run(ct, append + " && systemctl restart postgresql").ok
    assert lab.check(ct, admits).passed
    fault("off2", "pg-hba-reject")
    assert lab.run(ct, "systemctl restart postgresql").ok
    assert not lab.check(ct, admits).passed
    assert "pg_hba.conf rejects connection for host" in lab.run(ct, admits["command"]).stdout
    clear_fault(lab.lab, "off2", "pg-hba-reject")
    assert lab.run(ct, "systemctl restart postgresql").ok
    assert lab.check(ct, admits).passed
    assert lab.run(ct, "systemctl stop postgresql").ok


def _guids(text: str) -> list[str]:
    """Every GUID-looking word (a uint64 in decimal) of ``zpool status -g`` / ``zdb -C`` output."""
    import re

    return re.findall(r"\b\d{15,20}\b", text)


def test_vdev_guids_are_the_same_in_two_probes_and_in_zdb(lab: RunningLab) -> None:
    """issue 16.6: device GUIDs changed between two probes (Python's per-process str hash)."""
    status_g = recorded("command/pass_zpool_status_g_guids.json")
    zdb = recorded("command/pass_zdb_config_guids.json")
    first = lab.run("off2", "zpool status -g zfs-hdd").stdout
    second = lab.run("off2", "zpool status -g zfs-hdd").stdout
    assert first == second == status_g["output"]["stdout"]
    assert lab.check("off2", status_g["check"]).passed
    config = lab.run("off2", "zdb -C zfs-hdd").stdout
    assert config == zdb["output"]["stdout"]
    assert lab.check("off2", zdb["check"]).passed
    vdevs = _guids(first)  # raidz1-0 and its disks: every one is in zdb's tree, by the same GUID
    assert len(vdevs) >= 3 and set(vdevs) <= set(_guids(config))


def test_checksum_errors_are_counted_on_the_vdev_and_pool_rows(lab: RunningLab, fault) -> None:  # type: ignore[no-untyped-def]
    """issue 16.6: error counters were never on the pool row. Unrepaired checksum errors are
    counted on the top-level vdev and the pool, not the disks (openzfs/zfs#5018)."""
    case = recorded("zpool_healthy/fail_checksum_errors_on_pool_row.json")
    assert lab.check("off2", case["check"]).passed
    fault("off2", "checksum-errors")
    probe = lab.run("off2", "zpool status -P zfs-hdd").stdout  # as the check probes it
    assert probe + "--- zpool list ---\n" in case["output"]["stdout"]
    result = lab.check("off2", case["check"])
    assert not result.passed and case["expect"]["message_contains"] in result.message
    assert "zfs-hdd" in lab.run("off2", "zpool status -x").stdout


OFF_CT, OFF_ADDRESS = "off2/ct:113", "127.2.0.113"  # off's web CT (plans/off1.yaml verify-off)
RUN_PID = "/var/lib/migrator-lab/apache2/run/apache2.pid"  # as CT 113 sees it


def test_off_s_apache2_in_ct_113_is_debian_s_real_apache2(lab: RunningLab) -> None:
    """issue 16.5: CT 113's apache2 was a Python responder; `lab up` now starts the machine's
    /usr/sbin/apache2 on the CT's own /etc/apache2, and systemctl and apache2ctl act on it."""
    assert lab.run(OFF_CT, "systemctl is-active apache2").stdout == "active\n"
    head = lab.run(OFF_CT, f"curl -sI --max-time 5 -H 'Host: world.openfoodfacts.org' http://{OFF_ADDRESS}/")
    assert head.stdout.startswith("HTTP/1.1 200 OK"), head.stdout
    assert re.search(r"^Server: Apache/2\.4\.\d+ \(Debian\)\r?$", head.stdout, re.M), head.stdout
    other = lab.run(
        OFF_CT, f"curl -s -o /dev/null -w '%{{http_code}}' -H 'Host: example.org' http://{OFF_ADDRESS}/"
    )
    assert other.stdout.strip() == "404"  # the default virtual host: not off's name
    # The machine's process behind the CT's socket is the apache2 binary (the test shares the lab's netns).
    listeners = subprocess.run(["ss", "-ltnpH", "src", f"{OFF_ADDRESS}:80"], capture_output=True, text=True,
                               check=True).stdout  # fmt: skip
    pids = {int(p) for p in re.findall(r"pid=(\d+)", listeners)}
    assert pids and all(os.readlink(f"/proc/{pid}/exe") == "/usr/sbin/apache2" for pid in pids)
    test = lab.run(OFF_CT, "apache2ctl configtest")
    assert (test.exit_code, test.stderr.strip()) == (0, "Syntax OK")
    # its pid file, locks and log in the CT's own lab state, not the machine's /run or /var/log
    ct_state = lab.lab.paths.state_dir("off2") / "ct/113/root/var/lib/migrator-lab/state.json"
    state = json.loads(ct_state.read_text())
    shown = lab.run(OFF_CT, f"tr '\\0' ' ' < /proc/$(cat {RUN_PID})/cmdline").stdout
    assert shown.strip() == " ".join(state["units"]["apache2"]["argv"])
    # reload: the same master (graceful, SIGUSR1); stop and start: a new one
    master = state["units"]["apache2"]["pid"]
    assert lab.run(OFF_CT, "systemctl reload apache2").ok
    assert lab.run(OFF_CT, f"cat {RUN_PID}").stdout.strip() == str(master)
    assert lab.run(OFF_CT, "systemctl stop apache2").ok
    assert lab.run(OFF_CT, "systemctl is-active apache2").stdout == "inactive\n"
    assert not lab.check(OFF_CT, {"kind": "tcp_open", "address": OFF_ADDRESS, "port": 80}).passed
    assert lab.run(OFF_CT, "systemctl start apache2").ok
    assert lab.check(OFF_CT, {"kind": "tcp_open", "address": OFF_ADDRESS, "port": 80}).passed


def test_apache_config_broken_fails_the_plan_s_verify_off_as_in_production(lab: RunningLab, fault) -> None:  # type: ignore[no-untyped-def]
    """issue 16.5: with a config the real apache2 refuses, off1's plan's own verify-off step
    (`systemctl is-active apache2` and its http_status post-check) fails once apache2 is
    restarted (repoint-consumers: "apache2 restarted"); a reload is refused and the running
    server goes on, as Debian's apachectl graceful does. Without the fault the step passes."""
    plan = load_plan(Path(__file__).parents[2] / "plans/off1.yaml", inventory=lab.lab.paths.inventory)
    step = plan.step("verify-off")
    assert step.host == OFF_CT
    http = next(c for c in step.post if c.kind == "http_status")

    def verify_off() -> bool:
        command = lab.run(OFF_CT, str(step.command))
        return command.ok and lab.check(OFF_CT, http.model_dump(mode="json")).passed

    assert lab.run(OFF_CT, "systemctl restart apache2").ok
    assert verify_off()
    fault("off2", "apache-config-broken")
    test = lab.run(OFF_CT, "apache2ctl configtest")
    assert test.exit_code != 0
    assert "Invalid command 'RewriteEngine'" in test.stderr
    assert not lab.run(OFF_CT, "systemctl reload apache2").ok
    assert verify_off()  # the running apache2 kept the config it had read
    restart = lab.run(OFF_CT, "systemctl restart apache2")
    assert restart.exit_code == 1
    assert "Job for apache2.service failed" in restart.stderr
    assert lab.run(OFF_CT, str(step.command)).stdout == "failed\n"
    assert not verify_off()
    assert "Invalid command 'RewriteEngine'" in lab.run(OFF_CT, "journalctl -u apache2").stdout
    clear_fault(lab.lab, "off2", "apache-config-broken")
    assert lab.run(OFF_CT, "apache2ctl configtest").ok
    assert lab.run(OFF_CT, "systemctl restart apache2").ok
    assert verify_off()


OFF1_WEB = "127.0.1.1"  # off1's own address: its nginx until the window


def _listener_exes(address: str) -> set[str]:
    listeners = subprocess.run(["ss", "-ltnpH", "src", address], capture_output=True, text=True,
                               check=True).stdout  # fmt: skip
    return {os.readlink(f"/proc/{pid}/exe") for pid in re.findall(r"pid=(\d+)", listeners)}


def test_off1_s_nginx_is_debian_s_real_nginx_and_the_plan_s_freeze_stops_it(lab: RunningLab) -> None:
    """issue 16.5: off1 (old Debian, before its move) runs the machine's /usr/sbin/nginx on the
    config `lab up` wrote; plans/off1.yaml's own stop-services step stops it for real (its
    post-check `nginx.service inactive` holds, nothing listens) and its rollback brings it back."""
    assert lab.run("off1", "systemctl is-active nginx").stdout == "active\n"
    head = lab.run("off1", f"curl -sI --max-time 5 -H 'Host: world.openfoodfacts.org' http://{OFF1_WEB}/")
    assert head.stdout.startswith("HTTP/1.1 200 OK"), head.stdout
    assert re.search(r"^Server: nginx/1\.\d+\.\d+\r?$", head.stdout, re.M), head.stdout
    other = lab.run(
        "off1", f"curl -s -o /dev/null -w '%{{http_code}}' -H 'Host: example.org' http://{OFF1_WEB}/"
    )
    assert other.stdout.strip() == "404"  # the default server: not off's name
    assert _listener_exes(f"{OFF1_WEB}:80") == {"/usr/sbin/nginx"}  # the master and its worker
    state = json.loads((lab.lab.paths.state_dir("off1") / "state.json").read_text())
    master = state["units"]["nginx"]["pid"]  # off1's PID namespace: its pid file says the same
    assert lab.run("off1", "cat /var/lib/migrator-lab/nginx/nginx.pid").stdout.strip() == str(master)

    plan = load_plan(Path(__file__).parents[2] / "plans/off1.yaml", inventory=lab.lab.paths.inventory)
    step = plan.step("stop-services")
    assert step.host == "off1" and step.rollback is not None
    nginx_inactive = next(c for c in step.post if c.kind == "systemd_active" and c.unit == "nginx.service")
    assert not lab.check("off1", nginx_inactive.model_dump(mode="json")).passed  # it runs: the check tells
    assert lab.run("off1", str(step.command)).ok
    for check in step.post:
        assert lab.check("off1", check.model_dump(mode="json")).passed, check
    assert _listener_exes(f"{OFF1_WEB}:80") == set()  # really stopped, not just recorded
    assert lab.lab.up()[-1] == "web   off1 nginx stopped (systemctl stop nginx), left so"  # up is no reboot
    assert lab.run("off1", str(step.rollback.command)).ok
    assert lab.run("off1", "systemctl is-active nginx cron").stdout == "active\nactive\n"
    assert not lab.check("off1", nginx_inactive.model_dump(mode="json")).passed
    assert _listener_exes(f"{OFF1_WEB}:80") == {"/usr/sbin/nginx"}
    again = lab.run("off1", f"curl -s --max-time 5 -H 'Host: world.openfoodfacts.org' http://{OFF1_WEB}/")
    assert again.stdout == "Open Food Facts (migrator lab: Debian's nginx)\n"
