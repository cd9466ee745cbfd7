"""The real off1/off2 plans: they validate cleanly, their pitfall table points at real guards,
destructive steps can be undone or say why not, and the window's critical path fits."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from migrator.checks import ProbeOutput, evaluate
from migrator.checks.base import Outcome
from migrator.plan import graph
from migrator.plan.checks import Check
from migrator.plan.load import LoadedPlan, check_plan
from migrator.plan.model import Step, StepKind, Where

ROOT = Path(__file__).resolve().parents[2]
PLANS = {"plans/off1.yaml": ROOT / "plans" / "off1.yaml", "plans/off2.yaml": ROOT / "plans" / "off2.yaml"}
PITFALLS = ROOT / "docs" / "pitfalls.md"
LAB_FAULTS = {"degraded-pool", "stale-rpool", "missing-nvme", "zfs-labels", "stunnel-port-busy",
              "route-missing", "host-key-changed", "cluster-no-quorum", "redis-protected-mode"}
IP = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}\b")


def _load(path: Path, inventory: Path | None = None) -> LoadedPlan:
    loaded, problems = check_plan(path, inventory=inventory)
    errors = [p for p in problems if p.severity.value == "error"]
    assert loaded is not None and not errors, "\n".join(str(p) for p in problems)
    return loaded


@pytest.fixture(scope="module", params=sorted(PLANS))
def loaded(request: pytest.FixtureRequest) -> LoadedPlan:
    return _load(PLANS[request.param])


def test_plans_validate_with_no_errors_and_no_warnings(loaded: LoadedPlan) -> None:
    assert [str(w) for w in loaded.warnings] == []


def test_every_in_window_step_has_an_estimate(loaded: LoadedPlan) -> None:
    window = [s for p in loaded.plan.phases if p.where is Where.WINDOW for s in p.steps]
    missing = [s.id for s in window if s.estimate is None]
    assert missing == []


def test_destructive_steps_have_rollback_or_a_reason(loaded: LoadedPlan) -> None:
    steps = loaded.plan.steps()
    assert any(s.destructive for s in steps)
    bad = [s.id for s in steps if s.destructive and s.rollback is None and not s.irreversible]
    assert bad == []


def test_install_and_cluster_join_are_points_of_no_return(loaded: LoadedPlan) -> None:
    install = loaded.step("install-pve")
    assert install.point_of_no_return and install.irreversible and install.lab_effect.value == "reinstall"
    if loaded.plan.name == "off1":
        assert loaded.step("cluster-join").point_of_no_return


def test_first_boot_pins_a_new_host_key_and_the_old_rpool_is_detected(loaded: LoadedPlan) -> None:
    first = loaded.step("first-boot")
    assert first.kind is StepKind.WAIT and first.expect_new_host_key
    later = loaded.order[loaded.order.index("first-boot"):]
    assert any(c.kind == "zpool_unique" and getattr(c, "pool", "") == "rpool"
               for sid in later for c in _checks(loaded.step(sid)))


def test_window_critical_path_fits_the_window(loaded: LoadedPlan) -> None:
    plan = loaded.plan
    assert plan.window is not None
    in_window = [s.id for p in plan.phases if p.where is Where.WINDOW for s in p.steps]
    path = graph.critical_path(in_window, loaded.deps, {s.id: s.estimate for s in plan.steps()})
    assert path.unestimated == []
    assert 0 < path.seconds <= plan.window.length
    # The window is realistic: the work fills at least half of it (not a 10-minute plan in 14 h).
    assert path.seconds >= plan.window.length // 2


def test_containers_are_created_through_the_api_with_their_real_settings() -> None:
    off1 = _load(PLANS["plans/off1.yaml"])
    call = off1.step("ct102-create").call
    assert call is not None and call.method == "POST" and call.path == "/nodes/off1/lxc"
    params = call.params
    assert (params["vmid"], params["hostname"]) == (102, "mongodb")
    assert (params["cores"], params["memory"], params["swap"]) == (15, 131072, 0)
    assert params["net0"] == "name=eth0,bridge=vmbr1,ip=10.1.0.102/24,gw=10.0.0.1"
    assert params["features"] == "nesting=1" and params["onboot"] == params["protection"] == 1
    assert "debian-10" in params["ostemplate"]  # mongodb-org 4.4 has no newer build
    off2 = _load(PLANS["plans/off2.yaml"])
    proxy = off2.step("ct101-create").call
    assert proxy is not None
    # One default gateway only, on the public NIC (pitfall 3).
    assert "gw=" not in proxy.params["net0"] and "gw=213.36.253.222" in proxy.params["net1"]


def test_cluster_join_uses_the_fingerprint_read_on_off2_and_checks_it() -> None:
    off1 = _load(PLANS["plans/off1.yaml"])
    join = off1.step("cluster-join")
    assert isinstance(join.command, str)
    # The corosync link on the private address (2023-12-08 report): without --link0, pvecm add
    # takes the address off1's name resolves to.
    wanted = "pvecm add 10.0.0.2 --link0 10.0.0.1 --fingerprint {{ outputs.cluster-fingerprint.fingerprint }}"
    assert join.command.startswith(wanted)
    assert "etc-hosts" in graph.blocked_by("cluster-join", off1.deps)
    assert "cluster-fingerprint" in graph.blocked_by("cluster-join", off1.deps)
    assert any("outputs.cluster-fingerprint.fingerprint" in str(c.model_dump()) for c in join.pre)


def test_the_plans_run_unchanged_against_a_loopback_inventory(tmp_path: Path) -> None:
    """Same host names and vars keys on 127.x: every reference resolves (the lab's shape)."""
    production = yaml.safe_load((ROOT / "plans" / "inventory.yaml").read_text())
    lab: dict[str, Any] = {"name": "lab", "environment": "lab", "hosts": {}, "proxmox": {}}
    for index, (name, host) in enumerate(production["hosts"].items(), start=1):
        address = f"127.0.1.{index}"
        lab["hosts"][name] = {"address": address, "port": 2222, "private_ip": address, "public_ip": address,
                              "vars": {key: address for key in host.get("vars", {})}}
    for name, endpoint in production["proxmox"].items():
        lab["proxmox"][name] = {"url": f"https://{lab['hosts'][name]['address']}:8006", "node": name,
                                "token_id": endpoint["token_id"], "token_secret": "file:token"}
    inventory = tmp_path / "inventory.lab.yaml"
    inventory.write_text(yaml.safe_dump(lab))
    for path in PLANS.values():
        loaded = _load(path, inventory)
        assert loaded.inventory.environment.value == "lab"


def test_checks_that_connect_use_inventory_addresses(loaded: LoadedPlan) -> None:
    """A literal address in a tcp_open would reach production from a lab rehearsal."""
    raw = yaml.safe_load(PLANS[f"plans/{loaded.plan.name}.yaml"].read_text())
    for phase in raw["phases"]:
        for step in phase["steps"]:
            until = [step["until"]] if "until" in step else []
            for check in [*step.get("pre", []), *step.get("post", []), *until]:
                if check["kind"] in ("tcp_open", "tcp_closed"):
                    assert not IP.search(str(check["address"])), (step["id"], check["address"])


# --- docs/pitfalls.md -----------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    number: str
    pitfall: str
    plan: str
    step: str
    check: str
    fault: str


def _rows() -> list[Row]:
    rows = []
    for line in PITFALLS.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.startswith("|") or len(cells) != 7 or cells[0] in ("#", "---"):
            continue
        rows.append(Row(*cells[:6]))
    return rows


def _checks(step: Step) -> list[Check]:
    return [*step.pre, *step.post, *([step.until] if step.until is not None else [])]


def test_pitfall_table_covers_all_27_pitfalls() -> None:
    numbers = {re.match(r"\d+", r.number).group(0) for r in _rows() if re.match(r"\d+", r.number)}  # type: ignore[union-attr]
    assert numbers == {str(n) for n in range(1, 28)}


def test_pitfall_rows_name_existing_steps_with_that_check() -> None:
    plans = {name: _load(path) for name, path in PLANS.items()}
    checked = 0
    for row in _rows():
        assert row.fault in LAB_FAULTS | {"-"}, row
        assert row.plan in {*PLANS, "plans/stunnel.yaml", "-"}, row
        if row.plan not in plans or row.step == "-":
            continue
        step = plans[row.plan].step(row.step)  # KeyError names a step that does not exist
        if row.check != "-":
            kinds = {c.kind for c in _checks(step)}
            assert row.check in kinds, f"{row.plan} {row.step} has {sorted(kinds)}, not {row.check}"
            checked += 1
    assert checked >= 40


def test_stunnel_pitfalls_point_at_the_stunnel_plan() -> None:
    for row in _rows():
        if row.number in {"16", "17", "18"}:
            assert row.plan == "plans/stunnel.yaml"


def test_a_lab_fault_row_names_a_check_the_fault_can_trip() -> None:
    """A fault rehearses a guard only if the guard is an automatic check."""
    for row in _rows():
        if row.fault != "-":
            assert row.check != "-", row



def test_rpool_resize_runs_on_a_small_rpool_and_leaves_a_big_one_alone() -> None:
    """off2's rpool-resize is done only when rpool is already 60G or more (it was inverted:
    a mark_done pre-check marked a 13G rpool done and resized a 64G one)."""
    step = _load(PLANS["plans/off2.yaml"]).step("rpool-resize")
    recorded = ROOT / "tests" / "data" / "checks" / "zpool_healthy"
    small = ProbeOutput(**json.loads((recorded / "fail_rpool_too_small.json").read_text())["output"])
    big = ProbeOutput(**json.loads((recorded / "pass_rpool_mirror_min_size.json").read_text())["output"])
    assert [evaluate(c, small).outcome for c in step.done_when] == [Outcome.DOES_NOT_HOLD]  # resize it
    assert [evaluate(c, big).outcome for c in step.done_when] == [Outcome.HOLDS]  # already done
