"""plans/stunnel.yaml validates clean, and plan validation enforces the January 2024 invariant."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from migrator.plan.load import check_plan, load_plan
from migrator.plan.model import StepKind
from migrator.plan.problems import errors

PLANS = Path(__file__).resolve().parents[2] / "plans"
ROLLOUT = ["MongoDB", "OffRedis", "InfluxDB", "Robotoff", "off-query"]


def test_the_stunnel_plan_validates_clean() -> None:
    loaded, problems = check_plan(PLANS / "stunnel.yaml")

    assert problems == []
    assert loaded is not None
    steps = loaded.plan.steps()
    assert loaded.order.index("mongodb-psk") < loaded.order.index("mongodb-server-config")
    psk_order = [s.stunnel.service for s in steps if s.stunnel and s.stunnel.action == "psk"]
    assert psk_order == ROLLOUT


def test_each_tunnel_passes_before_its_old_rules_go() -> None:
    loaded = load_plan(PLANS / "stunnel.yaml")
    order = loaded.order
    for removal in ("mongodb-remove-ip-filter", "mongodb-remove-iptables-proxy"):
        step = loaded.step(removal)
        assert order.index("mongodb-probe-ovh1-ct113") < order.index(removal)
        assert step.rollback is not None and step.rollback.command is not None
        assert any("nc -z" in str(c.model_dump().get("command")) for c in step.pre)
    for step in loaded.plan.steps():
        if step.stunnel and step.stunnel.action == "config":
            assert step.stunnel.restart and "cuts every tunnel" in (step.description or "")


def test_client_verify_steps_check_listeners_on_private_addresses_only() -> None:
    loaded = load_plan(PLANS / "stunnel.yaml")
    client_verifies = [s for s in loaded.plan.steps()
                       if s.kind is StepKind.STUNNEL and "-client-" in s.id and s.id.endswith("-verify")]
    assert len(client_verifies) == 7  # 2 + 2 + 1 + 1 + 1 clients
    for step in client_verifies:
        kinds = [c.kind for c in step.post]
        assert kinds == ["listening_only_on"]


def _copy_plans(tmp_path: Path) -> Path:
    for name in ("stunnel.yaml", "inventory.yaml", "tunnels.yaml"):
        shutil.copy(PLANS / name, tmp_path / name)
    return tmp_path / "stunnel.yaml"


def test_a_wildcard_client_accept_is_refused_at_the_steps_line(tmp_path: Path) -> None:
    plan = _copy_plans(tmp_path)
    tunnels = tmp_path / "tunnels.yaml"
    text = tunnels.read_text()
    assert text.count("accept: 10.1.0.113:27017") == 1
    tunnels.write_text(text.replace("accept: 10.1.0.113:27017", "accept: 0.0.0.0:27017"))
    bad_line = next(n for n, line in enumerate(tunnels.read_text().splitlines(), start=1)
                    if "accept: 0.0.0.0:27017" in line)

    loaded, problems = check_plan(plan)

    assert loaded is None
    found = errors(problems)
    assert len(found) == 1, "\n".join(map(str, found))
    problem = found[0]
    step_line = plan.read_text().splitlines().index(
        '        stunnel: {action: psk, service: MongoDB, tunnels: "{{ params.tunnels }}"}') + 1
    assert (problem.position.file, problem.position.line) == (str(plan), step_line)
    assert problem.step_id == "mongodb-psk"
    assert f"tunnels.yaml:{bad_line}: service MongoDB on host ovh1/ct:113" in problem.message
    assert "binds every interface" in problem.message


def _plan(tmp_path: Path, step: str) -> Path:
    shutil.copy(PLANS / "tunnels.yaml", tmp_path / "tunnels.yaml")
    (tmp_path / "inventory.yaml").write_text(
        "name: t\nenvironment: lab\nhosts:\n  off2: {address: 127.0.0.1}\n  ovh1: {address: 127.0.0.1}\n")
    plan = tmp_path / "p.yaml"
    plan.write_text("name: p\ntitle: t\ninventory: inventory.yaml\nphases:\n"
                    "  - id: ph\n    title: t\n    where: before\n    steps:\n" + step)
    return plan


@pytest.mark.parametrize(("step", "line", "message"), [
    ("      - {id: s, title: t, host: off2/ct:101, kind: stunnel}\n",
     9, "a stunnel step needs stunnel: the action and the tunnel inventory"),
    ("      - {id: s, title: t, host: off2/ct:101, kind: stunnel,\n"
     "         stunnel: {action: psk, tunnels: tunnels.yaml}}\n",
     10, "stunnel action psk needs service: the tunnel whose PSK it sets"),
    ("      - {id: s, title: t, host: ovh1/ct:113, kind: stunnel,\n"
     "         stunnel: {action: psk, service: MongoDB, tunnels: tunnels.yaml}}\n",
     9, "the PSK of MongoDB is set from its server off2/ct:101, not ovh1/ct:113"),
    ("      - {id: s, title: t, host: off2/ct:101, kind: stunnel,\n"
     "         stunnel: {action: psk, service: MongoBD, tunnels: tunnels.yaml}}\n",
     10, "no service 'MongoBD' in tunnels.yaml (did you mean 'MongoDB'?)"),
    ("      - {id: s, title: t, host: off2/ct:101, kind: stunnel,\n"
     "         stunnel: {action: config, tunnels: tunnel.yaml}}\n",
     10, "tunnel inventory 'tunnel.yaml' not found"),
    ("      - {id: s, title: t, host: off2/ct:101, kind: stunnel,\n"
     "         stunnel: {action: config, tunnels: tunnels.yaml, services: [InfluxDB]}}\n",
     10, "service 'InfluxDB' has no end on off2/ct:101 in tunnels.yaml"),
    ("      - {id: s, title: t, host: off2/ct:101, kind: ssh, command: 'true',\n"
     "         stunnel: {action: verify, tunnels: tunnels.yaml}}\n",
     10, "a ssh step has no stunnel action"),
])
def test_stunnel_step_mistakes_are_reported_at_their_line(tmp_path: Path, step: str, line: int,
                                                         message: str) -> None:
    plan = _plan(tmp_path, step)

    _, problems = check_plan(plan)

    found = errors(problems)
    assert [(p.position.line, p.message.startswith(message)) for p in found] == [(line, True)], \
        "\n".join(map(str, found))
