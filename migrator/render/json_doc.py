"""The plan as a stable JSON document for scripts and other tools.

Shape (``format`` is bumped on any incompatible change)::

    {"format": "migrator.plan/1", "plan": {...}, "inventory": {...}, "phases": [...],
     "steps": [{...every step field..., "phase", "number", "line", "fingerprint"}],
     "order": [...], "deps": {...}, "estimates": {...}, "summary": {...}, "warnings": [...]}

Step fields are the plan's own (durations written as in YAML, ``10m``); every computed
duration (estimates, summary) is in seconds.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from migrator.estimates import Estimate, summarize
from migrator.render.words import action_line, estimates_or_written, markers_of

if TYPE_CHECKING:
    from migrator.plan.load import LoadedPlan

FORMAT = "migrator.plan/1"


def plan_document(loaded: LoadedPlan, *, estimates: Mapping[str, Estimate] | None = None) -> dict[str, Any]:
    """The JSON document as plain data (``render_json`` serialises it)."""
    chosen = estimates_or_written(loaded.plan, estimates)
    plan = loaded.plan
    steps = []
    for number, step in enumerate(plan.steps(), start=1):
        steps.append({
            **step.model_dump(mode="json"),
            "phase": loaded.phase(step.id).id,
            "number": number,
            "line": loaded.line_of(step.id),
            "fingerprint": loaded.step_fingerprints.get(step.id),
            "action": action_line(step),
            "markers": [m.key for m in markers_of(step)],
        })
    return {
        "format": FORMAT,
        "plan": {
            "name": plan.name,
            "title": plan.title,
            "description": plan.description,
            "path": str(loaded.path),
            "fingerprint": loaded.fingerprint,
            "window": plan.window.model_dump(mode="json") if plan.window else None,
            "window_seconds": plan.window.length if plan.window else None,
            "params": dict(plan.params),
        },
        "inventory": {
            "name": loaded.inventory.name,
            "environment": loaded.inventory.environment.value,
            "path": str(loaded.inventory_path),
        },
        "phases": [
            {"id": p.id, "title": p.title, "where": p.where.value, "steps": [s.id for s in p.steps]}
            for p in plan.phases
        ],
        "steps": steps,
        "order": list(loaded.order),
        "deps": {step_id: list(needs) for step_id, needs in loaded.deps.items()},
        "estimates": {
            step_id: {**asdict(estimate), "label": estimate.label()} for step_id, estimate in chosen.items()
        },
        "summary": asdict(summarize(loaded, chosen)),
        "warnings": [problem.as_dict() for problem in loaded.warnings],
    }


def render_json(loaded: LoadedPlan, *, estimates: Mapping[str, Estimate] | None = None) -> str:
    return json.dumps(plan_document(loaded, estimates=estimates), indent=2, ensure_ascii=False) + "\n"
