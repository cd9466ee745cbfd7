"""Small hand-made plans for the render tests, written as real YAML files and loaded for real."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from migrator.plan.load import LoadedPlan, load_plan

INVENTORY = {
    "name": "lab",
    "environment": "lab",
    "hosts": {
        "alpha": {"address": "127.0.0.1", "port": 2201},
        "beta": {"address": "127.0.0.2", "port": 2202},
    },
}


def ssh(step_id: str, estimate: str | None = None, **extra: Any) -> dict[str, Any]:
    """A plain ssh step on alpha."""
    step: dict[str, Any] = {"id": step_id, "title": f"Step {step_id}", "kind": "ssh", "host": "alpha",
                            "command": f"echo {step_id}", **extra}
    if estimate is not None:
        step["estimate"] = estimate
    return step


def write_plan(
    tmp_path: Path,
    *,
    window: list[dict[str, Any]],
    before: list[dict[str, Any]] | None = None,
    after: list[dict[str, Any]] | None = None,
    length: str | None = "2h",
    title: str = "A small plan",
) -> LoadedPlan:
    """Write a plan (phases before/window/after) and its inventory under ``tmp_path``, then load it."""
    phases = []
    for phase_id, where, steps in (("prep", "before", before), ("down", "window", window),
                                   ("tidy", "after", after)):
        if steps is not None:
            phases.append({"id": phase_id, "title": f"Phase {phase_id}", "where": where, "steps": steps})
    plan: dict[str, Any] = {"name": "small", "title": title, "inventory": "inventory.yaml", "phases": phases}
    if length is not None:
        plan["window"] = {"start": "2026-03-01T08:00:00+01:00", "length": length}
    (tmp_path / "inventory.yaml").write_text(yaml.safe_dump(INVENTORY))
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump(plan, sort_keys=False))
    return load_plan(path)
