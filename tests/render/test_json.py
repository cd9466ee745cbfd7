"""The JSON document: stable, complete, and faithful to the loaded plan."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from migrator.estimates import learned
from migrator.plan.load import LoadedPlan, load_plan
from migrator.render import render_json
from tests.render.plans import ssh, write_plan

OFF1 = Path(__file__).resolve().parent / "data" / "off1-skeleton.yaml"  # frozen: the figures depend on it


@pytest.fixture(scope="module")
def off1() -> LoadedPlan:
    return load_plan(OFF1)


def test_round_trips_and_carries_order_and_deps(off1: LoadedPlan) -> None:
    doc = json.loads(render_json(off1))
    assert doc["format"] == "migrator.plan/1"
    assert doc["order"] == off1.order
    assert doc["deps"] == off1.deps
    assert [s["id"] for s in doc["steps"]] == [s.id for s in off1.plan.steps()]
    assert [p["where"] for p in doc["phases"]] == ["before", "window", "after"]
    assert doc["plan"]["fingerprint"] == off1.fingerprint
    assert doc["inventory"] == {"name": "production", "environment": "production",
                                "path": str(off1.inventory_path)}


def test_fingerprints_are_the_digests_of_the_resolved_dumps(off1: LoadedPlan) -> None:
    """Streamed and computed on first use, the digests are still those of the whole dump."""
    whole = json.dumps(off1.plan.model_dump(mode="json"), sort_keys=True, default=str)
    assert off1.fingerprint == hashlib.sha256(whole.encode()).hexdigest()
    for step in off1.plan.steps():
        text = json.dumps(step.model_dump(mode="json"), sort_keys=True, default=str)
        assert off1.step_fingerprints[step.id] == hashlib.sha256(text.encode()).hexdigest()
        assert "{{ hosts." not in text  # of the resolved steps


def test_steps_carry_every_field(off1: LoadedPlan) -> None:
    steps = {s["id"]: s for s in json.loads(render_json(off1))["steps"]}
    zfs = steps["zfs-hdd-create"]
    assert zfs["destructive"] is True
    assert zfs["rollback"] == {"command": "zpool destroy zfs-hdd", "instructions": None, "estimate": "1m"}
    assert zfs["done_when"][0]["kind"] == "zfs_dataset" and zfs["done_when"][0]["dataset"] == "zfs-hdd"
    assert zfs["phase"] == "window" and zfs["number"] == 8
    assert zfs["line"] == off1.line_of("zfs-hdd-create")
    assert zfs["fingerprint"] == off1.step_fingerprints["zfs-hdd-create"]
    assert zfs["markers"] == ["destructive"]
    assert steps["hardware"]["markers"] == ["manual", "irreversible", "point_of_no_return"]
    assert steps["hardware"]["checklist"] == list(off1.step("hardware").checklist)
    assert set(steps["first-boot"]) >= {"until", "interval", "timeout", "expect_new_host_key"}


def test_estimates_and_summary_are_in_seconds(off1: LoadedPlan) -> None:
    doc = json.loads(render_json(off1, estimates=learned(off1.plan, {"hardware": [3600, 7200]})))
    assert doc["estimates"]["hardware"] == {"seconds": 5400, "measured": True, "count": 2,
                                            "label": "1h30m (measured, n=2)"}
    assert doc["estimates"]["install-pve"] == {"seconds": 2700, "measured": False, "count": 0, "label": "45m"}
    summary = doc["summary"]
    assert summary["downtime_seconds"] == 5400 + 2700 + 600 + 300 + 300 + 600
    assert summary["window_seconds"] == 36000
    assert summary["slack_seconds"] == 36000 - summary["downtime_seconds"]
    assert summary["critical_path"][0] == "hardware"


def test_is_stable_between_two_renders(off1: LoadedPlan) -> None:
    assert render_json(off1) == render_json(off1)


def test_warnings_and_unknown_estimates(tmp_path: Path) -> None:
    loaded = write_plan(tmp_path, window=[ssh("a", "5m"), ssh("b")], length=None)
    doc = json.loads(render_json(loaded))
    assert doc["estimates"]["b"] == {"seconds": None, "measured": False, "count": 0, "label": "?"}
    assert doc["summary"]["unestimated"] == ["b"]
    assert doc["summary"]["slack_seconds"] is None
    assert doc["plan"]["window"] is None
    assert any(w["step"] == "b" and w["severity"] == "warning" for w in doc["warnings"])
