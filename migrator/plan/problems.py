"""Validation problems: what is wrong, where, and what to do, as data."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from migrator.plan.source import Position


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Problem:
    severity: Severity
    message: str
    position: Position
    step_id: str | None = None
    hint: str | None = None
    root: bool = False
    """A root cause (a YAML problem: syntax, duplicate key, tag): listed before what follows from it."""

    def __str__(self) -> str:
        step = f"step {self.step_id}: " if self.step_id else ""
        hint = f" ({self.hint})" if self.hint else ""
        return f"{self.position}: {self.severity.value}: {step}{self.message}{hint}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "severity": self.severity.value,
            "file": self.position.file,
            "line": self.position.line,
            "column": self.position.column,
            "step": self.step_id,
            "message": self.message,
            "hint": self.hint,
        }


def errors(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity is Severity.ERROR]


def sort_problems(problems: list[Problem]) -> list[Problem]:
    """By file, root causes first, then line, column; errors before warnings on the same spot.

    A problem at the very spot of a root cause (``!!bool sometimes`` refused, then "must be true
    or false") is its consequence and is left out.
    """
    roots = {p.position for p in problems if p.root}
    kept = [p for p in problems if p.root or p.position not in roots]
    return sorted(
        kept,
        key=lambda p: (
            p.position.file,
            not p.root,
            p.position.line,
            p.position.column,
            p.severity is Severity.WARNING,
        ),
    )
