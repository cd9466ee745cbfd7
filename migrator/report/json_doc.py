"""The change record (and a comparison) as JSON: the facts, for scripts and archives."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from typing import Any

from migrator.report.compare import compare
from migrator.report.facts import RunFacts

FORMAT_VERSION = 1


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def run_document(facts: RunFacts) -> dict[str, Any]:
    doc: dict[str, Any] = {"format": "migrator-change-record", "version": FORMAT_VERSION, **_plain(facts)}
    doc["rollback_total"] = facts.rollback_total
    for step in doc["steps"]:
        step["log_command"] = f"migrator log {facts.run_id} --step {step['id']}"
    return doc


def render_run_json(facts: RunFacts) -> str:
    return json.dumps(run_document(facts), indent=2, ensure_ascii=False) + "\n"


def render_compare_json(a: RunFacts, b: RunFacts) -> str:
    doc = {
        "format": "migrator-run-comparison",
        "version": FORMAT_VERSION,
        "run_a": run_document(a),
        "run_b": run_document(b),
        "steps": _plain(compare(a, b)),
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
