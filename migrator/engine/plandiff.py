"""What changed in a plan since a run started: step-level diff of step fingerprints."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PlanDiff:
    added: list[str]
    removed: list[str]
    changed: list[str]

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def lines(self) -> list[str]:
        return (
            [f"+ {sid} (added)" for sid in self.added]
            + [f"- {sid} (removed)" for sid in self.removed]
            + [f"~ {sid} (changed)" for sid in self.changed]
        )


def step_hashes(loaded: Any) -> dict[str, str]:
    """Fingerprint of each step of a loaded plan (``step_fingerprints`` when the loader has them)."""
    prints = getattr(loaded, "step_fingerprints", None)
    if prints:
        return dict(prints)
    return {
        sid: hashlib.sha256(loaded.step(sid).model_dump_json().encode()).hexdigest() for sid in loaded.order
    }


def diff_steps(old: dict[str, str], new: dict[str, str], new_order: list[str]) -> PlanDiff:
    return PlanDiff(
        added=[sid for sid in new_order if sid not in old],
        removed=sorted(sid for sid in old if sid not in new),
        changed=[sid for sid in new_order if sid in old and old[sid] != new[sid]],
    )
