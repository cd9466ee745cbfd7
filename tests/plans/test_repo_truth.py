"""The plans against what the team's repository records (copies in tests/data/off-infra/confs,
from the commit named in tests/data/off-infra/files.txt), and their commands run on real files."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from migrator.plan.load import LoadedPlan, check_plan

ROOT = Path(__file__).resolve().parents[2]
CONFS = ROOT / "tests" / "data" / "off-infra" / "confs"
INFRA_REPO = "git@github.com:openfoodfacts/openfoodfacts-infrastructure.git"  # plans/inventory.yaml


def _load(name: str) -> LoadedPlan:
    loaded, problems = check_plan(ROOT / "plans" / f"{name}.yaml")
    assert loaded is not None, "\n".join(str(p) for p in problems)
    return loaded


def _pairs(conf: Path, remote: str) -> set[tuple[str, str]]:
    """(source dataset, target dataset) of each syncoid-args line pulling from ``remote``."""
    pairs = set()
    for line in conf.read_text(encoding="utf-8").splitlines():
        words = line.split()
        if not words or line.startswith("#"):
            continue
        source, target = words[-2], words[-1]
        if f"@{remote}:" in source:
            pairs.add((source.split(":", 1)[1], target))
    return pairs


def _plan_pairs(command: str) -> set[tuple[str, str]]:
    found = set(re.findall(r"@[^\s:]+:(\S+) (\S+) <", command))
    for pair in re.findall(r"(\S+?):(zfs-hdd/[^\s;]+)", command):  # the `for pair in a:b ...` lists
        if not pair[0].startswith(("off", "{{")):
            found.add(pair)
    for flavor_loop in re.findall(r"for f in ([a-z -]+); do", command):
        found |= {(f"zfs-hdd/{f}", f"zfs-hdd/{f}") for f in flavor_loop.split()}
    return found


def test_first_pulls_follow_the_real_syncoid_args() -> None:
    off1 = _load("off1")
    by_off1 = off1.step("off1-pulls-off2").command
    by_off2 = off1.step("off2-pulls-off1").command
    by_ovh3 = off1.step("ovh3-pulls-off1").command
    assert isinstance(by_off1, str) and isinstance(by_off2, str) and isinstance(by_ovh3, str)
    assert _pairs(CONFS / "off1-syncoid-args.conf", "10.0.0.2") <= _plan_pairs(by_off1)
    assert _pairs(CONFS / "off2-syncoid-args.conf", "10.0.0.1") <= _plan_pairs(by_off2)
    assert _pairs(CONFS / "ovh3-syncoid-args.conf", "off1.openfoodfacts.org") <= _plan_pairs(by_ovh3)


def test_syncoid_service_is_enabled() -> None:
    step = _load("off1").step("syncoid-units")
    assert isinstance(step.command, str) and "systemctl enable syncoid.service" in step.command
    assert any("is-enabled syncoid.service" in str(c.model_dump()) for c in step.post)


def test_etc_hosts_rewrite_puts_the_private_address_first(tmp_path: Path) -> None:
    """The installer's line first, as on a fresh node: appending alone left it winning."""
    hosts = tmp_path / "hosts"
    hosts.write_text(
        "127.0.0.1 localhost.localdomain localhost\n"
        "213.36.253.206 off1.openfoodfacts.org off1\n"
        "# a comment naming off2 stays\n",
        encoding="utf-8",
    )
    command = _load("off1").step("etc-hosts").command
    assert isinstance(command, str)
    script = command.replace("/etc/hosts", str(hosts))  # the plan's command, resolved for production
    for _ in range(2):  # idempotent: a second run leaves the same answer
        subprocess.run(["sh", "-c", script], check=True)
        first = {name: next(line.split()[0] for line in hosts.read_text().splitlines()
                            if not line.startswith("#") and re.search(rf"\s{name}(\s|$)", line))
                 for name in ("off1", "off2")}  # fmt: skip
        assert first == {"off1": "10.0.0.1", "off2": "10.0.0.2"}
    assert "# 213.36.253.206 off1.openfoodfacts.org off1" in hosts.read_text()
    assert "pve-localhost" in hosts.read_text()


def test_network_vmbr1_done_is_the_route_not_the_file() -> None:
    for name in ("off1", "off2"):
        step = _load(name).step("network-vmbr1")
        done = " ".join(str(c.model_dump()) for c in step.done_when)
        assert "ip route list" in done and "/etc/network/interfaces" not in done, name
        assert any("dev vmbr1" in str(c.model_dump()) for c in step.post), name


def test_no_step_reads_pct_exit_codes() -> None:
    for name in ("off1", "off2"):
        for step in _load(name).plan.steps():
            for check in [*step.pre, *step.done_when, *step.post]:
                dumped = check.model_dump()
                if "pct status" in str(dumped.get("command", "")):
                    assert dumped.get("exit_code") in (None, 0), f"{name} {step.id} reads pct's exit code"


def test_ovh3_pulls_off2s_system_and_pve_volumes_as_its_syncoid_args() -> None:
    """The flavors' data moves to off2 after the window; its system and the CTs' volumes are off2's own."""
    by_ovh3 = _load("off2").step("ovh3-first-syncoid").command
    assert isinstance(by_ovh3, str)
    real = {p for p in _pairs(CONFS / "ovh3-syncoid-args.conf", "off2.openfoodfacts.org")
            if p[0] == "rpool" or p[0].endswith("/pve")}  # fmt: skip
    assert real == {("rpool", "rpool/off-backups/off2-rpool"), ("zfs-hdd/pve", "rpool/off-backups/off2-pve"),
                    ("zfs-nvme/pve", "rpool/off-backups/off2-nvme-pve")}  # fmt: skip
    assert real <= _plan_pairs(by_ovh3)


def test_off2s_syncoid_service_is_enabled_once_off1_has_its_volumes() -> None:
    step = _load("off1").step("off2-syncoid-unit")
    assert step.host == "off2" and "off2-pulls-off1" in (step.depends_on or [])
    assert isinstance(step.command, str) and "confs/off2/sanoid/syncoid-args.conf" in step.command
    assert "systemctl enable syncoid.service" in step.command


def test_sanoid_is_built_from_upstreams_latest_release_tag() -> None:
    """docs/sanoid.md: clone jimsalterjrs/sanoid, the last v* tag, packages/debian, dpkg-buildpackage.
    The repository has no packages/ directory (tests/data/off-infra/files.txt)."""
    files = (ROOT / "tests/data/off-infra/files.txt").read_text(encoding="utf-8").splitlines()
    assert not any(f.startswith("packages/") for f in files)
    for name in ("off1", "off2"):
        command = _load(name).step("sanoid-install").command
        assert isinstance(command, str)
        assert "packages/sanoid" not in command.replace("ln -sfn packages/debian", "")
        # the inventory's sanoid_repo
        assert "git clone https://github.com/jimsalterjrs/sanoid.git sanoid" in command
        assert "ln -sfn packages/debian . && dpkg-buildpackage -uc -us" in command
        assert "grep '^v' | sort -V | tail -n 1" in command  # by version: git's order puts v2.10 before v2.9


def _ct_creates(plan: LoadedPlan) -> list[str]:
    """The CT targets (HOST/ct:N) the plan creates through the API."""
    made = []
    for step in plan.plan.steps():
        call = step.call
        if call is not None and call.method == "POST" and re.fullmatch(r"/nodes/[^/]+/lxc", call.path):
            made.append(f"{step.host}/ct:{call.params['vmid']}")
    return made


def test_every_ct_the_plans_create_gets_ct_postinstall_and_postfix() -> None:
    """The team runs scripts/proxmox-management/ct_postinstall and configures postfix in every CT."""
    for name in ("off1", "off2"):
        plan = _load(name)
        created = _ct_creates(plan)
        assert created, name
        for target in created:
            steps = [s for s in plan.plan.steps() if s.host == target]
            commands = [s.command for s in steps if isinstance(s.command, str)]
            # the plan's ct_postinstall param, resolved: the script's packages, then postfix via pmg
            relay = "postconf -e relayhost=pmg.openfoodfacts.org"
            assert any("molly-guard" in c and "munin-node" in c and relay in c for c in commands), target


def test_every_clone_of_the_infrastructure_repository_follows_a_deploy_key() -> None:
    """docs/how-to-have-server-config-in-git.md: root's key is a deploy key (write access) first."""
    for name, expected in (("off1", 2), ("off2", 4)):  # off1 and CT 102; off2 and CTs 101, 121, 122
        plan = _load(name)
        seen_keys: set[str] = set()  # targets whose root key was added as a deploy key
        clones = 0
        ids = {s.id: s for s in plan.plan.steps()}
        for step in plan.plan.steps():
            if step.kind == "manual" and "Deploy keys" in (step.instructions or ""):
                (source,) = [ids[d] for d in step.depends_on or [] if "key" in ids[d].outputs]
                seen_keys.add(source.host)
            if isinstance(step.command, str) and f"git clone {INFRA_REPO}" in step.command:
                assert step.host in seen_keys, f"{name} {step.id}: clones before {step.host}'s deploy key"
                assert "'github.com ssh-ed25519 AAAA" in step.command, f"{name} {step.id}: no pinned host key"
                clones += 1
        assert clones == expected, name


def test_ct122_redis_is_checked_by_a_client_ping_from_another_ct() -> None:
    """A TCP connect passes in protected mode too: only PONG (not -DENIED) from a client CT tells."""
    plan = _load("off2")
    for step_id in ("ct122-redis", "services-check"):
        pings = [c for c in plan.step(step_id).post if getattr(c, "kind", "") == "command"
                 and "redis-cli -h" in str(c.command) and ".122" in str(c.command)]  # fmt: skip
        assert pings, step_id
        for check in pings:
            assert str(check.command).endswith(" ping") and check.probe_from == "off2/ct:101"
            assert check.stdout_matches is not None and "PONG" in check.stdout_matches


def test_every_window_step_leads_to_the_end_of_its_window() -> None:
    """Downtime is the critical path through the window: a window step nothing depends on is not
    on it (CT 102's install once hung off the MongoDB copies' chain, so the copies did not wait
    for it and the downtime left it out). The window's last step ends every chain."""
    for name in ("off1", "off2", "stunnel"):
        loaded = _load(name)
        needed = {d for deps in loaded.deps.values() for d in deps}
        for phase in loaded.plan.phases:
            if phase.where != "window":
                continue
            ids = [s.id for s in phase.steps]
            dead = [s for s in ids[:-1] if s not in needed]
            assert not dead, f"{name} {phase.id}: nothing waits for {dead}"
