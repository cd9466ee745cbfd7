"""The plans against what the team's repository records (copies in tests/data/off-infra/confs,
from the commit named in tests/data/off-infra/files.txt), and their commands run on real files."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from migrator.plan.load import LoadedPlan, check_plan

ROOT = Path(__file__).resolve().parents[2]
CONFS = ROOT / "tests" / "data" / "off-infra" / "confs"


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
